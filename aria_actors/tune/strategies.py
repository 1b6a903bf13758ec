"""aria_tune's planner strategy choice per aria_engine domain (seed feature ``query-optimization``,
part (b): algorithm optimisation from measured runs).

::

    choose_strategy(domain, strategies, problems, repeats, max_seconds)
        aria_engine.describe_domain -> the domain's stored problems (the first ``problems``, by id)
        -> for each strategy, each problem, ``repeats`` times: aria_engine.plan {domain, problem,
           strategy, max_seconds}: status (found | no_plan | budget_exhausted | error), the
           planner's own elapsed_s (the fastest repeat), the plan's length
        -> recommended: the strategy that solved every problem in the least total planner time;
           none when no strategy solved them all (the reason says which failed)
        -> recorded (aria_tune.strategy_choices, one row per domain, replaced by a new measurement)
    strategy_choices(domain?) -> the recorded choices

Guarantees and caveats
----------------------
- Plans run through aria_engine's client as the caller (``engine:plan:run``), one at a time, so
  the timings are not skewed by each other; the planner's ``elapsed_s`` is used (not the call's
  wall time, which adds the transport), the fastest of ``repeats`` runs (the least disturbed by a
  loaded machine). A budget the engine refuses (its 422) counts as unsolved, not as an error.
- Strategies are those aria_engine's planner takes (``dfs``, ``greedy``); a request names them,
  never code. Bounded: at most MAX_PROBLEMS problems x MAX_REPEATS repeats per strategy.
"""

from __future__ import annotations

import math
import re
from typing import Any

from aria_actors.engine.client import EngineClient
from aria_actors.runtime.errors import AriaError, BadRequest, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

STRATEGIES = ("dfs", "greedy")  # what aria_engine's planner accepts (engine/runner.py)
MAX_PROBLEMS = 50
MAX_REPEATS = 10
MAX_PLAN_SECONDS = 60.0
_DOMAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{field} must be an integer from {low} to {high}", field=field)
    return value


def check_strategies(value: Any) -> list[str]:
    if value is None:
        return list(STRATEGIES)
    if not isinstance(value, list | tuple) or not value:
        raise BadRequest(f"strategies must be a non-empty list of {', '.join(STRATEGIES)}", field="strategies")
    for i, s in enumerate(value):
        if s not in STRATEGIES:
            raise BadRequest(f"unknown strategy {str(s)[:40]!r}; aria_engine plans with {', '.join(STRATEGIES)}",
                             field=f"strategies[{i}]")
    if len(set(value)) != len(value):
        raise BadRequest("strategies must not repeat one", field="strategies")
    return list(value)


def recommend(results: list[dict[str, Any]], problems: int) -> tuple[str | None, str]:
    """The strategy that solved all ``problems`` in the least planner time, with why."""
    full = [r for r in results if r["solved"] == problems]
    if not full:
        worst = ", ".join(f"{r['strategy']} solved {r['solved']}/{problems}" for r in results)
        return None, f"no strategy solved every problem ({worst})"
    best = min(full, key=lambda r: (r["planner_s"], r["strategy"]))
    others = [r for r in full if r is not best]
    if others:
        runner = min(others, key=lambda r: r["planner_s"])
        return best["strategy"], (f"{best['strategy']} solved all {problems} problems in {best['planner_s']:.4f} s, "
                                  f"{runner['strategy']} in {runner['planner_s']:.4f} s")
    return best["strategy"], f"{best['strategy']} is the only strategy that solved all {problems} problems"


class StrategyChoice:
    """Mixed into :class:`~aria_actors.tune.service.TuneService` beside ``QueryOptimization``, whose
    ``_suggestion_records`` keeps the choices; tests set ``_query_engine``."""

    deps: Any
    _query_engine: Any = None  # an EngineClient-like object (tests); else the dependency's client

    def _planner(self) -> Any:
        if self._query_engine is not None:
            return self._query_engine
        if self.deps.get("aria_engine") is None:
            raise ServiceUnavailable("strategy choice runs aria_engine's planner, which is not a dependency here",
                                     service="aria_engine")
        return self.deps.of(EngineClient)

    @rpc("tune:query:run", scope="any", feature="query-optimization")
    async def choose_strategy(self, caller: Principal, domain: str, strategies: list[str] | None = None,
                              problems: int = 5, repeats: int = 1, max_seconds: float = 5.0) -> dict[str, Any]:
        """Time each planning strategy on the domain's stored problems and record the fastest that
        solves them all."""
        if not isinstance(domain, str) or not _DOMAIN.fullmatch(domain):
            raise BadRequest("domain must be a registered aria_engine domain name", field="domain")
        chosen = check_strategies(strategies)
        problems = _int(problems, "problems", 1, MAX_PROBLEMS)
        repeats = _int(repeats, "repeats", 1, MAX_REPEATS)
        if (isinstance(max_seconds, bool) or not isinstance(max_seconds, int | float) or not math.isfinite(max_seconds)
                or not 0 < max_seconds <= MAX_PLAN_SECONDS):
            raise BadRequest(f"max_seconds must be above 0 and at most {MAX_PLAN_SECONDS:g}", field="max_seconds")
        engine = self._planner()
        described = await engine.describe_domain(caller, domain)  # an unknown domain is aria_engine's 404
        ids = sorted(described.get("problems") or [])[:problems]
        if not ids:
            raise BadRequest(f"domain {domain!r} has no stored problems to measure on", field="domain")
        seconds = float(max_seconds)
        results = [await self._time_strategy(caller, engine, domain, s, ids, repeats, seconds) for s in chosen]
        best, reason = recommend(results, len(ids))
        row = {"domain": domain, "recommended": best, "problems": ids, "results": results, "reason": reason,
               "measured_by": caller.subject}
        return await self._suggestion_records().record_choice(row)

    async def _time_strategy(self, caller: Principal, engine: Any, domain: str, strategy: str, ids: list[str],
                       repeats: int, max_seconds: float) -> dict[str, Any]:
        runs = []
        for pid in ids:
            best: dict[str, Any] | None = None
            for _ in range(repeats):
                body = {"domain": domain, "problem": pid, "strategy": strategy, "max_seconds": max_seconds}
                try:
                    out = await engine.plan(caller, body)
                    run = {"status": out.get("status", "error"), "planner_s": float(out.get("elapsed_s") or 0.0),
                           "plan_length": len(out["plan"]) if out.get("plan") is not None else None,
                           "nodes": out.get("nodes")}
                except AriaError as exc:
                    if exc.status not in (408, 422):  # a refused budget is a result; anything else is not
                        raise
                    run = {"status": "budget_exhausted", "planner_s": float(exc.fields.get("elapsed_s") or max_seconds),
                           "plan_length": None, "nodes": exc.fields.get("nodes")}
                if best is None or run["planner_s"] < best["planner_s"]:
                    best = run
            assert best is not None
            runs.append({"problem": pid} | best)
        solved = sum(r["status"] == "found" for r in runs)
        return {"strategy": strategy, "solved": solved, "problems": len(ids),
                "planner_s": round(sum(r["planner_s"] for r in runs), 6), "runs": runs}

    @rpc("tune:query:read", scope="any", feature="query-optimization")
    async def strategy_choices(self, caller: Principal, domain: str | None = None,
                               limit: int = 100) -> list[dict[str, Any]]:
        """The recorded strategy choices, one per domain."""
        if domain is not None and (not isinstance(domain, str) or not _DOMAIN.fullmatch(domain)):
            raise BadRequest("domain must be an aria_engine domain name", field="domain")
        limit = _int(limit, "limit", 1, 1000)
        return await self._suggestion_records().choices(domain, limit)
