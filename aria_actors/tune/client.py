"""Typed client of aria_tune: its declared RPC surface (generated from the service).

Callers get one with ``deps.of(TuneClient)``, ``Depends(service_client(TuneClient))`` or
``bind(TuneClient, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py tune
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("aria_tune")
class TuneClient:
    @rpc("tune:study:write", scope="own", feature="hyperparameters")
    async def create_study(
        self,
        caller: Principal,
        name: str,
        objective: str,
        space: dict[str, Any] | None = None,
        direction: str | None = None,
        sampler: dict[str, Any] | str | None = None,
        pruner: dict[str, Any] | str | None = None,
        budget: int = 20,
        parallelism: int = 1,
    ) -> dict[str, Any]:
        """A new study of ``objective`` (a registered name) over ``space`` (default: the objective's..."""

    @rpc("tune:study:write", scope="own", feature="hyperparameters")
    async def delete_study(self, caller: Principal, name: str) -> dict[str, Any]:
        """Delete a study and its trials (jobs still queued for it end without running)."""

    @rpc("tune:study:read", scope="own", feature="hyperparameters")
    async def get_study(self, caller: Principal, name: str) -> dict[str, Any]:
        """A study: settings, status, trial counts by state, and its best trial."""

    @rpc("tune:study:list", feature="hyperparameters")
    async def list_objectives(self, caller: Principal) -> list[dict[str, Any]]:
        """The objectives a study may name, with their parameters, direction, known optimum and usual..."""

    @rpc("tune:study:list", scope="own", feature="hyperparameters")
    async def list_studies(self, caller: Principal, limit: int = 100) -> list[dict[str, Any]]:
        """Studies the caller may see in its tenant, newest first: its own, or (``@tenant``) all."""

    @rpc("tune:study:read", scope="own", feature="hyperparameters")
    async def list_trials(
        self,
        caller: Principal,
        name: str,
        state: str | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> dict[str, Any]:
        """A study's trials in number order (from ``after``, at most ``limit``; ``state`` filters)."""

    @rpc("tune:study:write", scope="own", feature="hyperparameters")
    async def optimize(
        self,
        caller: Principal,
        name: str,
        budget: int | None = None,
        parallelism: int | None = None,
    ) -> dict[str, Any]:
        """Start (or continue) a study: its trials are enqueued, ``parallelism`` at a time, until..."""

    @rpc("tune:trial:run", scope="own", job=True, feature="hyperparameters")
    async def run_trial(self, caller: Principal, study_id: int, number: int) -> dict[str, Any]:
        """Run trial ``number`` of study ``study_id`` (what a ``service:aria_tune.run_trial`` job..."""

    @rpc("tune:study:write", scope="own", feature="hyperparameters")
    async def stop_study(self, caller: Principal, name: str) -> dict[str, Any]:
        """Stop enqueueing trials; those running finish and are recorded. ``optimize`` resumes."""
