"""``aria.tune``: hyperparameter studies whose trials run as aria_queue jobs (``/v1/tune``)."""

from __future__ import annotations

from typing import Any

import aria_actors.tune.errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.sdk.section import Req, Section, route


class TuneAPI(Section):
    @route("GET", "/v1/tune/objectives")
    def list_objectives(self) -> list[dict[str, Any]]:
        """The objectives a study may name (parameters, direction, known optimum, usual space)."""
        return Req()

    @route("POST", "/v1/tune/studies")
    def create_study(self, name: str, objective: str, space: dict[str, Any] | None = None, *,
                     direction: str | None = None, sampler: dict[str, Any] | str | None = None,
                     pruner: dict[str, Any] | str | None = None, budget: int = 20,
                     parallelism: int = 1) -> dict[str, Any]:
        """Create a study (status ``created``); :meth:`optimize` runs it."""
        body: dict[str, Any] = {"name": name, "objective": objective, "budget": budget, "parallelism": parallelism}
        for key, value in (("space", space), ("direction", direction), ("sampler", sampler), ("pruner", pruner)):
            if value is not None:
                body[key] = value
        return Req(json=body)

    @route("GET", "/v1/tune/studies")
    def list_studies(self, limit: int = 100) -> list[dict[str, Any]]:
        return Req(params={"limit": limit})

    @route("GET", "/v1/tune/studies/{name}")
    def get_study(self, name: str) -> dict[str, Any]:
        """Settings, status, trial counts by state and the best trial."""
        return Req(path={"name": name})

    @route("DELETE", "/v1/tune/studies/{name}")
    def delete_study(self, name: str) -> dict[str, Any]:
        return Req(path={"name": name})

    @route("GET", "/v1/tune/studies/{name}/trials")
    def list_trials(self, name: str, state: str | None = None, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        return Req(path={"name": name}, params={"state": state, "after": after, "limit": limit})

    @route("POST", "/v1/tune/studies/{name}/optimize")
    def optimize(self, name: str, budget: int | None = None, parallelism: int | None = None) -> dict[str, Any]:
        """Start or continue the study: trials are enqueued ``parallelism`` at a time until ``budget``."""
        body = {k: v for k, v in (("budget", budget), ("parallelism", parallelism)) if v is not None}
        return Req(path={"name": name}, json=body)

    @route("POST", "/v1/tune/studies/{name}/stop")
    def stop_study(self, name: str) -> dict[str, Any]:
        """Enqueue no more trials (running ones finish and are recorded)."""
        return Req(path={"name": name})
