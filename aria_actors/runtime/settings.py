"""Aria's settings: one tree, ``AriaSettings``, with a section per service.

Top-level keys are ``ARIA_<KEY>`` in the environment and plain keys in ``aria.toml``; each service's
section is a table of the file and a prefix of the environment, with the names services always had:

    [storage]                                   # aria.toml (ARIA_CONFIG names another file)
    sync_targets = { backup = "s3://bucket/aria" }
    ARIA_STORAGE_SYNC_TARGETS='{"backup": "s3://bucket/aria"}'   # the same key, environment

Every external component has a URL setting; empty means "start the embedded one".
Precedence: keyword arguments > environment > ``aria.toml`` > defaults, per key.

Guarantees and caveats
----------------------
- :func:`load_settings` validates the whole tree at once: a bad value or an unknown key in any
  section (toml table or ``ARIA_<SECTION>_*`` variable) is one :class:`ConfigError` naming each
  setting at fault. ``aria up`` calls it before anything starts, so such a mistake is exit 2.
- Unknown *top-level* ``ARIA_*`` variables are ignored (``ARIA_CONFIG``, ``ARIA_TOKEN`` and the
  tests' own variables live there); unknown top-level toml keys are refused.
- Secrets are ``SecretStr``: ``repr``, :meth:`AriaSettings.public_dump`, ``aria config`` and the
  error messages never show them.
- Services get their section from the tree (``settings.storage``); a section built on its own
  (``StorageSettings()``) reads the same environment variables and toml table.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from aria_actors.auth.config import AuthSettings
from aria_actors.coordinate.config import CoordinateSettings
from aria_actors.data.config import DataSettings
from aria_actors.debugger.config import DebuggerSettings
from aria_actors.engine.config import EngineSettings
from aria_actors.interpret.config import InterpretSettings
from aria_actors.monitor.config import MonitorSettings
from aria_actors.queue.config import QueueSettings
from aria_actors.runtime import placement
from aria_actors.runtime.errors import ConfigError
from aria_actors.runtime.registry import SERVICE_MODULES
from aria_actors.runtime.section import ENV_PREFIX, SectionSettings, building_tree, env_prefix, toml_path
from aria_actors.runtime.tracing_config import TracingSettings
from aria_actors.security.config import SecuritySettings
from aria_actors.shape.config import ShapeSettings
from aria_actors.storage.config import StorageSettings
from aria_actors.tune.config import TuneSettings
from aria_actors.workflow.config import WorkflowSettings

_toml_path = toml_path  # the former private name


class AriaSettings(BaseSettings):
    """Every knob of Aria: the runtime's keys, then one section per service.
    Unknown keys are refused (extra="forbid")."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, frozen=True
    )

    home: Path = Field(
        default_factory=lambda: Path.home() / ".aria",
        description="Where embedded components keep their data and Aria its run state.",
    )
    host: str = Field("127.0.0.1", description="Interface the HTTP gateway binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port of the HTTP gateway.")
    dashboard_host: str = Field("127.0.0.1", description="Interface the Ray dashboard binds.")
    dashboard_port: int = Field(8265, ge=1, le=65535, description="Port of the Ray dashboard.")
    ray_port: int = Field(6380, ge=1, le=65535, description="GCS port of the Ray head `aria up` starts.")
    ray_address: str = Field("", description="Existing Ray cluster to join; empty starts a local head.")
    ray_token_path: str = Field(
        "", description="Token file of the Ray cluster to join; empty: RAY_AUTH_TOKEN_PATH, "
        "RAY_AUTH_TOKEN, then ~/.ray/auth_token, as Ray itself reads them. Never a new token.")
    ray_node_ip: str = Field(
        "127.0.0.1", description="Address the local Ray head binds and advertises; the machine's "
        "address lets other machines join it (then Ray's ports listen beyond loopback).")
    num_cpus: int | None = Field(None, ge=1, description="CPUs Ray may use; empty means all.")
    placement: dict[str, str] = Field(
        default_factory=dict, description="Nodes each service runs on in a multi-node cluster: "
        "service (or aria_boot) -> node label selector ('aria-node=db', alternatives after '|', "
        "'*' any node) or 'resource:NAME' (runtime/placement.py). Empty: anywhere.")
    namespace: str = Field("aria", min_length=1, description="Ray namespace of Aria's actors.")

    database_url: SecretStr = Field(SecretStr(""), description="PostgreSQL URL; empty starts one.")
    openbao_url: str = Field("", description="OpenBao URL; empty starts an embedded `bao` server.")
    storage_url: str = Field("", description="Chunk store URL (s3://, sftp://, https://, path).")
    model_path: str = Field("", description="A Qwen3 checkpoint on disk; empty builds a tiny one.")

    health_interval_s: float = Field(2.0, gt=0, le=300, description="Seconds between health probes.")
    health_timeout_s: float = Field(5.0, gt=0, le=300, description="A probe slower than this fails.")
    start_timeout_s: float = Field(120.0, gt=0, description="A service start slower than this fails.")
    restart_backoff_s: float = Field(0.5, gt=0, description="First restart delay; doubles each time.")
    restart_backoff_max_s: float = Field(30.0, gt=0, description="Ceiling of the restart delay.")
    call_timeout_s: float = Field(30.0, gt=0, description="Gateway timeout for a call to a service.")
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="Log level.")

    # One section per service that has settings: `[name]` in aria.toml, ARIA_<NAME>_<KEY>.
    security: SecuritySettings = Field(default_factory=SecuritySettings, description="aria_security")
    data: DataSettings = Field(default_factory=DataSettings, description="aria_data")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="aria_auth")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="aria_storage")
    queue: QueueSettings = Field(default_factory=QueueSettings, description="aria_queue")
    shape: ShapeSettings = Field(default_factory=ShapeSettings, description="aria_shape")
    engine: EngineSettings = Field(default_factory=EngineSettings, description="aria_engine")
    interpret: InterpretSettings = Field(default_factory=InterpretSettings, description="aria_interpret")
    workflow: WorkflowSettings = Field(default_factory=WorkflowSettings, description="aria_workflow")
    coordinate: CoordinateSettings = Field(default_factory=CoordinateSettings, description="aria_coordinate")
    monitor: MonitorSettings = Field(default_factory=MonitorSettings, description="aria_monitor")
    tune: TuneSettings = Field(default_factory=TuneSettings, description="aria_tune")
    tracing: TracingSettings = Field(default_factory=TracingSettings, description="tracing (every process)")
    debugger: DebuggerSettings = Field(default_factory=DebuggerSettings, description="aria_debugger")

    def __init__(self, **values: Any) -> None:
        with building_tree():  # sections take what the tree's sources read, once
            super().__init__(**values)

    @field_validator("placement", mode="after")
    @classmethod
    def _placement_parses(cls, v: dict[str, str]) -> dict[str, str]:
        try:
            placement.check(v, {f"aria_{m}" for m in SERVICE_MODULES})
        except placement.PlacementError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_path())
        return (init_settings, env_settings, SectionEnvSource(settings_cls), toml)

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def public_dump(self) -> dict[str, Any]:
        """Settings safe to log or show: secrets masked (sections included)."""
        return self.model_dump(mode="json")  # SecretStr dumps as '**********'


@functools.cache
def sections() -> dict[str, type[SectionSettings]]:
    """The tree's sections by name (``"storage"`` -> :class:`StorageSettings`), in order."""
    out: dict[str, type[SectionSettings]] = {}
    for name, field in AriaSettings.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, SectionSettings):
            out[name] = field.annotation
    return out


def section_env(environ: Mapping[str, str] | None = None) -> Iterator[tuple[str, str, str, str]]:
    """``(section, key, variable, raw value)`` of every ``ARIA_<SECTION>_<KEY>`` variable, known or
    not; a variable that is a top-level key (``ARIA_STORAGE_URL`` is ``storage_url``) is not one."""
    environ = os.environ if environ is None else environ
    top = {n for n in AriaSettings.model_fields if n not in sections()}
    for section in sections():
        prefix = env_prefix(section).lower()
        for var, raw in environ.items():
            low = var.lower()
            if low.startswith(prefix) and low[len(ENV_PREFIX):] not in top:
                yield section, low[len(prefix):], var, raw


class SectionEnvSource(PydanticBaseSettingsSource):
    """``ARIA_<SECTION>_<KEY>`` variables as ``{section: {key: value}}``, above the toml tables.

    Unknown keys are passed on, so the section refuses them (extra="forbid") and the error names
    the variable. JSON values of complex fields (dicts, lists) are decoded as pydantic-settings
    does; one that is not JSON reaches validation as text, which names it."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, dict[str, Any]] = {}
        parsers = {name: EnvSettingsSource(cls) for name, cls in sections().items()}
        for section, key, _var, raw in section_env():
            cls, value = sections()[section], raw
            field = cls.model_fields.get(key)
            if field is not None and parsers[section].field_is_complex(field):
                try:
                    value = parsers[section].decode_complex_value(key, field, raw)
                except ValueError:
                    value = raw
            found.setdefault(section, {})[key] = value
        return found


def setting_name(loc: tuple[Any, ...]) -> str:
    """How an operator names the setting at ``loc``: ``ARIA_PORT``, or
    ``ARIA_STORAGE_SYNC_TARGETS ([storage] sync_targets)`` for a section's key."""
    parts = [str(p) for p in loc]
    if not parts:
        return "settings"
    if parts[0] in sections():
        section = parts[0]
        if len(parts) == 1:
            return f"[{section}] ({env_prefix(section)}*)"
        return f"{env_prefix(section)}{parts[1].upper()} ([{section}] {'.'.join(parts[1:])})"
    return f"{ENV_PREFIX}{parts[0].upper()}" + (f" ({'.'.join(parts)})" if len(parts) > 1 else "")


_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:)[^/\s]+@")


def mask_text(text: str) -> str:
    """``text`` with the password of every URL in it masked (``postgresql://u:***@h/db``)."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}***@", text)


def _is_secret(loc: tuple[Any, ...]) -> bool:
    model: Any = AriaSettings
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return False
        if field.annotation is SecretStr:
            return True
        model = field.annotation
    return False


def _problem(err: dict[str, Any]) -> str:
    loc = tuple(err["loc"])
    msg = err["msg"]
    value = err.get("input")
    hidden = (err["type"] == "extra_forbidden" or isinstance(value, dict) or _is_secret(loc)
              or value is None)
    shown = "" if hidden else f" (got {mask_text(repr(value))})"
    if err["type"] == "extra_forbidden":
        msg = "unknown setting"
    return f"{setting_name(loc)}: {msg}{shown}"


def load_settings(**overrides: Any) -> AriaSettings:
    """Load the whole tree, turning validation errors into one ConfigError naming each bad setting."""
    try:
        return AriaSettings(**overrides)
    except ValidationError as exc:
        problems = [_problem(err) for err in exc.errors()]
        raise ConfigError("invalid settings: " + "; ".join(problems), settings=problems) from None
    except (OSError, ValueError) as exc:  # unreadable or malformed aria.toml, or a top-level JSON value
        raise ConfigError(f"cannot read settings from {toml_path()} or ARIA_*: {exc}") from None
