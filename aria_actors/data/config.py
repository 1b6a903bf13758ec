"""Settings of aria_data: ``[data]`` in aria.toml, ``ARIA_DATA_*`` in the environment. The database
URL itself is ``ARIA_DATABASE_URL`` in
:class:`~aria_actors.runtime.settings.AriaSettings`; empty starts the embedded server."""

from __future__ import annotations

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import SettingsConfigDict

from aria_actors.runtime.errors import ConfigError
from aria_actors.runtime.section import SectionSettings


class DataSettings(SectionSettings):
    """Pool, timeout, retry and retention knobs of the database layer."""

    section = "data"
    model_config = SettingsConfigDict(env_prefix="ARIA_DATA_", extra="forbid", frozen=True)

    pool_min_size: int = Field(1, ge=0, le=1000, description="Connections a pool keeps open.")
    pool_max_size: int = Field(10, ge=1, le=1000, description="Most connections a pool opens.")
    statement_timeout_s: float = Field(
        30.0, ge=0, le=86_400, description="Server-side statement_timeout; 0 disables it."
    )
    connect_timeout_s: float = Field(
        5.0, gt=0, le=300, description="Giving up on connecting (bad host, no answer) after this."
    )
    slow_query_ms: float = Field(
        500.0, ge=0, description="Queries slower than this are counted and logged (without args)."
    )
    retry_attempts: int = Field(
        5, ge=1, le=100, description="Tries of a transaction on serialization failure or deadlock."
    )
    retry_base_delay_s: float = Field(0.01, ge=0, le=10, description="First retry delay ceiling.")
    retry_max_delay_s: float = Field(1.0, ge=0, le=60, description="Largest retry delay ceiling.")
    embedded_start_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="Wait this long for the embedded server (crash recovery)."
    )
    embedded_max_connections: int = Field(
        300, ge=20, le=10_000, description="Connection limit of the embedded server: every service's pool and each "
        "queue worker's (2-4 each) share it; past it a call answers 503 (database busy), not 500."
    )
    migrate_lock_timeout_s: float = Field(
        300.0, gt=0, description="Wait this long for another node's migration run to finish."
    )
    archive_interval_s: float = Field(
        3600.0, gt=0, description="Seconds between partition maintenance runs (create/archive/drop)."
    )
    archive_retention_days: int = Field(
        90, ge=1, le=36_500, description="Partitions of archived rows older than this are dropped."
    )
    pg_bin_dir: str | None = Field(
        None, description="Binaries of the embedded server (initdb, pg_ctl, postgres); default: the "
        "pgserver wheel's, else the newest /usr/lib/postgresql/<v>/bin. pg_stat_statements is loaded "
        "when its library is installed with them (the wheel has none; Debian's package has).")
    index_check_rows: int = Field(
        20_000, ge=100, le=10_000_000, description="Rows of a table copied to the scratch copy an index "
        "suggestion is checked on (EXPLAIN before and after the index).")
    index_check_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="statement_timeout of one index check (copy, index, plans).")

    @model_validator(mode="after")
    def _sizes(self) -> DataSettings:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError(
                f"pool_min_size ({self.pool_min_size}) must not exceed pool_max_size "
                f"({self.pool_max_size})"
            )
        return self


DataConfig = DataSettings  # the former name


def load_data_config(**overrides: object) -> DataSettings:
    """Load :class:`DataSettings`, turning validation errors into one ConfigError naming each
    ``ARIA_DATA_*`` setting at fault."""
    try:
        return DataSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            env = f"ARIA_DATA_{key.upper()}" if key else "ARIA_DATA_*"
            problems.append(f"{env}: {err['msg']}")
        raise ConfigError("invalid data settings: " + "; ".join(problems), settings=problems) from None
