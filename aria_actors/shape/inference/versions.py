"""Model versions in the serving actor: registering versions with the inference backend, A/B
traffic between them, promotion of the winner, and what is served kept in Postgres.

A mixin of :class:`aria_actors.shape.service.ShapeService` (it uses the service's store, backend,
config and served version); kept apart so that each module holds one concern.

::

    set_traffic({v1: w1, v2: w2})   versions registered with the backend (Serve: applications
                                    deployed on their first routed request); split stored
    complete_ab / describe / ...    TrafficSplit.pick(key) -> version -> backend; counters per
                                    version in memory --flush_metrics (every ab_flush_s, at stop,
                                    before traffic_report)--> aria_shape.ab_metrics
    feedback(version, value)        stored, then counted; the leader is the best mean feedback
    promote([version])              winner stored as served, split cleared (one transaction); every
                                    other version removed from the backend (Serve: app deleted)
    start (a new or restarted actor) aria_shape.serving -> served version + split with its
                                    metrics, their versions registered with the backend

Guarantees and caveats
----------------------
- With aria_data (the runtime always gives it) the served version, the split and its metrics
  live in Postgres (:mod:`aria_actors.shape.store`): a restarted actor serves the promoted version and goes on
  with the running A/B test, metrics included. ``set_traffic`` and ``promote`` write the served
  version and the split together in one transaction, so a crash leaves the old state or the new.
- Feedback is stored before the call returns: none is lost. Request, token and time counters are
  on the generation path, so they are kept in memory and flushed in one statement every
  ``ARIA_SHAPE_AB_FLUSH_S`` (1 s) and at stop: a crash loses at most the last interval's counts
  (never feedback, the split or the served version). A flush that fails keeps its counts for the
  next one.
- A stored version that is no longer in ``model_versions`` (a database restored from an older
  backup) does not fail the boot: the service serves ``base`` (or drops the split) and says so
  in ``health()`` (``degraded``, ``details["serving_problems"]``) until the next promotion or split.
- Without aria_data (unit tests, tools) all of it lives in the actor's memory and restarts from
  zero (serving ``base``) with it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from typing import TYPE_CHECKING, Any

from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.shape.errors import (
    InvalidTraffic,
    NothingToPromote,
    NoTrafficSplit,
    UnknownModelVersion,
)
from aria_actors.shape.inference.traffic import MAX_FEEDBACK, RESPONSE_ID, TrafficSplit, scorer, ticket_for
from aria_actors.shape.source import ModelSource

log = logging.getLogger("aria.shape")


class ModelVersionsMixin:
    """Version, A/B and promotion methods of ShapeService."""

    settings: Any
    config: Any
    deps: Any
    _store: Any
    _served_version: str
    _traffic: Any
    _serving_lock: asyncio.Lock
    _serving_problems: dict[str, str]
    _ab_scores: dict[tuple[str, str], float]  # without a store: (scorer, version) -> score

    if TYPE_CHECKING:  # provided by ShapeService
        def _records(self) -> Any: ...
        def _inference(self) -> Any: ...
        def _record(self, version: str, tokens: int, t0: float) -> None: ...
        def _route(self, key: str | None) -> tuple[TrafficSplit | None, str]: ...
        def _base_source(self) -> Any: ...

    async def _register_version(self, model_id: str) -> dict[str, Any]:
        """Tell the backend about a registered version (UnknownModelVersion if there is none);
        ``base`` is the configured model (an A/B arm, a rollback target), registered or not."""
        if model_id == "base":
            source = self._base_source()
            self._inference().add("base", source)
            return {"id": "base", "path": source.label}
        row = await self._records().model(model_id)
        self._inference().add(model_id, ModelSource.of(self.config, self.settings.home, row["path"],
                                                        namespace=self.settings.namespace))
        return row

    # -- what is served, in Postgres -----------------------------------------------------------
    async def _restore_serving(self) -> None:
        """At start: the stored served version and split, their versions registered with the
        backend; a version gone from the registry is reported, not fatal."""
        state = await self._store.serving()
        if state is None:
            return
        problems: dict[str, str] = {}
        try:
            await self._register_version(state["version"])
            self._served_version = state["version"]
        except UnknownModelVersion as exc:
            problems["served_version"] = f"stored served version dropped, serving 'base': {exc.message}"
        if state["weights"] is not None:
            weights = dict(state["weights"])
            try:
                for version in weights:
                    await self._register_version(version)
                key = state["feedback_key"] or await self._store.keep_feedback_key(secrets.token_bytes(32))
                self._traffic = TrafficSplit.restore(weights, state["seed"], state["metrics"], key)
            except UnknownModelVersion as exc:
                problems["traffic"] = f"stored A/B split {weights} dropped: {exc.message}"
        self._serving_problems = problems

    async def flush_metrics(self) -> int:
        """Store the A/B counters recorded since the last flush; returns how many versions had
        some. Runs every ``ab_flush_s`` and at stop; a no-op without a store."""
        async with self._serving_lock:
            split = self._traffic
            if self._store is None or split is None:
                return 0
            deltas = split.take_unflushed()
            if not deltas:
                return 0
            write = asyncio.ensure_future(self._store.add_counts(deltas))
            try:
                # Shielded: a caller cancelled mid-flush (stop(), a request that timed out) must not
                # cut an UPDATE whose outcome it cannot know; the write goes on by itself, and its
                # counts come back only if it fails (given back now, they could be stored twice).
                await asyncio.shield(write)
            except asyncio.CancelledError:
                write.add_done_callback(lambda w: split.give_back(deltas)
                                        if not w.cancelled() and w.exception() is not None else None)
                raise
            except Exception:
                split.give_back(deltas)  # counted at the next flush
                raise
            return len(deltas)

    def _start_flushing(self) -> asyncio.Task[None]:
        # a failed flush keeps its counts in memory for the next tick
        return periodic(self.config.ab_flush_s, self.flush_metrics, what="flushing A/B metrics", log=log)

    async def _stop_flushing(self, task: asyncio.Task[None] | None) -> None:
        await stop_task(task)
        try:
            await self.flush_metrics()
        except Exception:  # the database may be the reason we stop
            log.warning("final flush of A/B metrics failed; up to one interval of counts lost",
                        exc_info=True)

    async def _set_serving(self, version: str | None, split: Any) -> None:
        """Store and apply what is served, together (the caller registered the versions);
        ``version`` None keeps the served version as it is once the lock is held (a promotion
        that got there first is not undone)."""
        async with self._serving_lock:
            version = self._served_version if version is None else version
            if self._store is not None:
                await self._store.set_serving(version, split.weights if split else None,
                                              split.seed if split else 0, split.key if split else None)
            self._served_version, self._traffic = version, split
            self._serving_problems = {}
            self._ab_scores = {}

    # -- versions, A/B, promotion ---------------------------------------------------------------
    # Loading a version takes a replica's memory and CPU: the operators' call, like promotion.
    @rpc("shape:model:deploy", scope="any", feature="model-versions")
    async def load_version(self, caller: Principal, model_id: str) -> dict[str, Any]:
        """Load (locally) or deploy (Serve) a registered model version now; returns its size."""
        row = await self._register_version(model_id)
        info = await self._inference().ensure(model_id)
        return {"id": model_id, "path": row["path"], **info}

    @rpc("shape:model:promote", scope="any", feature="model-versions")
    async def set_traffic(self, caller: Principal, weights: dict[str, float], seed: int = 0) -> dict[str, Any]:
        """Start an A/B test: generation requests split between versions by weight (a running
        test is replaced and its metrics start again)."""
        split = TrafficSplit(weights, seed)  # refuses bad weights before anything changes
        for version in weights:
            await self._register_version(version)
        await self._set_serving(None, split)
        return split.report()

    @rpc("shape:completion:generate", features=("model-versions", "model-inference"))
    async def complete_ab(self, caller: Principal, prompt: str, *, key: str | None = None,
                          max_new_tokens: int | None = None, seed: int | None = None) -> dict[str, Any]:
        """One completion from the version the traffic split picks (sticky per ``key``)."""
        split, version = self._route(key)
        t0 = time.perf_counter()
        [out] = await self._inference().complete(version, [prompt],
                                                 max_new_tokens=max_new_tokens or self.config.max_new_tokens,
                                                 seed=seed)
        self._record(version, out.tokens, t0)
        return {"version": version, "text": out.text, "tokens": out.tokens,
                "response_id": ticket_for(split, version, caller)}

    @rpc("shape:traffic:write", feature="model-versions")
    async def feedback(self, caller: Principal, version: str, response_id: str, value: float) -> None:
        """The caller's outcome score of ``version`` in the running A/B test (what promotion
        compares), given on a response it served them: ``response_id`` as the completion or stream
        answered it; ``value`` a finite number of at most MAX_FEEDBACK either way. One score per
        caller and version: a newer one replaces theirs. Stored before this returns."""
        if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
                or abs(value) > MAX_FEEDBACK):
            raise BadRequest(f"value must be a finite number from -{MAX_FEEDBACK:g} to {MAX_FEEDBACK:g}",
                             field="value")
        if not isinstance(response_id, str) or not RESPONSE_ID.fullmatch(response_id):
            raise BadRequest("response_id must be the id a completion answered with", field="response_id")
        who = scorer(caller)
        async with self._serving_lock:
            split = self._traffic
            if split is None:
                raise NoTrafficSplit("no A/B test is running; start one with set_traffic", version=version)
            split.check(version)
            split.redeem(version, who, response_id)
            if self._store is None:
                old = self._ab_scores.get((who, version))
                self._ab_scores[(who, version)] = value
            else:
                found, old = await self._store.add_feedback(version, value, response_id, who)
                if not found:
                    raise InvalidTraffic(f"version {version!r} has no stored A/B metrics", version=version)
            split.feedback(version, value, replaces=old)

    @rpc("shape:traffic:read", feature="model-versions")
    async def traffic_report(self, caller: Principal) -> dict[str, Any] | None:
        """The running split's weights, leader and per-version metrics (flushed first, so the
        stored metrics match the report)."""
        await self.flush_metrics()
        return self._traffic.report() if self._traffic else None

    @rpc("shape:model:promote", scope="any", feature="model-versions")
    async def promote(self, caller: Principal, version: str | None = None) -> dict[str, Any]:
        """Serve ``version`` (default: the A/B leader by mean feedback) for all traffic; every other
        version leaves the backend (Serve: its application is deleted).

        The leader and the returned report come from the totals in memory, which include the
        counts not flushed yet; the stored metrics are cleared with the split, so they are not
        flushed first."""
        split = self._traffic
        report = split.report() if split else None
        winner = version or (split.leader() if split else None)
        if winner is None:
            raise NothingToPromote("nothing to promote: name a version or collect feedback first")
        backend = self._inference()
        if winner not in backend.versions():
            await self._register_version(winner)  # raises UnknownModelVersion for unknown ids
        await self._set_serving(winner, None)
        removed = [v for v in backend.versions() if v != winner]
        for loser in removed:
            await backend.remove(loser)
        return {"promoted": winner, "removed": removed, "ab_report": report}
