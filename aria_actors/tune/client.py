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
    @rpc("tune:abtest:read", scope="any", feature="model-ab-testing")
    async def ab_test(self, caller: Principal, name: str) -> dict[str, Any]:
        """The test with its statistics: per arm n, mean, variance; the difference, its confidence..."""

    @rpc("tune:query:run", scope="any", feature="query-optimization")
    async def analyze_statements(
        self,
        caller: Principal,
        queryid: str | int | None = None,
        limit: int = 10,
        min_calls: int = 2,
    ) -> dict[str, Any]:
        """Index suggestions for statement ``queryid``, or for the ``limit`` statements of most total..."""

    @rpc("tune:autotune:apply", scope="any", feature="auto-tuning")
    async def autotune_apply(self, caller: Principal, change_id: int) -> dict[str, Any]:
        """Apply a proposal (audited as the caller): it is measured before and after, in the..."""

    @rpc("tune:autotune:read", scope="any", feature="auto-tuning")
    async def autotune_change(self, caller: Principal, change_id: int) -> dict[str, Any]:
        """One change with its measurements and decision."""

    @rpc("tune:autotune:list", scope="any", feature="auto-tuning")
    async def autotune_changes(
        self,
        caller: Principal,
        knob: str | None = None,
        target: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Changes newest first: proposals, measurements and decisions (``status`` filters)."""

    @rpc("tune:autotune:read", scope="any", feature="auto-tuning")
    async def autotune_knobs(self, caller: Principal) -> dict[str, Any]:
        """The knobs, their limits and their targets' values now (whether a raise may help), and the..."""

    @rpc("tune:autotune:write", scope="any", feature="auto-tuning")
    async def autotune_propose(
        self,
        caller: Principal,
        knob: str,
        target: str,
        value: int,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Propose setting ``knob`` of ``target`` to ``value`` (within the knob's limits); nothing..."""

    @rpc("tune:autotune:apply", scope="any", feature="auto-tuning")
    async def autotune_reject(
        self,
        caller: Principal,
        change_id: int,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Drop a proposal (nothing is changed); recorded with who rejected it."""

    @rpc("tune:autotune:write", scope="any", feature="auto-tuning")
    async def autotune_scan(self, caller: Principal) -> dict[str, Any]:
        """Look at every allowed knob's targets now and propose a raise where jobs wait and every slot..."""

    @rpc("tune:query:run", scope="any", feature="query-optimization")
    async def check_index(
        self,
        caller: Principal,
        queryid: str | int,
        table: str,
        columns: list[str],
    ) -> dict[str, Any]:
        """Check one index (``table`` as ``schema.table``, ``columns``) for statement ``queryid`` on a..."""

    @rpc("tune:query:run", scope="any", feature="query-optimization")
    async def choose_strategy(
        self,
        caller: Principal,
        domain: str,
        strategies: list[str] | None = None,
        problems: int = 5,
        repeats: int = 1,
        max_seconds: float = 5.0,
    ) -> dict[str, Any]:
        """Time each planning strategy on the domain's stored problems and record the fastest that..."""

    @rpc("tune:study:write", scope="own", feature="architecture-search")
    async def create_arch_search(
        self,
        caller: Principal,
        name: str,
        target: str = 'din',
        space: dict[str, Any] | None = None,
        objectives: list[Any] | None = None,
        sampler: dict[str, Any] | str | None = None,
        budget: int = 20,
        parallelism: int = 1,
    ) -> dict[str, Any]:
        """A new architecture search of ``target`` (``din``): a study over its architecture whose..."""

    @rpc("tune:study:write", scope="own", feature="pipeline-optimization")
    async def create_pipeline_study(
        self,
        caller: Principal,
        name: str,
        target: str = 'din',
        space: dict[str, Any] | None = None,
        tolerance: float = 0.01,
        sampler: dict[str, Any] | str | None = None,
        budget: int = 8,
        parallelism: int = 1,
    ) -> dict[str, Any]:
        """A new study of ``target``'s training pipeline (batch size, threads, precision): each trial a..."""

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

    @rpc("tune:abtest:decide", scope="any", feature="model-ab-testing")
    async def decide_ab_test(self, caller: Principal, name: str) -> dict[str, Any]:
        """Promote the winner when the verdict is in (candidate: ``promoted``; control, or no..."""

    @rpc("tune:resources:decide", scope="any", feature="resource-optimization")
    async def decide_resource_proposal(
        self,
        caller: Principal,
        proposal_id: int,
        decision: str,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Accept or reject a proposal (administrators; audited; once). Accepting records the decision..."""

    @rpc("tune:study:write", scope="own", feature="hyperparameters")
    async def delete_study(self, caller: Principal, name: str) -> dict[str, Any]:
        """Delete a study and its trials (jobs still queued for it end without running)."""

    @rpc("tune:cache:read", scope="any", feature="cache-optimization")
    async def get_cache(self, caller: Principal, name: str) -> dict[str, Any]:
        """One cache's view with a finer curve (33 points over 1/8x..8x)."""

    @rpc("tune:resources:read", scope="any", feature="resource-optimization")
    async def get_resource_proposal(self, caller: Principal, proposal_id: int) -> dict[str, Any]:
        """One recorded proposal with its evidence and decision."""

    @rpc("tune:study:read", scope="own", feature="hyperparameters")
    async def get_study(self, caller: Principal, name: str) -> dict[str, Any]:
        """A study: settings, status, trial counts by state, and its best trial."""

    @rpc("tune:abtest:list", scope="any", feature="model-ab-testing")
    async def list_ab_tests(
        self,
        caller: Principal,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The tests, newest first (without live statistics: ``ab_test`` reads them)."""

    @rpc("tune:cache:read", scope="any", feature="cache-optimization")
    async def list_caches(self, caller: Principal) -> dict[str, Any]:
        """Every service's caches: size, capacity, hits, misses, evictions, the LRU hit-ratio curve at..."""

    @rpc("tune:study:list", feature="hyperparameters")
    async def list_objectives(self, caller: Principal) -> list[dict[str, Any]]:
        """The objectives a study may name, with their parameters, direction, known optimum and usual..."""

    @rpc("tune:resources:list", scope="any", feature="resource-optimization")
    async def list_resource_proposals(
        self,
        caller: Principal,
        service: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Recorded proposals, newest first, with their evidence and decision."""

    @rpc("tune:query:read", scope="any", feature="query-optimization")
    async def list_statements(self, caller: Principal, limit: int = 50, min_calls: int = 1) -> dict[str, Any]:
        """The database's statements from pg_stat_statements, most total time first (``available``..."""

    @rpc("tune:study:list", scope="own", feature="hyperparameters")
    async def list_studies(self, caller: Principal, limit: int = 100) -> list[dict[str, Any]]:
        """Studies the caller may see in its tenant, newest first: its own, or (``@tenant``) all."""

    @rpc("tune:query:read", scope="any", feature="query-optimization")
    async def list_suggestions(
        self,
        caller: Principal,
        queryid: str | int | None = None,
        verdict: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Recorded index suggestions, latest check first."""

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

    @rpc("tune:study:read", scope="own", feature="architecture-search")
    async def pareto_front(self, caller: Principal, name: str) -> dict[str, Any]:
        """The complete trials of a multi-objective study that no other complete trial dominates, each..."""

    @rpc("tune:study:read", scope="own", feature="pipeline-optimization")
    async def pipeline_proposal(self, caller: Principal, name: str) -> dict[str, Any]:
        """The proposed training settings of a pipeline study: the fastest measured run whose..."""

    @rpc("tune:resources:write", scope="any", feature="resource-optimization")
    async def propose_resources(
        self,
        caller: Principal,
        window_s: float = 3600.0,
        service: str | None = None,
    ) -> dict[str, Any]:
        """Measure as :meth:`resources` and record each service's proposal with its evidence (status..."""

    @rpc("tune:cache:apply", scope="any", feature="cache-optimization")
    async def resize_cache(self, caller: Principal, name: str, size: int) -> dict[str, Any]:
        """Set a cache's capacity in its process (caches resizable at runtime only; a 409 names the..."""

    @rpc("tune:resources:read", scope="any", feature="resource-optimization")
    async def resources(
        self,
        caller: Principal,
        window_s: float = 3600.0,
        service: str | None = None,
    ) -> dict[str, Any]:
        """Every service's CPU and memory use over the window against its reservation, with a verdict..."""

    @rpc("tune:query:run", scope="any", feature="query-optimization")
    async def run_probe(self, caller: Principal, rows: int = 20000, runs: int = 50) -> dict[str, Any]:
        """Refill aria_tune's probe table with ``rows`` rows and run its lookup on the unindexed column..."""

    @rpc("tune:trial:run", scope="own", job=True, feature="hyperparameters")
    async def run_trial(self, caller: Principal, study_id: int, number: int) -> dict[str, Any]:
        """Run trial ``number`` of study ``study_id`` (what a ``service:aria_tune.run_trial`` job..."""

    @rpc("tune:abtest:write", scope="any", feature="model-ab-testing")
    async def start_ab_test(
        self,
        caller: Principal,
        name: str,
        target: str,
        control: str,
        candidate: str,
        share: float = 0.5,
        alpha: float = 0.05,
        min_samples: int = 100,
        max_samples: int | None = None,
        direction: str = 'maximize',
        study: str | None = None,
        method: str = 'sequential',
        effect: float | None = None,
    ) -> dict[str, Any]:
        """Split ``target``'s traffic between ``control`` (the served version) and ``candidate``..."""

    @rpc("tune:abtest:decide", scope="any", feature="model-ab-testing")
    async def stop_ab_test(self, caller: Principal, name: str) -> dict[str, Any]:
        """End the test without a verdict: the control is served to everyone again."""

    @rpc("tune:study:write", scope="own", feature="hyperparameters")
    async def stop_study(self, caller: Principal, name: str) -> dict[str, Any]:
        """Stop enqueueing trials; those running finish and are recorded. ``optimize`` resumes."""

    @rpc("tune:query:read", scope="any", feature="query-optimization")
    async def strategy_choices(
        self,
        caller: Principal,
        domain: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The recorded strategy choices, one per domain."""

    @rpc("tune:study:write", scope="own", feature="model-ab-testing")
    async def train_candidate(
        self,
        caller: Principal,
        name: str,
        version: str,
        trial: int | None = None,
        dataset: str = 'interactions',
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Train study ``name``'s best complete trial (or ``trial``) into model ``version`` of the..."""
