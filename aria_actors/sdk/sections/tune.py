"""``aria.tune``: hyperparameter studies whose trials run as aria_queue jobs (``/v1/tune``)."""

from __future__ import annotations

from typing import Any

import aria_actors.tune.errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.sdk.section import Req, Section, route
from aria_actors.sdk.sections._util import body


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

    @route("POST", "/v1/tune/studies/{name}/candidate")
    def train_candidate(self, name: str, version: str, *, trial: int | None = None, dataset: str | None = None,
                        config: dict[str, Any] | None = None) -> dict[str, Any]:
        """Train the study's best trial (or ``trial``) into model ``version`` of its service: the
        target's training job (as you), the candidate of an A/B test once it completed."""
        return Req(path={"name": name}, json=body(version=version, trial=trial, dataset=dataset, config=config))

    @route("POST", "/v1/tune/studies/{name}/stop")
    def stop_study(self, name: str) -> dict[str, Any]:
        """Enqueue no more trials (running ones finish and are recorded)."""
        return Req(path={"name": name})

    # -- resource proposals (aria_actors/tune/resources.py) -------------------------------------
    @route("GET", "/v1/tune/resources")
    def resources(self, window_s: float = 3600) -> dict[str, Any]:
        """Every service's CPU and memory use over the last ``window_s`` against its reservation,
        with a verdict and a proposed reservation (not recorded)."""
        return Req(params={"window_s": window_s})

    @route("GET", "/v1/tune/resources/{service}")
    def service_resources(self, service: str, window_s: float = 3600) -> dict[str, Any]:
        """One service's use against its reservation, with a proposal."""
        return Req(path={"service": service}, params={"window_s": window_s})

    @route("POST", "/v1/tune/resources/proposals")
    def propose_resources(self, window_s: float = 3600, service: str | None = None) -> dict[str, Any]:
        """Record each service's proposal with its evidence (status ``proposed``)."""
        body: dict[str, Any] = {"window_s": window_s}
        if service is not None:
            body["service"] = service
        return Req(json=body)

    @route("GET", "/v1/tune/resources/proposals")
    def resource_proposals(self, service: str | None = None, status: str | None = None,
                           limit: int = 100) -> list[dict[str, Any]]:
        """Recorded proposals, newest first."""
        return Req(params={"service": service, "status": status, "limit": limit})

    @route("GET", "/v1/tune/resources/proposals/{proposal_id}")
    def resource_proposal(self, proposal_id: int) -> dict[str, Any]:
        return Req(path={"proposal_id": proposal_id})

    @route("POST", "/v1/tune/resources/proposals/{proposal_id}/decision")
    def decide_resource_proposal(self, proposal_id: int, decision: str, note: str | None = None) -> dict[str, Any]:
        """``accepted`` or ``rejected`` (administrators; audited; once)."""
        body: dict[str, Any] = {"decision": decision}
        if note is not None:
            body["note"] = note
        return Req(path={"proposal_id": proposal_id}, json=body)

    # -- cache proposals (aria_actors/tune/cacheopt.py) --------------------------------------------
    @route("GET", "/v1/tune/caches")
    def list_caches(self) -> dict[str, Any]:
        """Every service's caches: counters, LRU hit-ratio curve at 1/8x..8x and a proposed size."""
        return Req()

    @route("GET", "/v1/tune/caches/{name}")
    def get_cache(self, name: str) -> dict[str, Any]:
        """One cache's view with a finer curve."""
        return Req(path={"name": name})

    @route("POST", "/v1/tune/caches/{name}/resize")
    def resize_cache(self, name: str, size: int) -> dict[str, Any]:
        """Set a cache's capacity in its process (administrators; audited; until it restarts)."""
        return Req(path={"name": name}, json={"size": size})

    # -- query optimisation (aria_actors/tune/queryopt.py) -----------------------------------------
    @route("GET", "/v1/tune/queries/statements")
    def list_statements(self, limit: int = 50, min_calls: int = 1) -> dict[str, Any]:
        """pg_stat_statements, most total time first (``available`` false, with why, where not loaded)."""
        return Req(params={"limit": limit, "min_calls": min_calls})

    @route("POST", "/v1/tune/queries/analyze")
    def analyze_statements(self, queryid: str | None = None, *, limit: int = 10, min_calls: int = 2) -> dict[str, Any]:
        """Index suggestions from the statements' plans, each checked on a copy of its table and recorded."""
        body: dict[str, Any] = {"limit": limit, "min_calls": min_calls}
        if queryid is not None:
            body["queryid"] = str(queryid)
        return Req(json=body)

    @route("POST", "/v1/tune/queries/check")
    def check_index(self, queryid: str, table: str, columns: list[str]) -> dict[str, Any]:
        """Check one index (``schema.table``, columns) for a statement on a copy; recorded, never created."""
        return Req(json={"queryid": str(queryid), "table": table, "columns": list(columns)})

    @route("GET", "/v1/tune/queries/suggestions")
    def list_suggestions(self, queryid: str | None = None, verdict: str | None = None,
                         limit: int = 100) -> list[dict[str, Any]]:
        """Recorded index suggestions, latest check first."""
        return Req(params={"queryid": queryid, "verdict": verdict, "limit": limit})

    @route("POST", "/v1/tune/queries/probe")
    def run_probe(self, rows: int = 20_000, runs: int = 50) -> dict[str, Any]:
        """Fill aria_tune's probe table and run its lookup on an unindexed column ``runs`` times."""
        return Req(json={"rows": rows, "runs": runs})

    # -- architecture search (aria_actors/tune/archsearch.py) ---------------------------------------
    @route("POST", "/v1/tune/arch-searches")
    def create_arch_search(self, name: str, target: str = "din", space: dict[str, Any] | None = None, *,
                           objectives: list[Any] | None = None, sampler: dict[str, Any] | str | None = None,
                           budget: int = 20, parallelism: int = 1) -> dict[str, Any]:
        """Create a multi-objective architecture search (a study: :meth:`optimize` runs it)."""
        body: dict[str, Any] = {"name": name, "target": target, "budget": budget, "parallelism": parallelism}
        for key, value in (("space", space), ("objectives", objectives), ("sampler", sampler)):
            if value is not None:
                body[key] = value
        return Req(json=body)

    @route("GET", "/v1/tune/studies/{name}/front")
    def pareto_front(self, name: str) -> dict[str, Any]:
        """The Pareto front of a multi-objective study: its non-dominated complete trials."""
        return Req(path={"name": name})

    # -- the auto-tuner (/v1/tune/autotune) ---------------------------------------------------------
    @route("GET", "/v1/tune/autotune/knobs")
    def autotune_knobs(self) -> dict[str, Any]:
        """Knobs, their limits and their targets' values now, and the auto-tuner's settings."""
        return Req()

    @route("POST", "/v1/tune/autotune/scan")
    def autotune_scan(self) -> dict[str, Any]:
        """Propose a raise for every saturated target (``proposed``, ``skipped`` with why)."""
        return Req()

    @route("POST", "/v1/tune/autotune/proposals")
    def autotune_propose(self, knob: str, target: str, value: int, reason: str | None = None) -> dict[str, Any]:
        """Propose ``knob`` of ``target`` at ``value``; nothing changes until :meth:`autotune_apply`."""
        return Req(json={"knob": knob, "target": target, "value": value, "reason": reason})

    @route("GET", "/v1/tune/autotune/changes")
    def autotune_changes(self, knob: str | None = None, target: str | None = None, status: str | None = None,
                         limit: int = 100) -> list[dict[str, Any]]:
        return Req(params={"knob": knob, "target": target, "status": status, "limit": limit})

    @route("GET", "/v1/tune/autotune/changes/{change_id}")
    def autotune_change(self, change_id: int) -> dict[str, Any]:
        return Req(path={"change_id": change_id})

    @route("POST", "/v1/tune/autotune/changes/{change_id}/apply")
    def autotune_apply(self, change_id: int) -> dict[str, Any]:
        """Apply a proposal: measured before and after in the background, then kept or rolled back."""
        return Req(path={"change_id": change_id})

    @route("POST", "/v1/tune/autotune/changes/{change_id}/reject")
    def autotune_reject(self, change_id: int, reason: str | None = None) -> dict[str, Any]:
        return Req(path={"change_id": change_id}, json={"reason": reason})

    @route("POST", "/v1/tune/queries/strategies/{domain}")
    def choose_strategy(self, domain: str, strategies: list[str] | None = None, *, problems: int = 5,
                        repeats: int = 1, max_seconds: float = 5.0) -> dict[str, Any]:
        """Time aria_engine's strategies on the domain's problems; the fastest that solves all is recorded."""
        body: dict[str, Any] = {"problems": problems, "repeats": repeats, "max_seconds": max_seconds}
        if strategies is not None:
            body["strategies"] = list(strategies)
        return Req(path={"domain": domain}, json=body)

    @route("GET", "/v1/tune/queries/strategies")
    def strategy_choices(self, domain: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The planning strategy recorded for each aria_engine domain."""
        return Req(params={"domain": domain, "limit": limit})

    # -- training pipeline optimisation (aria_actors/tune/pipeline.py) -----------------------------
    @route("POST", "/v1/tune/pipeline-studies")
    def create_pipeline_study(self, name: str, target: str = "din", space: dict[str, Any] | None = None, *,
                              tolerance: float = 0.01, sampler: dict[str, Any] | str | None = None,
                              budget: int = 8, parallelism: int = 1) -> dict[str, Any]:
        """Create a study of measured training runs (a study: :meth:`optimize` runs it)."""
        body: dict[str, Any] = {"name": name, "target": target, "tolerance": tolerance, "budget": budget,
                                "parallelism": parallelism}
        for key, value in (("space", space), ("sampler", sampler)):
            if value is not None:
                body[key] = value
        return Req(json=body)

    @route("GET", "/v1/tune/studies/{name}/pipeline-proposal")
    def pipeline_proposal(self, name: str) -> dict[str, Any]:
        """The fastest measured settings within the study's GAUC tolerance, and every run."""
        return Req(path={"name": name})

    # -- A/B tests of model versions (aria_actors/tune/abtest.py) --------------------------------
    @route("POST", "/v1/tune/ab-tests")
    def start_ab_test(self, name: str, target: str, control: str, candidate: str, *, share: float = 0.5,
                      alpha: float = 0.05, min_samples: int = 100, max_samples: int | None = None,
                      direction: str = "maximize", study: str | None = None, method: str = "sequential",
                      effect: float | None = None) -> dict[str, Any]:
        """Split ``target``'s traffic (aria_shape or aria_interpret) between two versions; ``method``
        sequential (decide may be polled) or fixed (one look at a planned sample size)."""
        return Req(json=body(name=name, target=target, control=control, candidate=candidate, share=share,
                             alpha=alpha, min_samples=min_samples, max_samples=max_samples, direction=direction,
                             study=study, method=method, effect=effect))

    @route("GET", "/v1/tune/ab-tests")
    def ab_tests(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """A/B tests, newest first."""
        return Req(params={"status": status, "limit": limit})

    @route("GET", "/v1/tune/ab-tests/{name}")
    def ab_test(self, name: str) -> dict[str, Any]:
        """One test with its statistics (n, mean, variance per arm; Welch's p-value) and verdict."""
        return Req(path={"name": name})

    @route("POST", "/v1/tune/ab-tests/{name}/decide")
    def decide_ab_test(self, name: str) -> dict[str, Any]:
        """Promote the winner once the verdict is in (409 before)."""
        return Req(path={"name": name})

    @route("POST", "/v1/tune/ab-tests/{name}/stop")
    def stop_ab_test(self, name: str) -> dict[str, Any]:
        """End the test without a verdict; the control is served."""
        return Req(path={"name": name})
