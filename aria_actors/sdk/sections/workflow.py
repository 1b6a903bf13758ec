"""``aria.workflow``: versioned workflows (SOPs), their runs and an operator's controls (``/v1/workflow``)."""

from __future__ import annotations

from typing import Any, Literal

import aria_actors.workflow.errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.sdk.section import Req, Section, route
from aria_actors.sdk.sections._util import body

RunState = Literal["pending", "running", "waiting", "paused", "completed", "failed", "cancelled", "dead"]


class WorkflowAPI(Section):
    # -- definitions ------------------------------------------------------------------------------
    @route("POST", "/v1/workflow/definitions/validate")
    def validate(self, document: dict[str, Any] | str) -> dict[str, Any]:
        """Check a document (a mapping, or its YAML/JSON text) as publishing would, storing nothing."""
        return Req(json={"document": document})

    @route("POST", "/v1/workflow/definitions")
    def publish(self, document: dict[str, Any] | str) -> dict[str, Any]:
        """Store a document as the next version of its name, released for new runs."""
        return Req(json={"document": document})

    @route("GET", "/v1/workflow/definitions")
    def definitions(self) -> list[dict[str, Any]]:
        """Your tenant's documents and every Python workflow, with their current version."""
        return Req()

    @route("GET", "/v1/workflow/definitions/{name}")
    def definition(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One version of a definition (default: the released one)."""
        return Req(path={"name": name}, params={"version": version})

    @route("GET", "/v1/workflow/definitions/{name}/versions")
    def versions(self, name: str) -> dict[str, Any]:
        return Req(path={"name": name})

    @route("POST", "/v1/workflow/definitions/{name}/rollback")
    def rollback(self, name: str, version: int | None = None) -> dict[str, Any]:
        """Release ``version`` (default: the one released before the current) for new runs."""
        return Req(path={"name": name}, json=body(version=version))

    @route("GET", "/v1/workflow/catalog")
    def catalog(self) -> dict[str, Any]:
        """What documents may name: services and methods, queue workers, Python steps."""
        return Req()

    # -- runs -------------------------------------------------------------------------------------
    @route("POST", "/v1/workflow/runs")
    def start_run(self, name: str, input: Any = None, *, version: int | None = None,
                  idempotency_key: str | None = None) -> dict[str, Any]:
        """Start a run of ``name`` acting as you; returns ``{run_id, name, version, created}``."""
        return Req(json=body(name=name, input=input, version=version, idempotency_key=idempotency_key))

    @route("GET", "/v1/workflow/runs")
    def runs(self, name: str | None = None, state: RunState | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Runs you may see, newest first."""
        return Req(params={"name": name, "state": state, "limit": limit})

    @route("GET", "/v1/workflow/runs/{run_id}")
    def run(self, run_id: str) -> dict[str, Any]:
        """A run: state, input, output or error, version and its recorded steps."""
        return Req(path={"run_id": run_id})

    @route("GET", "/v1/workflow/runs/{run_id}/history")
    def history(self, run_id: str) -> dict[str, Any]:
        """A run's timeline: steps, retries, controls and signals, in order."""
        return Req(path={"run_id": run_id})

    @route("POST", "/v1/workflow/runs/{run_id}/signals/{name}")
    def signal(self, run_id: str, name: str, payload: Any = None) -> dict[str, Any]:
        return Req(path={"run_id": run_id, "name": name}, json={"payload": payload})

    @route("POST", "/v1/workflow/runs/{run_id}/pause")
    def pause(self, run_id: str) -> dict[str, Any]:
        return Req(path={"run_id": run_id})

    @route("POST", "/v1/workflow/runs/{run_id}/resume")
    def resume(self, run_id: str) -> dict[str, Any]:
        return Req(path={"run_id": run_id})

    @route("POST", "/v1/workflow/runs/{run_id}/cancel")
    def cancel(self, run_id: str, compensate: bool = False) -> dict[str, Any]:
        """Cancel a run (with ``compensate``, completed steps are undone first)."""
        return Req(path={"run_id": run_id}, params={"compensate": str(compensate).lower()})

    @route("POST", "/v1/workflow/runs/{run_id}/retry")
    def retry(self, run_id: str) -> dict[str, Any]:
        """Run a dead-lettered run again: its failed steps run again."""
        return Req(path={"run_id": run_id})

    @route("POST", "/v1/workflow/runs/{run_id}/skip")
    def skip(self, run_id: str, output: Any = None) -> dict[str, Any]:
        """Mark a dead run's failed step done with ``output`` and go on."""
        return Req(path={"run_id": run_id}, json={"output": output})

    @route("POST", "/v1/workflow/runs/{run_id}/migrate")
    def migrate(self, run_id: str, version: int) -> dict[str, Any]:
        """Move a waiting, paused or dead run to another version of its workflow."""
        return Req(path={"run_id": run_id}, json={"version": version})

    @route("POST", "/v1/workflow/runs/{run_id}/edit")
    def edit(self, run_id: str, add: list[dict[str, Any]] | None = None,
             replace: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Add steps to, or replace pending steps of, a paused or dead document run."""
        return Req(path={"run_id": run_id}, json=body(add=add, replace=replace))

    # -- analytics --------------------------------------------------------------------------------
    @route("GET", "/v1/workflow/stats")
    def stats(self, name: str | None = None, since_s: float = 86400.0) -> dict[str, Any]:
        """Per workflow: runs by state, durations, failure rate; per step: counts, retries, durations."""
        return Req(params={"name": name, "since_s": since_s})

    @route("GET", "/v1/workflow/metrics")
    def metrics(self) -> bytes:
        """Prometheus text."""
        return Req(raw=True)
