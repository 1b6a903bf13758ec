"""Aria's settings: one pydantic-settings model, ``ARIA_*`` variables and an optional ``aria.toml``.

Every external component has a URL setting; empty means "start the embedded one".
Precedence: keyword arguments > environment > ``aria.toml`` (``ARIA_CONFIG`` or ``./aria.toml``)
> defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from aria_actors.runtime.errors import ConfigError


def _toml_path() -> Path:
    return Path(os.environ.get("ARIA_CONFIG", "aria.toml"))


class AriaSettings(BaseSettings):
    """Every knob of Aria. Unknown ``ARIA_*`` keys in aria.toml are refused (extra="forbid")."""

    model_config = SettingsConfigDict(
        env_prefix="ARIA_", extra="forbid", validate_default=True, frozen=True
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
    num_cpus: int | None = Field(None, ge=1, description="CPUs Ray may use; empty means all.")
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
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_toml_path())
        return (init_settings, env_settings, toml)

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def public_dump(self) -> dict[str, Any]:
        """Settings safe to log or show: secrets masked."""
        return self.model_dump(mode="json")  # SecretStr dumps as '**********'


def load_settings(**overrides: Any) -> AriaSettings:
    """Load settings, turning validation errors into one ConfigError that names each bad setting."""
    try:
        return AriaSettings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "?"
            env = f"ARIA_{key.upper()}"
            value = err.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            problems.append(f"{env}: {err['msg']}{shown}")
        raise ConfigError("invalid settings: " + "; ".join(problems), settings=problems) from None
    except (OSError, ValueError) as exc:  # unreadable or malformed aria.toml
        raise ConfigError(f"cannot read settings from {_toml_path()}: {exc}") from None
