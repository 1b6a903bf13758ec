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
    @rpc("engine:domain:read", features=("htn-gtpyhop", "predicates"))
    async def describe_domain(self, caller: Principal, name: str) -> dict[str, Any]:
        ...

    @rpc("engine:domain:list", feature="htn-gtpyhop")
    async def list_domains(self, caller: Principal) -> list[dict[str, Any]]:
        ...

    @rpc("engine:plan:run", job=True, features=("htn-gtpyhop", "action-costs", "predicates"))
    async def plan(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """Plan one request: ``{"domain", "problem" | ("state", "todo"), options...}``."""

    @rpc("engine:plan:run", job=True, features=("htn-gtpyhop", "action-costs", "predicates"))
    async def plan_many(self, caller: Principal, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Plan many requests (in parallel on the pool when there is one); results in order."""

    @rpc("engine:health:read")
    async def probe(self, caller: Principal) -> dict[str, Any]:
        """A fresh health probe (plan latency, planner actors alive), as a dict."""
