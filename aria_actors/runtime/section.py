"""The base of every service's settings section, and where ``aria.toml`` is.

A section is one table of the settings tree (:class:`~aria_actors.runtime.settings.AriaSettings`):
``[storage]`` in ``aria.toml``, ``ARIA_STORAGE_<KEY>`` in the environment. Built on its own
(``StorageSettings()``) a section reads the same places: keyword arguments > ``ARIA_<SECTION>_*``
> its table of ``aria.toml`` > defaults, so code that builds one directly agrees with the tree.

Unknown keys are refused (``extra="forbid"``): in the toml table always; in the environment when
the tree is loaded (``load_settings``), which is what ``aria up`` and ``aria config`` do.

Kept free of the tree and of every service so that each service's ``config.py`` can import it.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar

from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "ARIA_"


# Set while the tree is built: its own sources have read the environment and the file already,
# so a section validated inside it takes only what the tree hands it (and each bad key is reported).
_IN_TREE: ContextVar[bool] = ContextVar("aria_settings_in_tree", default=False)


def toml_path() -> Path:
    """The settings file: ``ARIA_CONFIG``, else ``./aria.toml`` (absent is fine)."""
    return Path(os.environ.get("ARIA_CONFIG", "aria.toml"))


def read_toml(path: Path | None = None) -> dict[str, Any]:
    """The settings file's content; ``{}`` when there is none. Malformed: ``TOMLDecodeError``."""
    path = toml_path() if path is None else path
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        return tomllib.load(f)


@contextlib.contextmanager
def building_tree() -> Iterator[None]:
    token = _IN_TREE.set(True)
    try:
        yield
    finally:
        _IN_TREE.reset(token)


class SectionSettings(BaseSettings):
    """One service's settings. Subclasses set ``section`` (the toml table, e.g. ``"storage"``) and
    ``env_prefix`` to ``ARIA_<SECTION>_`` (a unit test checks that they agree)."""

    section: ClassVar[str] = ""
    model_config = SettingsConfigDict(extra="forbid")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        section = getattr(settings_cls, "section", "")
        if _IN_TREE.get():
            return (init_settings,)
        if not section:
            return (init_settings, env_settings)
        table = read_toml().get(section, {})
        if not isinstance(table, dict):
            raise ValueError(f"{toml_path()}: {section} must be a table ([{section}])")
        return (init_settings, env_settings, InitSettingsSource(settings_cls, init_kwargs=table))


def env_prefix(section: str) -> str:
    """``"storage"`` -> ``"ARIA_STORAGE_"``."""
    return f"{ENV_PREFIX}{section.upper()}_"
