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
