"""Settings of aria_engine: ``[engine]`` in aria.toml, ``ARIA_ENGINE_*`` in the environment."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aria_actors.runtime.section import SectionSettings


class EngineSettings(SectionSettings):
    """Planner pool size, registered domains and default budgets."""

    section = "engine"
    model_config = SettingsConfigDict(env_prefix="ARIA_ENGINE_", extra="forbid", frozen=True)

    pool_size: int = Field(
        0, ge=0, le=64,
        description="Ray planner actors for plan_many; 0 plans inside the service's own process.")
    actor_num_cpus: float = Field(0.5, gt=0, le=16, description="CPUs Ray reserves per planner actor.")
    domains: dict[str, str] = Field(
        default_factory=dict,
        description="Domains registered at start, name -> spec (python:<module>:<attr>, "
                    "gtpyhop-file:<path>, gtpyhop-example:<name>). Domains are code: only the "
                    "operator registers them, never an HTTP client.")
    gtpyhop_examples: bool = Field(
        True, description="Also register GTPyhop's bundled examples (as gtpyhop-<name>) when the "
                          "gtpyhop package is installed.")
    max_nodes: int = Field(2_000_000, ge=1, description="Default node budget of one plan.")
    max_seconds: float = Field(30.0, gt=0, le=3600, description="Default time budget of one plan.")
    max_batch: int = Field(1000, ge=1, le=100_000, description="Most requests one plan_many call takes.")
    decision_max_bytes: int = Field(
        1_048_576, ge=1024, le=64 * 1_048_576,
        description="Most bytes of one stored decision-state field (plan, todo list, beliefs) as JSON.")


EngineConfig = EngineSettings  # the former name
