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
    - Decision state (each character's plan, step, beliefs: ``decisions``) is kept in PostgreSQL
      when aria_data is a dependency, migrated and opened in ``start()``; it outlives the service
      (health reports what the last run left executing). Without aria_data those methods are 503.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from typing import Any

from aria_actors.data.client import DataClient
from aria_actors.data.pool import Database
from aria_actors.engine import features, gtpyhop_suite, wire
from aria_actors.engine.decisions import (
    DecisionStore,
    check_character,
    check_plan,
    encode_todo,
    simulate_step,
    storable,
)
from aria_actors.engine.domain import Domain
from aria_actors.engine.errors import (
    BadBudgetError,
    BudgetExhaustedError,
    DecisionInputError,
    DecisionStoreUnavailable,
    DecisionTransitionError,
    EngineError,
    InvalidRequestError,
    StaleDecisionError,
)
from aria_actors.engine.learning import MethodCache
from aria_actors.engine.planner import Budget, find_plan
from aria_actors.engine.registry import DomainRegistry
from aria_actors.engine.runner import PlannerActor, PlanRequest, run_request
from aria_actors.engine.spec import SPEC
from aria_actors.engine.state import State
from aria_actors.runtime import caches
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import default_gate, rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, Status

LEARN_CACHE_ENTRIES = 10_000  # method choices one (tenant, domain) cache keeps (least recent dropped)
LEARN_CACHES = 256  # (tenant, domain) caches kept (least recently used dropped)
GTPYHOP_EXAMPLES = ("simple_htn.py", "simple_hgn.py", "logistics_hgn.py", "blocks_htn", "blocks_gtn",
                    "blocks_hgn", "Blocksworld-GTOHP", "Childsnack")
ME = Principal.internal(SPEC.name)  # the engine asking aria_data for itself (its pool, migrations)
log = logging.getLogger(__name__)


class EngineService(Service):
    SPEC = SPEC

    def __init__(self, settings: AriaSettings, config: Any = None) -> None:
        super().__init__(settings)
        self._config = config
        self.registry: Any = None
        self.pool: Any = None
        self._started = False
        self.plans_served = 0
        self._learned: OrderedDict[tuple[str | None, str], MethodCache] = OrderedDict()
        self._learn_entries = LEARN_CACHE_ENTRIES  # per (tenant, domain); aria_tune may resize it
        # the method caches' lookups, for aria_tune's cache proposals (runtime/caches.py)
        self.method_stats = caches.register(
            "method", SPEC.name, unit="entries per tenant and domain", partitioned=True,
            rate=1 / 8,  # a lookup per refined task: sampled (bench/cache_curve.py)
            description="learned method choices (plan_learned), one LRU per tenant and domain",
            size=lambda: sum(len(c) for c in list(self._learned.values())),
            capacity=lambda: self._learn_entries, resize=self._resize_learned,
            setting="aria_actors.engine.service.LEARN_CACHE_ENTRIES (a constant; resizable at runtime)")
        self._db: Database | None = None  # decision state (see the decision state section)
        self.decisions: DecisionStore | None = None
        self.resumed: dict[str, int] = {}  # characters per status found at start

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
        if deps.get("aria_data") is not None:
            await self._open_decisions(deps)
        self._started = True

    async def health(self) -> Health:
        if not self._started:
            return Health(Status.STARTING, "not started")
        details: dict[str, Any] = {"domains": len(self.registry.names()), "plans_served": self.plans_served}
        store_error = await self._decision_health(details)
        if store_error is not None:
            return Health(Status.DEGRADED, store_error, details)
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
        await self._close_decisions()
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
        cfg = self.config
        max_nodes = min(int(_positive_budget(body, "max_nodes", cfg.max_nodes)), cfg.max_nodes)
        max_seconds = min(float(_positive_budget(body, "max_seconds", cfg.max_seconds)), cfg.max_seconds)
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
            out = await asyncio.to_thread(self.pool.plan, request)
        else:
            out = await asyncio.to_thread(run_request, self.registry, request)
        if out.get("status") == "budget_exhausted":
            # The search stopped itself at its budget: the caller asked for more than it allowed.
            # (plan_many keeps the status per request, next to the other requests' answers.)
            raise BudgetExhaustedError(out["message"], nodes=out["nodes"], elapsed_s=round(out["elapsed_s"], 3),
                                       max_nodes=request.max_nodes, max_seconds=request.max_seconds)
        return out

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

    # -- GOAP, behavior trees, coordination, repair, learning ------------------------------------
    # JSON in and out (aria_actors.engine.features decodes and bounds it); the work runs in a
    # thread under the call's budget, capped by the config as plan's is.
    def _budget(self, body: Any) -> Budget:
        if not isinstance(body, dict):
            raise InvalidRequestError(f"the request body must be an object, got {type(body).__name__}",
                                      field="body")
        return features.budget_of(body, self.config.max_nodes, self.config.max_seconds)

    @rpc("engine:plan:run", job=True, feature="goap")
    async def goap(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """A cheapest GOAP plan: ``{"state", "goal": {var: {key: value}}, "actions": [{"name",
        "preconditions", "effects", "cost"}]}`` -> action names, cost and the final state."""
        budget = self._budget(body)
        self.plans_served += 1
        return await asyncio.to_thread(features.run_goap, body, budget)

    @rpc("engine:plan:run", job=True, feature="behavior-trees")
    async def run_tree(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """Tick a behavior tree (JSON nodes; leaves are a registered domain's actions and tasks,
        planned and repaired or replanned when a step fails) over a state until it ends."""
        budget = self._budget(body)
        self.plans_served += 1
        return await asyncio.to_thread(features.run_tree, self.registry, body, budget, features.MAX_TICKS)

    @rpc("engine:plan:run", job=True, features=("multi-character", "conflict-resolution"))
    async def coordinate(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """Plan several characters (each its domain, state, todo, priority) sharing resources:
        reserved by priority, losers replanned around them or delayed; a joint goal is split."""
        budget = self._budget(body)
        self.plans_served += 1
        return await asyncio.to_thread(features.run_coordination, self.registry, body, budget)

    @rpc("engine:plan:run", job=True, feature="plan-repair")
    async def repair(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """Repair a plan whose step ``failed`` could not run: only the steps below the lowest
        re-refinable node change (``{"domain", "state", "todo", "plan", "failed", "observed"}``)."""
        budget = self._budget(body)
        self.plans_served += 1
        return await asyncio.to_thread(features.run_repair, self.registry, body, budget)

    def _cache(self, caller: Principal, domain: str) -> MethodCache:
        """The caller's tenant's method cache for ``domain`` (an LRU of at most LEARN_CACHES)."""
        self.registry.get(domain)  # only registered domains get a cache
        key = (caller.tenant, domain)
        cache = self._learned.get(key)
        if cache is None:
            cache = self._learned[key] = MethodCache(max_entries=self._learn_entries, stats=self.method_stats,
                                                     part=key)
            while len(self._learned) > LEARN_CACHES:
                self._learned.popitem(last=False)
        self._learned.move_to_end(key)
        return cache

    def _resize_learned(self, entries: int) -> None:
        """Every method cache keeps at most ``entries`` from now on (aria_tune's resize)."""
        self._learn_entries = entries
        for cache in list(self._learned.values()):
            cache.resize(entries)

    @rpc("engine:plan:run", job=True, feature="plan-learning")
    async def plan_learned(self, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """Plan with the method-choice cache of the domain (per tenant) and learn from the plan
        found; ``learning`` says how many method lookups hit the cache."""
        budget = self._budget(body)
        if not isinstance(body.get("domain"), str):
            raise InvalidRequestError("domain is required: a registered domain's name", field="domain")
        cache = self._cache(caller, body["domain"])
        self.plans_served += 1
        return await asyncio.to_thread(features.run_learned, self.registry, cache, body, budget)

    @rpc("engine:learning:read", feature="plan-learning")
    async def learning_stats(self, caller: Principal, domain: str | None = None) -> dict[str, Any]:
        """The caller's tenant's method caches: entries, lookups and hits per domain."""
        return {"domains": {d: {"entries": len(c), "lookups": c.lookups, "hits": c.hits,
                                "max_entries": c.max_entries}
                            for (tenant, d), c in sorted(self._learned.items(), key=lambda kv: kv[0][1])
                            if tenant == caller.tenant and domain in (None, d)}}

    @rpc("engine:learning:delete", feature="plan-learning")
    async def clear_learning(self, caller: Principal, domain: str | None = None) -> dict[str, Any]:
        """Forget the caller's tenant's learned method choices (of one domain, or all)."""
        keys = [k for k in self._learned if k[0] == caller.tenant and domain in (None, k[1])]
        for k in keys:
            del self._learned[k]
        return {"cleared": sorted(k[1] for k in keys)}

    # -- decision state ------------------------------------------------------------------------
    # Each character's plan, current step and beliefs, kept in PostgreSQL (decisions.py) when
    # aria_data is a dependency: what a restarted engine resumes, what aria_interface's plan view
    # reads. A character is named by the caller, within the caller's tenant.
    def _decisions(self) -> DecisionStore:
        if self.decisions is None:
            raise DecisionStoreUnavailable()
        return self.decisions

    async def _open_decisions(self, deps: Deps) -> None:
        """Open the pool (migrated) and count what the last run left: executing characters resume."""
        data = deps.of(DataClient)
        dsn = await data.dsn(ME)
        await data.migrate(ME, SPEC.name)
        self._db = await Database.connect(dsn, name=SPEC.name, min_size=1, max_size=4)
        self.decisions = DecisionStore(self._db, max_field_bytes=self.config.decision_max_bytes)
        self.resumed = await self.decisions.counts()  # once, at start: health reads these, not the table

    async def _decision_health(self, details: dict[str, Any]) -> str | None:
        """Fill ``details["decisions"]``; a message when the store does not answer.

        Health is a probe any ``engine:health:read`` caller runs: a ``SELECT 1`` (no scan of the
        states), the totals this service resumed at start, and no database error text (logged)."""
        if self.decisions is None:
            details["decisions"] = "not stored (no aria_data dependency)"
            return None
        try:
            await asyncio.wait_for(self.decisions.ping(), self.settings.health_timeout_s)
        except Exception as exc:  # the probe's job is to report it; the detail is the operator's
            log.warning("decision store unreachable: %s: %s", type(exc).__name__, exc)
            details["decisions"] = {"reachable": False}
            return "decision store unreachable"
        details["decisions"] = {"reachable": True, "resumed_executing": self.resumed.get("executing", 0),
                                "resumed_planning": self.resumed.get("planning", 0)}
        return None

    async def _close_decisions(self) -> None:
        if self._db is not None:
            db, self._db, self.decisions = self._db, None, None
            await db.close()

    async def _plan_and_store(self, caller: Principal, character: str, body: dict[str, Any],
                              beliefs: dict[str, Any] | None, version: int | None, event: str) -> dict[str, Any]:
        """Plan ``body`` (a plan request) and store the outcome: ``planning`` first (a crash while
        planning leaves that), then ``executing`` with the plan or ``failed`` with the reason."""
        default_gate().require(caller, "engine:plan:run", {"tenant": caller.tenant})  # it plans too
        if not isinstance(body.get("domain"), str):
            raise DecisionInputError("a plan request names its domain", field="domain")
        request = self._request(body)
        if request.problem is not None:
            state, todo = await asyncio.to_thread(self.registry.problem, request.domain, request.problem)
        else:
            state, todo = request.state, request.todo
        stored_beliefs = storable(beliefs if beliefs is not None else wire.encode_state(state), "beliefs")
        stored_todo = storable(encode_todo(todo), "todo")
        store, tenant = self._decisions(), caller.tenant or ""
        fields = {"domain": request.domain, "beliefs": stored_beliefs, "todo": stored_todo}
        planning = await store.put(tenant, character, plan=[], status="planning", expected_version=version,
                                   event="planning", **fields)
        try:
            result = await self.plan(caller, {**body, "character": character})
            found = result["status"] == "found"
            reason = "" if found else (result.get("error") or {}).get("detail") or \
                f"{result['status']}: {result.get('message', '')}"
            if found:
                try:  # a plan too long or too large to store is a failed state, not a stuck `planning`
                    check_plan(result["plan"], store.max_field_bytes)
                except DecisionInputError as exc:
                    found, reason = False, f"the plan found ({len(result['plan'])} steps) cannot be stored: " \
                                           f"{exc.message}"
        except BaseException as exc:
            # Whatever stopped planning (the domain refused the input, the planner raised, the call
            # was cancelled), the row must not stay `planning`: record it, then answer as it was.
            why = exc.message if isinstance(exc, AriaError) else f"planning stopped: {type(exc).__name__}"
            try:
                await asyncio.shield(store.put(tenant, character, plan=[], status="failed", reason=why,
                                               expected_version=planning["version"], event=event, **fields))
            except Exception as write_exc:  # e.g. a 409: someone wrote meanwhile; the caller's error stays
                log.warning("recording %s's failed planning failed: %s", character, write_exc)
                exc.add_note(f"recording the failed planning failed too: {type(write_exc).__name__}: {write_exc}")
            raise
        summary = {k: result.get(k) for k in ("status", "nodes", "elapsed_s", "cost", "optimal", "message")}
        # Shielded: a call cancelled now still leaves the outcome, not `planning`.
        out = await asyncio.shield(store.put(tenant, character, plan=result["plan"] if found else [],
                                             status="executing" if found else "failed", reason=reason,
                                             expected_version=planning["version"], event=event,
                                             detail=summary, **fields))
        return {**out, "planned": summary}

    @rpc("engine:decision:write", feature="decision-state")
    async def set_decision(self, caller: Principal, character: str, body: dict[str, Any]) -> dict[str, Any]:
        """Give ``character`` a plan from step 0, stored: either as it is (``{"domain", "plan",
        "beliefs", "todo"?}``) or planned here in one call (a plan request: ``{"domain", "problem" |
        ("state", "todo"), options...}``; planning also needs ``engine:plan:run``). ``version``:
        the version this replaces (a stale one is a 409; none: whatever is stored)."""
        check_character(character)
        if not isinstance(body, dict):
            raise DecisionInputError("the body is an object", field="body")
        body = dict(body)
        version = body.pop("version", None)
        if "plan" not in body:
            return await self._plan_and_store(caller, character, body, None, version, "set")
        extra = set(body) - {"domain", "plan", "beliefs", "todo"}
        if extra:
            raise DecisionInputError(f"a given plan comes with domain, beliefs and todo only, not "
                                     f"{', '.join(sorted(extra))}", field=sorted(extra)[0])
        if not isinstance(body.get("domain"), str):
            raise DecisionInputError("a plan names its domain", field="domain")
        self.registry.get(body["domain"])  # a registered one: advancing simulates its actions
        return await self._decisions().put(
            caller.tenant or "", character, domain=body["domain"], plan=body["plan"],
            beliefs=body.get("beliefs"), todo=body.get("todo"), expected_version=version)

    @rpc("engine:decision:read", feature="decision-state")
    async def get_decision(self, caller: Principal, character: str) -> dict[str, Any]:
        """The character's decision state: plan, ``step`` (next to execute), ``next``, beliefs,
        status (planning, executing, done, failed), version."""
        return await self._decisions().get(caller.tenant or "", character)

    @rpc("engine:decision:list", feature="decision-state")
    async def list_decisions(self, caller: Principal, status: str | None = None, after: str | None = None,
                             limit: int = 50) -> dict[str, Any]:
        """One page of the caller's characters in name order: ``{"items", "next"}`` (``next`` is the
        ``after`` of the next page, null on the last). Items are summaries: status, step, steps,
        next step and version, without the plan, todo list or beliefs (get_decision has those)."""
        return await self._decisions().list(caller.tenant or "", status=status, after=after, limit=limit)

    @rpc("engine:decision:read", feature="decision-state")
    async def decision_history(self, caller: Principal, character: str, limit: int = 50) -> list[dict[str, Any]]:
        """The character's newest decision events (set, planning, advance, beliefs, fail, replan)."""
        return await self._decisions().history(caller.tenant or "", character, limit)

    @rpc("engine:decision:write", feature="decision-state")
    async def advance_decision(self, caller: Principal, character: str, version: int,
                               beliefs: dict[str, Any] | None = None, simulate: bool = True) -> dict[str, Any]:
        """The character did its current step: ``version`` is the state it did it in (a stale one
        is a 409, so a step is counted once). Its beliefs become ``beliefs`` (what it observed)
        or, with ``simulate``, what the domain's action predicts; the last step makes it done."""
        store, tenant = self._decisions(), caller.tenant or ""
        if isinstance(version, bool) or not isinstance(version, int):
            raise DecisionInputError("advancing names the version it advances from (an integer)", field="version")
        if beliefs is None and simulate:
            current = await store.get(tenant, character)
            if current["version"] != version:  # stale: never advance without the simulated beliefs
                raise StaleDecisionError(
                    f"character {character!r} is at version {current['version']}, not {version}: read it "
                    f"again and retry", character=character, expected=version, current=current["version"])
            if current["status"] == "executing":
                domain = self.registry.get(current["domain"])
                beliefs = await asyncio.to_thread(simulate_step, domain, current["beliefs"],
                                                  current["plan"][current["step"]])
        return await store.advance(tenant, character, version, beliefs=beliefs)

    @rpc("engine:decision:write", feature="decision-state")
    async def update_beliefs(self, caller: Principal, character: str, beliefs: dict[str, Any],
                             replace: bool = False, version: int | None = None) -> dict[str, Any]:
        """Change what the character believes: ``{"vars": {...}}`` merged one level deep (a null
        removes a key), or with ``replace`` the whole state. The plan stays (replan to revise it)."""
        return await self._decisions().update_beliefs(caller.tenant or "", character, beliefs,
                                                      replace=bool(replace), expected_version=version)

    @rpc("engine:decision:write", feature="decision-state")
    async def fail_decision(self, caller: Principal, character: str, reason: str,
                            version: int | None = None) -> dict[str, Any]:
        """The character's plan failed (kept, at the step it failed, with ``reason``)."""
        return await self._decisions().fail(caller.tenant or "", character, reason, expected_version=version)

    @rpc("engine:decision:write", feature="decision-state")
    async def replan_decision(self, caller: Principal, character: str,
                              body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Plan again from the character's current beliefs, for its stored todo list (or
        ``body["todo"]``), in its domain; options as in a plan request; ``version`` as in set."""
        default_gate().require(caller, "engine:plan:run", {"tenant": caller.tenant})  # before any read
        if body is not None and not isinstance(body, dict):
            raise DecisionInputError("the body is an object", field="body")
        body = dict(body or {})
        if body.keys() - {"todo", "version", "strategy", "max_nodes", "max_seconds", "optimise_cost"}:
            raise DecisionInputError("replan takes todo, version, strategy, max_nodes, max_seconds and "
                                     "optimise_cost", field="body")
        current = await self._decisions().get(caller.tenant or "", character)
        version = body.pop("version", None)
        version = current["version"] if version is None else version  # replans what it read
        todo = body.pop("todo", None) or current["todo"]
        if not todo:
            raise DecisionTransitionError(f"character {character!r} has no todo list to replan for: "
                                          f"send one (todo) or set a new plan", character=character)
        request = {**body, "domain": current["domain"], "state": current["beliefs"], "todo": todo}
        return await self._plan_and_store(caller, character, request, current["beliefs"], version, "replan")


def _positive_budget(body: dict[str, Any], key: str, default: float) -> float:
    """A request's budget: absent means the server's; zero, negative or not a number is a 422."""
    value = body.get(key)
    if value is None:
        return default
    kinds = (int,) if key == "max_nodes" else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not 0 < value < math.inf:
        what = "a positive integer" if key == "max_nodes" else "a positive, finite number"
        raise BadBudgetError(f"{key} must be {what}, got {value!r:.40}", field=key)
    return value


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
