"""Settings of aria_workflow: ``[workflow]`` in aria.toml, ``ARIA_WORKFLOW_*`` in the environment."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aria_actors.runtime.section import SectionSettings


class WorkflowSettings(SectionSettings):
    """Where Python workflows come from, and how the engine holds and renews its runs."""

    section = "workflow"
    model_config = SettingsConfigDict(env_prefix="ARIA_WORKFLOW_", extra="forbid", frozen=True)

    modules: list[str] = Field(
        default_factory=lambda: ["aria_actors.workflow.library"],
        description="Python modules whose @workflow and @step functions are registered at start (module names, "
                    "never paths).")
    lease_s: float = Field(15.0, ge=1, le=3600,
                           description="How long a run stays with its engine without a heartbeat before another "
                                       "instance may take it over.")
    heartbeat_s: float = Field(3.0, gt=0, le=600, description="Interval of renewing the leases of running runs "
                                                              "(and reading controls set elsewhere).")
    poll_s: float = Field(2.0, gt=0, le=600, description="Interval of looking for runs to take over or resume.")
    max_running: int = Field(1000, ge=1, le=100_000, description="Most runs one instance executes at once.")
    max_input_bytes: int = Field(262_144, ge=1024, le=16_777_216,
                                 description="Largest input or signal payload (JSON bytes).")
    max_document_bytes: int = Field(262_144, ge=1024, le=262_144,
                                    description="Largest workflow document (YAML or JSON bytes); the document "
                                                "parser's own bound is 256 KiB.")
