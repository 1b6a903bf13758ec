"""Search spaces and study settings: validated once at creation, stored as plain JSON.

A space maps parameter names to one of::

    {"type": "float", "low": -5.0, "high": 10.0, "log": false}
    {"type": "int", "low": 1, "high": 64, "step": 1}
    {"type": "categorical", "choices": ["relu", "gelu", 0.5, null]}

Guarantees and caveats
----------------------
- Every refusal is an :class:`InvalidSearchSpace` (400) naming the field at fault
  (``space.<param>.<key>``), or :class:`InvalidStudy` for the sampler, pruner and budget: an
  empty space, ``low >= high``, ``log`` with ``low <= 0``, a step wider than the range, more than
  ``max_params`` parameters or ``max_choices`` choices, repeated or non-scalar choices, unknown keys.
- :func:`check_space` returns the canonical form (every key present, numbers as the type says),
  which is what a study stores and what :func:`distributions` turns into Optuna's; a stored space
  never changes, so every stored trial's params stay inside it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from aria_actors.tune.errors import InvalidSearchSpace, InvalidStudy

STUDY_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
PARAM = r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"
DIRECTIONS = ("minimize", "maximize")
# Each sampler's and pruner's settings by name (the first name is the default).
SAMPLER_KEYS = {"tpe": {"seed", "n_startup_trials", "multivariate"}, "random": {"seed"},
                "gp": {"seed", "n_startup_trials"}, "auto": {"seed", "n_startup_trials", "multivariate", "gp_trials"}}
PRUNER_KEYS = {"median": {"n_startup_trials", "n_warmup_steps", "interval_steps", "n_min_trials"},
               "asha": {"min_resource", "reduction_factor", "min_early_stopping_rate", "bootstrap_count"},
               "none": set()}
SAMPLERS = tuple(SAMPLER_KEYS)
PRUNERS = tuple(PRUNER_KEYS)
MAX_SEED = 2**32 - 1
MAX_CHOICE_CHARS = 256
_KEYS = {"float": {"type", "low", "high", "log"}, "int": {"type", "low", "high", "step"},
         "categorical": {"type", "choices"}}


MAX_INT = 2**53  # Optuna samples ints through floats: larger bounds lose precision or overflow


def finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite number (not a bool), else None; a huge int raises
    OverflowError (a trial's result: its failure)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _number(value: Any, field: str, *, integer: bool = False) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            (isinstance(value, float) and not math.isfinite(value)):
        raise InvalidSearchSpace(f"{field} must be a finite number", field=field)
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise InvalidSearchSpace(f"{field} must be within ±2**53", field=field)
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise InvalidSearchSpace(f"{field} must be an integer", field=field)
        return int(value)
    return float(value)


def _param(name: str, spec: Any, max_choices: int) -> dict[str, Any]:
    where = f"space.{name}"
    if not isinstance(spec, dict):
        raise InvalidSearchSpace(f"{where} must be an object with a type (float, int or categorical)", field=where)
    kind = spec.get("type")
    if kind not in _KEYS:
        raise InvalidSearchSpace(f"{where}.type must be float, int or categorical", field=f"{where}.type")
    unknown = sorted(set(spec) - _KEYS[kind])
    if unknown:
        raise InvalidSearchSpace(f"{where} has unknown key {unknown[0]!r} for a {kind} parameter "
                                 f"(allowed: {sorted(_KEYS[kind])})", field=f"{where}.{unknown[0]}")
    if kind == "categorical":
        return {"type": kind, "choices": _choices(spec.get("choices"), f"{where}.choices", max_choices)}
    integer = kind == "int"
    for key in ("low", "high"):
        if key not in spec:
            raise InvalidSearchSpace(f"{where}.{key} is required for a {kind} parameter", field=f"{where}.{key}")
    low = _number(spec["low"], f"{where}.low", integer=integer)
    high = _number(spec["high"], f"{where}.high", integer=integer)
    if low >= high:
        raise InvalidSearchSpace(f"{where}: low ({low}) must be below high ({high})", field=f"{where}.high")
    if integer and max(abs(low), abs(high)) > MAX_INT:
        raise InvalidSearchSpace(f"{where}: int bounds must be within ±2**53", field=f"{where}.high")
    if not integer and not math.isfinite(high - low):
        raise InvalidSearchSpace(f"{where}: high - low overflows a float", field=f"{where}.high")
    if integer:
        step = _number(spec.get("step", 1), f"{where}.step", integer=True)
        if not 1 <= step <= high - low:
            raise InvalidSearchSpace(f"{where}.step must be from 1 to high - low ({high - low})", field=f"{where}.step")
        return {"type": kind, "low": low, "high": high, "step": step}
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise InvalidSearchSpace(f"{where}.log must be true or false", field=f"{where}.log")
    if log and low <= 0:
        raise InvalidSearchSpace(f"{where}: a log-scaled range needs low > 0 (got {low})", field=f"{where}.low")
    return {"type": kind, "low": low, "high": high, "log": log}


def _choices(choices: Any, field: str, limit: int) -> list[Any]:
    if not isinstance(choices, list) or len(choices) < 2:
        raise InvalidSearchSpace(f"{field} must be a list of at least 2 choices (one choice is a constant: leave "
                                 "it out of the space)", field=field)
    if len(choices) > limit:
        raise InvalidSearchSpace(f"{field} has {len(choices)} choices; at most {limit}", field=field, limit=limit)
    seen: set[tuple[str, Any]] = set()
    for i, c in enumerate(choices):
        ok = c is None or isinstance(c, bool | int | str) or (isinstance(c, float) and math.isfinite(c))
        if not ok or (isinstance(c, str) and len(c) > MAX_CHOICE_CHARS):
            raise InvalidSearchSpace(f"{field}[{i}] must be a string (at most {MAX_CHOICE_CHARS} characters), "
                                     "a finite number, a boolean or null", field=f"{field}[{i}]")
        key = (type(c).__name__, c)
        if key in seen or any(c == other and c is not other for _, other in seen):
            # 1, 1.0 and True are equal in Python: Optuna could not tell them apart
            raise InvalidSearchSpace(f"{field}[{i}] repeats the choice {c!r}", field=f"{field}[{i}]")
        seen.add(key)
    return list(choices)


def check_space(space: Any, max_params: int = 32, max_choices: int = 64) -> dict[str, dict[str, Any]]:
    """The canonical form of ``space``; :class:`InvalidSearchSpace` naming the field otherwise."""
    if not isinstance(space, dict) or not space:
        raise InvalidSearchSpace("space must be an object of 1 or more parameters", field="space")
    if len(space) > max_params:
        raise InvalidSearchSpace(f"space has {len(space)} parameters; at most {max_params}", field="space",
                                 limit=max_params)
    out = {}
    for name, spec in space.items():
        if not isinstance(name, str) or not re.fullmatch(PARAM, name):
            raise InvalidSearchSpace(f"parameter name {name!r} must be 1-64 letters, digits and _.- (a letter or _ "
                                     "first)", field=f"space.{name}")
        out[name] = _param(name, spec, max_choices)
    return out


def contains(space: dict[str, dict[str, Any]], params: dict[str, Any]) -> bool:
    """Whether ``params`` is a point of ``space`` (every parameter, each inside its range)."""
    if set(params) != set(space):
        return False
    for name, spec in space.items():
        v = params[name]
        if spec["type"] == "categorical":
            if v not in spec["choices"]:
                return False
        elif isinstance(v, bool) or not isinstance(v, int | float) or not spec["low"] <= v <= spec["high"]:
            return False
    return True


def check_direction(direction: Any) -> str:
    if direction not in DIRECTIONS:
        raise InvalidStudy(f"direction must be one of {list(DIRECTIONS)}", field="direction")
    return str(direction)


def _int_setting(settings: dict[str, Any], key: str, default: int, low: int, high: int, field: str) -> int:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidStudy(f"{field}.{key} must be an integer from {low} to {high}", field=f"{field}.{key}")
    return value


def _settings(value: Any, field: str, keys: Mapping[str, set[str]]) -> dict[str, Any]:
    """``value`` (a name, an object with one, or null for the first name) with only the settings of
    the one it names; a 400 naming the first bad field otherwise."""
    names = tuple(keys)
    if value is None:
        value = {}
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        raise InvalidStudy(f"{field} must be an object with a name ({', '.join(names)}) and settings", field=field)
    name = value.get("name", names[0])
    if name not in names:
        raise InvalidStudy(f"{field}.name must be one of {list(names)}", field=f"{field}.name")
    extra = sorted(set(value) - keys[name] - {"name"})
    if extra:
        takes = ", ".join(sorted(keys[name])) or "none"
        raise InvalidStudy(f"{field}.{extra[0]} is not a setting of {field} {name!r} (it takes {takes})",
                           field=f"{field}.{extra[0]}")
    return {**value, "name": name}


def check_sampler(value: Any) -> dict[str, Any]:
    """``{"name": "tpe"|"random"|"gp"|"auto", "seed": int|null, "n_startup_trials": int,
    "multivariate": bool|null, "gp_trials": int}`` (``n_startup_trials`` for tpe, gp and auto,
    ``multivariate`` for tpe and auto: null is Optuna's own default, the multivariate TPE for one
    objective and the independent one for several; ``gp_trials`` (trials sampled by GP before TPE)
    for auto); a bare name is its defaults."""
    raw = _settings(value, "sampler", SAMPLER_KEYS)
    seed = raw.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED):
        raise InvalidStudy(f"sampler.seed must be an integer from 0 to {MAX_SEED}, or null", field="sampler.seed")
    name = raw["name"]
    allowed = SAMPLER_KEYS[name]
    out: dict[str, Any] = {"name": name, "seed": seed}
    if "n_startup_trials" in allowed:
        out["n_startup_trials"] = _int_setting(raw, "n_startup_trials", 10, 0, 10_000, "sampler")
    if "multivariate" in allowed:
        multivariate = raw.get("multivariate")
        if multivariate is not None and not isinstance(multivariate, bool):
            raise InvalidStudy("sampler.multivariate must be true, false or null (Optuna's default)",
                               field="sampler.multivariate")
        out["multivariate"] = multivariate
    if "gp_trials" in allowed:
        # GP's ask fits a model cubic in the trials: past a few hundred TPE is the only sane choice
        out["gp_trials"] = _int_setting(raw, "gp_trials", 100, 0, 500, "sampler")
    return out


def check_pruner(value: Any) -> dict[str, Any]:
    """``{"name": "median", "n_startup_trials": 5, "n_warmup_steps": 0, "interval_steps": 1,
    "n_min_trials": 1}`` (Optuna's MedianPruner's settings), ``{"name": "asha", "min_resource": 1,
    "reduction_factor": 3, "min_early_stopping_rate": 0, "bootstrap_count": 0}`` (Optuna's
    SuccessiveHalvingPruner's) or ``{"name": "none"}``."""
    raw = _settings(value, "pruner", PRUNER_KEYS)
    if raw["name"] == "none":
        return {"name": "none"}
    if raw["name"] == "asha":
        return {"name": "asha",
                "min_resource": _int_setting(raw, "min_resource", 1, 1, 1_000_000, "pruner"),
                "reduction_factor": _int_setting(raw, "reduction_factor", 3, 2, 100, "pruner"),
                "min_early_stopping_rate": _int_setting(raw, "min_early_stopping_rate", 0, 0, 30, "pruner"),
                "bootstrap_count": _int_setting(raw, "bootstrap_count", 0, 0, 10_000, "pruner")}
    return {"name": "median",
            "n_startup_trials": _int_setting(raw, "n_startup_trials", 5, 0, 10_000, "pruner"),
            "n_warmup_steps": _int_setting(raw, "n_warmup_steps", 0, 0, 1_000_000, "pruner"),
            "interval_steps": _int_setting(raw, "interval_steps", 1, 1, 1_000_000, "pruner"),
            "n_min_trials": _int_setting(raw, "n_min_trials", 1, 1, 10_000, "pruner")}


def check_count(value: Any, field: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise InvalidStudy(f"{field} must be an integer from 1 to {high}", field=field, limit=high)
    return value
