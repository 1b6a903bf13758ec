"""``aria.engine``: planning in registered domains (``/v1/engine``)."""

from __future__ import annotations

from typing import Any

import aria_actors.engine.errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.sdk.section import Req, Section, route


class EngineAPI(Section):
    @route("GET", "/v1/engine/health")
    def health(self) -> dict[str, Any]:
        """A fresh probe: plan latency and planner actors alive (returned when failing, too)."""
        return Req(accept=(503,))

    @route("GET", "/v1/engine/domains")
    def list_domains(self) -> list[dict[str, Any]]:
        return Req()

    @route("GET", "/v1/engine/domains/{name}")
    def describe_domain(self, name: str) -> dict[str, Any]:
        return Req(path={"name": name})

    @route("POST", "/v1/engine/plan")
    def plan(self, domain: str, *, problem: str | None = None, state: dict[str, Any] | None = None,
             todo: list[Any] | None = None, **options: Any) -> dict[str, Any]:
        """Plan in a registered domain: a named ``problem``, or a ``state`` and a ``todo`` list."""
        body = {"domain": domain, "problem": problem, "state": state, "todo": todo, **options}
        return Req(json={k: v for k, v in body.items() if v is not None})

    @route("POST", "/v1/engine/plan_many")
    def plan_many(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return Req(json={"requests": requests})

    # -- GOAP, behavior trees, coordination, repair, learning ------------------------------------
    @route("POST", "/v1/engine/goap")
    def goap(self, state: dict[str, Any], goal: dict[str, dict[str, Any]], actions: list[dict[str, Any]],
             **options: Any) -> dict[str, Any]:
        """A cheapest GOAP plan: ``actions`` are ``{"name", "preconditions", "effects", "cost"}``."""
        return Req(json={"state": state, "goal": goal, "actions": actions, **options})

    @route("POST", "/v1/engine/bt/run")
    def run_tree(self, domain: str, state: dict[str, Any], tree: dict[str, Any], **options: Any) -> dict[str, Any]:
        """Tick a behavior tree whose leaves are ``domain``'s actions and tasks (``fail``: refused steps)."""
        return Req(json={"domain": domain, "state": state, "tree": tree, **options})

    @route("POST", "/v1/engine/coordinate")
    def coordinate(self, characters: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
        """Plan several characters over shared ``resources``; conflicts go to the higher priority."""
        return Req(json={"characters": characters, **options})

    @route("POST", "/v1/engine/repair")
    def repair(self, domain: str, *, state: dict[str, Any], todo: list[Any], plan: list[list[Any]],
               failed: int, **options: Any) -> dict[str, Any]:
        """Repair ``plan`` (made from ``state`` for ``todo``) whose step ``failed`` could not run."""
        return Req(json={"domain": domain, "state": state, "todo": todo, "plan": plan, "failed": failed,
                         **options})

    @route("POST", "/v1/engine/learn")
    def learn(self, domain: str, *, problem: str | None = None, state: dict[str, Any] | None = None,
              todo: list[Any] | None = None, **options: Any) -> dict[str, Any]:
        """Plan with the domain's learned method choices and learn from the plan found."""
        body = {"domain": domain, "problem": problem, "state": state, "todo": todo, **options}
        return Req(json={k: v for k, v in body.items() if v is not None})

    @route("GET", "/v1/engine/learn/stats")
    def learning_stats(self, domain: str | None = None) -> dict[str, Any]:
        return Req(params={"domain": domain})

    @route("DELETE", "/v1/engine/learn")
    def clear_learning(self, domain: str | None = None) -> dict[str, Any]:
        return Req(params={"domain": domain})

    # -- decision state: each character's stored plan, current step and beliefs ------------------
    @route("PUT", "/v1/engine/characters/{character}/decision")
    def set_decision(self, character: str, domain: str, *, problem: str | None = None,
                     state: dict[str, Any] | None = None, todo: list[Any] | None = None,
                     plan: list[list[Any]] | None = None, beliefs: dict[str, Any] | None = None,
                     version: int | None = None, **options: Any) -> dict[str, Any]:
        """Give a character a plan from step 0: planned here (``problem``, or ``state`` and ``todo``)
        or given as it is (``plan`` and ``beliefs``); ``version``: the one it replaces."""
        body = {"domain": domain, "problem": problem, "state": state, "todo": todo, "plan": plan,
                "beliefs": beliefs, "version": version, **options}
        return Req(path={"character": character}, json={k: v for k, v in body.items() if v is not None})

    @route("GET", "/v1/engine/characters/{character}/decision")
    def get_decision(self, character: str) -> dict[str, Any]:
        return Req(path={"character": character})

    @route("POST", "/v1/engine/characters/{character}/decision/advance")
    def advance_decision(self, character: str, version: int, *, beliefs: dict[str, Any] | None = None,
                         simulate: bool = True) -> dict[str, Any]:
        """The character did its current step (in ``version``); a stale version is a Conflict."""
        body = {"version": version, "simulate": simulate, "beliefs": beliefs}
        return Req(path={"character": character}, json={k: v for k, v in body.items() if v is not None})

    @route("PATCH", "/v1/engine/characters/{character}/decision/beliefs")
    def update_beliefs(self, character: str, vars: dict[str, Any], *, replace: bool = False,
                       version: int | None = None) -> dict[str, Any]:
        body = {"vars": vars, "replace": replace, "version": version}
        return Req(path={"character": character}, json={k: v for k, v in body.items() if v is not None})

    @route("POST", "/v1/engine/characters/{character}/decision/fail")
    def fail_decision(self, character: str, reason: str, *, version: int | None = None) -> dict[str, Any]:
        body = {"reason": reason, "version": version}
        return Req(path={"character": character}, json={k: v for k, v in body.items() if v is not None})

    @route("POST", "/v1/engine/characters/{character}/decision/replan")
    def replan_decision(self, character: str, *, todo: list[Any] | None = None, version: int | None = None,
                        **options: Any) -> dict[str, Any]:
        body = {"todo": todo, "version": version, **options}
        return Req(path={"character": character}, json={k: v for k, v in body.items() if v is not None})

    @route("GET", "/v1/engine/characters/{character}/decision/history")
    def decision_history(self, character: str, *, limit: int = 50) -> list[dict[str, Any]]:
        return Req(path={"character": character}, params={"limit": limit})

    @route("GET", "/v1/engine/decisions")
    def list_decisions(self, *, status: str | None = None, after: str | None = None,
                       limit: int = 50) -> dict[str, Any]:
        """One page: ``{"items", "next"}``; pass ``next`` as ``after`` for the following page."""
        params = {"status": status, "after": after, "limit": limit}
        return Req(params={k: v for k, v in params.items() if v is not None})
