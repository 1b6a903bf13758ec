"""Typed client of aria_workflow: its declared RPC surface (generated from the service).

Callers get one with ``deps.of(WorkflowClient)``, ``Depends(service_client(WorkflowClient))`` or
``bind(WorkflowClient, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py workflow
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("aria_workflow")
class WorkflowClient:
    @rpc("workflow:run:control", scope="own", features=("dynamic-adaptation", "error-recovery"))
    async def cancel(self, caller: Principal, run_id: str, compensate: bool = False) -> dict[str, Any]:
        """Cancel a run now (with ``compensate``, completed steps' compensations run first)."""

    @rpc("workflow:definition:read", feature="sop-definition")
    async def catalog(self, caller: Principal) -> dict[str, Any]:
        """What documents may name: services and methods (with parameters), queue workers, Python steps."""

    @rpc("workflow:definition:read", feature="versioning-rollback")
    async def definition(self, caller: Principal, name: str, version: int | None = None) -> dict[str, Any]:
        """One version of a definition (default: the current one), with its document or code."""

    @rpc("workflow:definition:list", feature="sop-definition")
    async def definitions(self, caller: Principal) -> list[dict[str, Any]]:
        """The caller's tenant's documents and every Python workflow, with their current version."""

    @rpc("workflow:run:control", scope="own", feature="dynamic-adaptation")
    async def edit(
        self,
        caller: Principal,
        run_id: str,
        add: list[dict[str, Any]] | None = None,
        replace: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Add steps to, or replace pending steps of, a paused or dead document run (this run only)."""

    @rpc("workflow:run:read", scope="own", feature="workflow-analytics")
    async def history(self, caller: Principal, run_id: str) -> dict[str, Any]:
        """A run's timeline: each step's start and end, each retry, control and signal, in order."""

    @rpc("workflow:analytics:read", scope="any", feature="workflow-analytics")
    async def metrics(self, caller: Principal) -> str:
        """Prometheus text of this instance's workflow metrics (runs, step durations, failures)."""

    @rpc("workflow:run:control", scope="own", features=("dynamic-adaptation", "versioning-rollback"))
    async def migrate(self, caller: Principal, run_id: str, version: int) -> dict[str, Any]:
        """Move a waiting, paused or dead run to another version of its workflow; it resumes from its..."""

    @rpc("workflow:run:control", scope="own", feature="dynamic-adaptation")
    async def pause(self, caller: Principal, run_id: str) -> dict[str, Any]:
        """Pause a run at its next step or wait; it holds no task until resumed."""

    @rpc("workflow:definition:write", features=("sop-definition", "versioning-rollback"))
    async def publish(self, caller: Principal, document: Any) -> dict[str, Any]:
        """Validate a document and store it as the next version of its name, released for new runs."""

    @rpc("workflow:run:control", scope="own", feature="dynamic-adaptation")
    async def resume(self, caller: Principal, run_id: str) -> dict[str, Any]:
        """Resume a paused run from its records."""

    @rpc("workflow:run:control", scope="own", feature="error-recovery")
    async def retry(self, caller: Principal, run_id: str) -> dict[str, Any]:
        """Run a dead-lettered run again from its records: its failed steps run again."""

    @rpc("workflow:definition:write", feature="versioning-rollback")
    async def rollback(self, caller: Principal, name: str, version: int | None = None) -> dict[str, Any]:
        """Release ``version`` (default: the one released before the current) for new runs; running..."""

    @rpc("workflow:run:read", scope="own", feature="execution-state")
    async def run(self, caller: Principal, run_id: str) -> dict[str, Any]:
        """A run: state, input, output or error, version, and its recorded steps."""

    @rpc("workflow:run:list", scope="own", feature="execution-state")
    async def runs(
        self,
        caller: Principal,
        name: str | None = None,
        state: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Runs the caller may see, newest first: its own, its tenant's (@tenant), all (@any)."""

    @rpc("workflow:run:signal", scope="own", feature="execution-state")
    async def signal(self, caller: Principal, run_id: str, name: str, payload: Any = None) -> dict[str, Any]:
        """Send signal ``name`` to a live run (one wait for it consumes it, once)."""

    @rpc("workflow:run:control", scope="own", feature="error-recovery")
    async def skip(self, caller: Principal, run_id: str, output: Any = None) -> dict[str, Any]:
        """Mark a dead run's failed step done with ``output`` (what later steps read) and go on."""

    @rpc(
        "workflow:run:start",
        job=True,
        features=("execution-state", "multi-service", "parallel-steps", "conditional-branching"),
    )
    async def start_run(
        self,
        caller: Principal,
        name: str,
        input: Any = None,
        version: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Start a run of ``name`` (its current version unless ``version``) acting as the caller. With..."""

    @rpc("workflow:analytics:read", feature="workflow-analytics")
    async def stats(
        self,
        caller: Principal,
        name: str | None = None,
        since_s: float = 86400.0,
    ) -> dict[str, Any]:
        """Per workflow: runs by state, durations (mean, p50, p95), failure rate; per step: counts,..."""

    @rpc("workflow:definition:read", features=("sop-definition", "parallel-steps", "conditional-branching"))
    async def validate(self, caller: Principal, document: Any) -> dict[str, Any]:
        """Check a document as publish would, storing nothing: its steps, or a 422 naming the place."""

    @rpc("workflow:definition:read", feature="versioning-rollback")
    async def versions(self, caller: Principal, name: str) -> dict[str, Any]:
        """Every version of ``name``, the current one, and its release history (newest first)."""
