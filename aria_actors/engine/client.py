"""Typed client of aria_engine: its declared RPC surface (generated from the service).

Callers get one with ``deps.of(EngineClient)``, ``Depends(service_client(EngineClient))`` or
``bind(EngineClient, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py engine
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("aria_engine")
class EngineClient:
    @rpc("engine:decision:write", feature="decision-state")
    async def advance_decision(
        self,
        caller: Principal,
        character: str,
        version: int,
        beliefs: dict[str, Any] | None = None,
        simulate: bool = True,
    ) -> dict[str, Any]:
        """The character did its current step: ``version`` is the state it did it in (a stale one is a..."""

    @rpc("engine:learning:delete", feature="plan-learning")
    async def clear_learning(self, caller: Principal, domain: str | None = None) -> dict[str, Any]:
        """Forget the caller's tenant's learned method choices (of one domain, or all)."""

    @rpc("engine:plan:run", job=True, features=("multi-character", "conflict-resolution"))
    async def coordinate(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """Plan several characters (each its domain, state, todo, priority) sharing resources: reserved..."""

    @rpc("engine:decision:read", feature="decision-state")
    async def decision_history(
        self,
        caller: Principal,
        character: str,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """The character's newest decision events (set, planning, advance, beliefs, fail, replan)."""

    @rpc("engine:domain:read", features=("htn-gtpyhop", "predicates"))
    async def describe_domain(self, caller: Principal, name: str) -> dict[str, Any]:
        ...

    @rpc("engine:decision:write", feature="decision-state")
    async def fail_decision(
        self,
        caller: Principal,
        character: str,
        reason: str,
        version: int | None = None,
    ) -> dict[str, Any]:
        """The character's plan failed (kept, at the step it failed, with ``reason``)."""

    @rpc("engine:decision:read", feature="decision-state")
    async def get_decision(self, caller: Principal, character: str) -> dict[str, Any]:
        """The character's decision state: plan, ``step`` (next to execute), ``next``, beliefs, status..."""

    @rpc("engine:plan:run", job=True, feature="goap")
    async def goap(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """A cheapest GOAP plan: ``{"state", "goal": {var: {key: value}}, "actions": [{"name",..."""

    @rpc("engine:learning:read", feature="plan-learning")
    async def learning_stats(self, caller: Principal, domain: str | None = None) -> dict[str, Any]:
        """The caller's tenant's method caches: entries, lookups and hits per domain."""

    @rpc("engine:decision:list", feature="decision-state")
    async def list_decisions(
        self,
        caller: Principal,
        status: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """One page of the caller's characters in name order: ``{"items", "next"}`` (``next`` is the..."""

    @rpc("engine:domain:list", feature="htn-gtpyhop")
    async def list_domains(self, caller: Principal) -> list[dict[str, Any]]:
        ...

    @rpc("engine:plan:run", job=True, features=("htn-gtpyhop", "action-costs", "predicates"))
    async def plan(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """Plan one request: ``{"domain", "problem" | ("state", "todo"), options...}``."""

    @rpc("engine:plan:run", job=True, feature="plan-learning")
    async def plan_learned(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """Plan with the method-choice cache of the domain (per tenant) and learn from the plan found;..."""

    @rpc("engine:plan:run", job=True, features=("htn-gtpyhop", "action-costs", "predicates"))
    async def plan_many(self, caller: Principal, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Plan many requests (in parallel on the pool when there is one); results in order."""

    @rpc("engine:health:read")
    async def probe(self, caller: Principal) -> dict[str, Any]:
        """A fresh health probe (plan latency, planner actors alive), as a dict."""

    @rpc("engine:plan:run", job=True, feature="plan-repair")
    async def repair(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """Repair a plan whose step ``failed`` could not run: only the steps below the lowest..."""

    @rpc("engine:decision:write", feature="decision-state")
    async def replan_decision(
        self,
        caller: Principal,
        character: str,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Plan again from the character's current beliefs, for its stored todo list (or..."""

    @rpc("engine:plan:run", job=True, feature="behavior-trees")
    async def run_tree(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """Tick a behavior tree (JSON nodes; leaves are a registered domain's actions and tasks,..."""

    @rpc("engine:decision:write", feature="decision-state")
    async def set_decision(self, caller: Principal, character: str, body: dict[str, Any]) -> dict[str, Any]:
        """Give ``character`` a plan from step 0, stored: either as it is (``{"domain", "plan",..."""

    @rpc("engine:decision:write", feature="decision-state")
    async def update_beliefs(
        self,
        caller: Principal,
        character: str,
        beliefs: dict[str, Any],
        replace: bool = False,
        version: int | None = None,
    ) -> dict[str, Any]:
        """Change what the character believes: ``{"vars": {...}}`` merged one level deep (a null..."""
