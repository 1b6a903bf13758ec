"""Settings of aria_monitor: ``[monitor]`` in aria.toml, ``ARIA_MONITOR_*`` in the environment."""

from __future__ import annotations

from pydantic import AnyHttpUrl, Field
from pydantic_settings import SettingsConfigDict

from aria_actors.runtime.section import SectionSettings


class MonitorSettings(SectionSettings):
    """How often every service's metrics are read, how many series are kept, which rules run and
    where alerts go."""

    section = "monitor"
    model_config = SettingsConfigDict(env_prefix="ARIA_MONITOR_", extra="forbid", frozen=True)

    interval_s: float = Field(10.0, ge=0.2, le=3600,
                              description="Seconds between two collections of every service's metrics; rule "
                                          "groups are evaluated on the first collection after their own interval.")
    scrape_timeout_s: float = Field(2.0, gt=0, le=60,
                                    description="How long one service may take to render its metrics; a slower "
                                                "one is `up 0` for that collection.")
    push: bool = Field(True, description="Every process puts its metrics into Ray's GCS key-value store each "
                                         "interval for aria_monitor to read (runtime/metrics_push.py); false: "
                                         "aria_monitor reads every service's metrics door on each collection.")
    own_series_max_age_s: float = Field(30.0, ge=0, le=3600,
                                        description="How old a pushed service's own series (those that need "
                                                    "I/O, such as aria_queue's job counts) may be; the "
                                                    "shell's RPC series are always current.")
    series_cap: int = Field(1000, ge=1, le=1_000_000,
                            description="Series kept per metric family and per service; the rest are dropped and "
                                        "counted in aria_monitor_series_dropped_total.")
    max_series: int = Field(200_000, ge=100, le=10_000_000, description="Series the history holds in all.")
    retention_s: float = Field(3600.0, ge=60, le=7 * 86400, description="How long raw points are kept.")
    builtin_rules: bool = Field(True, description="Evaluate the rule file shipped with Aria (rulefiles/aria.yaml).")
    rule_files: list[str] = Field(default_factory=list,
                                  description="More rule files in Prometheus's format (paths on the monitor's node).")
    webhooks: dict[str, AnyHttpUrl] = Field(
        default_factory=dict,
        description="Named webhook receivers: each gets every alert that fires or resolves (Alertmanager's webhook "
                    "payload, version 4).")
    webhook_timeout_s: float = Field(5.0, gt=0, le=60, description="Timeout of one webhook delivery.")
    # -- dashboards' history in PostgreSQL and usage analytics (dashboards.py, usage.py) -----------
    dashboard_sample_s: float = Field(15.0, ge=0.2, le=3600,
                                      description="Seconds between two evaluations of the dashboards' panels into "
                                                  "their 1-minute and 1-hour rollups.")
    history_flush_s: float = Field(60.0, ge=0.5, le=3600,
                                   description="Seconds between two batched writes of the rollups and the usage "
                                               "counts to PostgreSQL (kept in memory, bounded, while it is down).")
    history_minute_days: int = Field(7, ge=1, le=90, description="Days the 1-minute rollups are kept.")
    history_hour_days: int = Field(90, ge=1, le=3660, description="Days the 1-hour rollups are kept.")
    usage_interval_s: float = Field(30.0, ge=0.5, le=3600,
                                    description="Seconds between two reads of every service's usage counts.")
    usage_days: int = Field(400, ge=1, le=3660, description="Days the daily usage rows are kept.")
    max_pending_rows: int = Field(100_000, ge=100, le=10_000_000,
                                  description="Rows held for PostgreSQL while it is unreachable; older ones beyond "
                                              "are dropped and counted.")
