"""aria_engine: HTN planning (GTPyhop model), GOAP, behavior trees, parallel planners.

The service plans over *registered* domains only (``ARIA_ENGINE_DOMAINS`` and, when gtpyhop is
installed, GTPyhop's bundled examples), either in its own process or on a pool of Ray planner
actors (``ARIA_ENGINE_POOL_SIZE``).

Guarantees and caveats:
    - Nothing executable is accepted from callers: states and todo lists are data (see ``wire``).
    - Every plan runs under a node and a time budget (defaults from the config, lowered per call).
    - ``health()`` plans a small built-in problem and pings every planner actor; it reports
      DEGRADED when some actors do not answer and FAILED when none does or the probe plan fails.
    - Ray is imported in ``start()``, and only for a pool of planner actors.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aria_actors.engine import gtpyhop_suite, wire
from aria_actors.engine.domain import Domain
from aria_actors.engine.errors import EngineError
from aria_actors.engine.planner import Budget, find_plan
from aria_actors.engine.registry import DomainRegistry
from aria_actors.engine.runner import PlannerActor, PlanRequest, run_request
from aria_actors.engine.spec import SPEC
from aria_actors.engine.state import State
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, Status

GTPYHOP_EXAMPLES = ("simple_htn.py", "simple_hgn.py", "logistics_hgn.py", "blocks_htn", "blocks_gtn",
                    "blocks_hgn", "Blocksworld-GTOHP", "Childsnack")


class EngineService(Service):
    SPEC = SPEC

    def __init__(self, settings: AriaSettings, config: Any = None) -> None:
        super().__init__(settings)
        self._config = config
        self.registry: Any = None
        self.pool: Any = None
        self._started = False
        self.plans_served = 0

    async def start(self, deps: Deps) -> None:
        await super().start(deps)

        self.config = self._config or self.settings.engine
        specs = dict(self.config.domains)
        if self.config.gtpyhop_examples and gtpyhop_suite.available():
            for name in GTPYHOP_EXAMPLES:
                specs.setdefault("gtpyhop-" + name.removesuffix(".py").lower(), f"gtpyhop-example:{name}")
        self.registry = DomainRegistry(specs)
        self.registry.register("aria-health", _health_domain())
        if self.config.pool_size > 0:
            # ray: EngineService is Ray-free; only a planner pool (pool_size > 0) needs Ray
            from aria_actors.engine.pool import PlannerPool

            self.pool = PlannerPool(self.config.pool_size, specs, num_cpus=self.config.actor_num_cpus)
        self._started = True

    async def health(self) -> Health:
        if not self._started:
            return Health(Status.STARTING, "not started")
        details: dict[str, Any] = {"domains": len(self.registry.names()), "plans_served": self.plans_served}
        t0 = time.perf_counter()
        try:
            probe = await asyncio.to_thread(self._probe)
        except Exception as exc:
            return Health(Status.FAILED, f"probe plan raised {type(exc).__name__}: {exc}", details)
        details["probe_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        if not probe:
            return Health(Status.FAILED, "probe plan found no plan", details)
        if self.pool is None:
            return Health(Status.READY, "planning in-process", details)
        pings = await asyncio.to_thread(self.pool.ping, 5.0)
        alive = sum(1 for p in pings if p is not None)
        details.update(actors=len(pings), actors_alive=alive)
        if alive == 0:
            return Health(Status.FAILED, "no planner actor answers", details)
        if alive < len(pings):
            return Health(Status.DEGRADED, f"{alive} of {len(pings)} planner actors answer", details)
        return Health(Status.READY, f"{alive} planner actors", details)

    def _probe(self) -> bool:
        r = find_plan(self.registry.get("aria-health"), State("probe", n={"x": 0}), [("count", 3)],
                      budget=Budget(10_000, 5.0))
        return bool(r) and r.plan == [("inc",)] * 3

    async def stop(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            await asyncio.to_thread(pool.shutdown)
        self._started = False

    # -- the service's own methods -------------------------------------------------------------
    @rpc("engine:health:read")
    async def probe(self, caller: Principal) -> dict[str, Any]:
        """A fresh health probe (plan latency, planner actors alive), as a dict."""
        return (await self.health()).to_dict()

    @rpc("engine:domain:list", feature="htn-gtpyhop")
    async def list_domains(self, caller: Principal) -> list[dict[str, Any]]:
        return [{"name": n, "spec": s.partition(":")[0]} for n, s in sorted(self.registry.specs.items())]

    @rpc("engine:domain:read", features=("htn-gtpyhop", "predicates"))
    async def describe_domain(self, caller: Principal, name: str) -> dict[str, Any]:
        return await asyncio.to_thread(self.registry.describe, name)

    def _request(self, body: dict[str, Any]) -> Any:
        self.registry.get(body["domain"])  # unknown names fail here, with the registered list
        max_nodes = min(int(body.get("max_nodes") or self.config.max_nodes), self.config.max_nodes)
        max_seconds = min(float(body.get("max_seconds") or self.config.max_seconds), self.config.max_seconds)
        return PlanRequest(
            domain=body["domain"],
            state=wire.decode_state(body["state"]) if body.get("state") is not None else None,
            todo=wire.decode_todo(body["todo"]) if body.get("todo") is not None else None,
            problem=body.get("problem"), strategy=body.get("strategy", "dfs"),
            max_nodes=max_nodes, max_seconds=max_seconds,
            optimise_cost=bool(body.get("optimise_cost", False)),
            character=body.get("character"),
        )

    @rpc("engine:plan:run", job=True, features=("htn-gtpyhop", "action-costs", "predicates"))
    async def plan(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """Plan one request: ``{"domain", "problem" | ("state", "todo"), options...}``."""
        request = self._request(body)
        self.plans_served += 1
        if self.pool is not None:
            return await asyncio.to_thread(self.pool.plan, request)
        return await asyncio.to_thread(run_request, self.registry, request)

    @rpc("engine:plan:run", job=True, features=("htn-gtpyhop", "action-costs", "predicates"))
    async def plan_many(self, caller: Principal, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Plan many requests (in parallel on the pool when there is one); results in order."""
        if len(bodies) > self.config.max_batch:
            raise EngineError(f"plan_many takes at most {self.config.max_batch} requests, got {len(bodies)}",
                              count=len(bodies), max_batch=self.config.max_batch)
        requests = [self._request(b) for b in bodies]
        self.plans_served += len(requests)
        if self.pool is not None:
            return await self.pool.plan_many_async(requests)
        local = PlannerActor(self.registry.specs)
        local.registry = self.registry
        return await asyncio.to_thread(local.plan_batch, requests)


def _health_domain() -> Any:
    d = Domain("aria-health")

    def inc(state: Any) -> Any:
        state.n["x"] += 1
        return state

    def m_count(state: Any, k: int) -> list[Any]:
        return [("inc",)] * k

    d.declare_actions(inc)
    d.declare_task_methods("count", m_count)
    return d
