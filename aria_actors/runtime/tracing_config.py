"""Settings of distributed tracing: ``[tracing]`` in aria.toml, ``ARIA_TRACING_*`` in the environment.

Read by every service's process (runtime/tracing.py sets its tracer up from them) and by
aria_debugger, which collects the spans. Runtime-level rather than one service's section: every
process traces.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from aria_actors.runtime.section import SectionSettings


class TracingSettings(SectionSettings):
    """Whether spans are made, how many traces are kept, and where else they are sent."""

    section = "tracing"
    model_config = SettingsConfigDict(env_prefix="ARIA_TRACING_", extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Make spans (gateway requests, actor calls, queries, jobs). Off: "
                                            "no tracer is set up and each call site costs one check.")
    sample_ratio: float = Field(1.0, ge=0.0, le=1.0,
                                description="Share of new traces kept (decided at the root, by trace id; "
                                            "the rest of a trace follows its root's decision).")
    ring_size: int = Field(4096, ge=16, le=1_000_000,
                           description="Finished spans each process keeps in memory until aria_debugger "
                                       "collects them (the oldest are dropped first, and counted).")
    otlp_endpoint: str = Field("", description="OTLP/HTTP traces URL (http://collector:4318/v1/traces) every "
                                               "process also exports to; empty: none.")
    collect_interval_s: float = Field(5.0, ge=0.2, le=3600,
                                      description="Seconds between two collections of every process's spans "
                                                  "by aria_debugger.")
    keep_traces: int = Field(2000, ge=10, le=1_000_000,
                             description="Traces aria_debugger keeps in its own memory (served when "
                                         "aria_data is down).")
    retention_days: float = Field(7.0, gt=0, le=365, description="Days traces are kept in PostgreSQL.")

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("otlp_endpoint must be an http:// or https:// URL, or empty")
        return v
