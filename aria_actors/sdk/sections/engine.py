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
