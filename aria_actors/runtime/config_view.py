"""What ``aria config`` shows: every setting of the tree, where it came from, secrets masked.

Ray-free and cheap: it reads a loaded :class:`~aria_actors.runtime.settings.AriaSettings`, the
environment and ``aria.toml`` (to tell each value's source), nothing else.

- A row is ``(section, key, value, source, variable)``: section ``aria`` holds the top-level keys,
  the others are the services' sections; value is JSON text; source is ``env``, ``toml`` or
  ``default``; variable is the key's environment name (``ARIA_STORAGE_SYNC_TARGETS``).
- Secrets (``SecretStr``) show as ``**********`` when set and ``""`` when empty; passwords inside
  URLs (``postgresql://u:***@h/db``) are masked in every value, dicts and lists included.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from pydantic import BaseModel, SecretStr

from aria_actors.runtime.section import ENV_PREFIX, env_prefix, read_toml, toml_path
from aria_actors.runtime.settings import AriaSettings, mask_text, sections

TOP = "aria"  # the section name shown for the top-level keys
MASK = "**********"


class Row(NamedTuple):
    section: str
    key: str
    value: str
    source: str
    variable: str


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _values(model: BaseModel, skip: frozenset[str] = frozenset()) -> Iterator[tuple[str, Any]]:
    dump = model.model_dump(mode="json")
    for name in type(model).model_fields:
        if name in skip:
            continue
        raw = getattr(model, name)
        if isinstance(raw, SecretStr):
            yield name, MASK if raw.get_secret_value() else ""
        else:
            yield name, _masked(dump[name])


def _entries(settings: AriaSettings, environ: Mapping[str, str] | None = None,
             toml: Mapping[str, Any] | None = None) -> Iterator[tuple[str, str, Any, str, str]]:
    env = {k.upper() for k in (os.environ if environ is None else environ)}
    toml = read_toml() if toml is None else toml
    names = sections()
    tables: list[tuple[str, BaseModel, str, Mapping[str, Any], frozenset[str]]] = [
        (TOP, settings, ENV_PREFIX, toml, frozenset(names))]
    for name in names:
        table = toml.get(name)
        tables.append((name, getattr(settings, name), env_prefix(name),
                       table if isinstance(table, dict) else {}, frozenset()))
    for section, model, prefix, in_toml, skip in tables:
        for key, value in _values(model, skip):
            variable = f"{prefix}{key.upper()}"
            source = "env" if variable in env else "toml" if key in in_toml else "default"
            yield section, key, value, source, variable


def render_rows(settings: AriaSettings, environ: Mapping[str, str] | None = None,
                toml: Mapping[str, Any] | None = None) -> list[Row]:
    """Every setting as a :class:`Row`, top-level keys first, then each section in tree order."""
    return [Row(s, k, json.dumps(v, ensure_ascii=False), src, var)
            for s, k, v, src, var in _entries(settings, environ, toml)]


def as_json(settings: AriaSettings, environ: Mapping[str, str] | None = None,
            toml: Mapping[str, Any] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """``{section: {key: {"value", "source", "env"}}}``, secrets masked."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for s, k, v, src, var in _entries(settings, environ, toml):
        out.setdefault(s, {})[k] = {"value": v, "source": src, "env": var}
    return out


def render_text(settings: AriaSettings, environ: Mapping[str, str] | None = None,
                toml: Mapping[str, Any] | None = None) -> str:
    """The table ``aria config`` prints: section, key, source, value (last, as it may be long)."""
    rows = render_rows(settings, environ, toml)
    path = toml_path()
    head = (f"# settings in force: environment > {path}{'' if path.is_file() else ' (absent)'} > defaults; "
            f"environment names ARIA_<KEY> and ARIA_<SECTION>_<KEY>, toml [section] key")
    ws = max(len(r.section) for r in rows)
    wk = max(len(r.key) for r in rows)
    lines = [head, f"{'SECTION':<{ws}}  {'KEY':<{wk}}  {'SOURCE':<7}  VALUE"]
    lines += [f"{r.section:<{ws}}  {r.key:<{wk}}  {r.source:<7}  {r.value}" for r in rows]
    return "\n".join(lines)
