"""Model versions in the serving actor: registering versions with the inference backend, A/B
traffic between them, promotion of the winner, and training runs that register new versions.

A mixin of :class:`aria_actors.shape.service.ShapeService` (it uses the service's store, backend,
config and served version); kept apart so that each module holds one concern.

::

    set_traffic({v1: w1, v2: w2})   versions registered with the backend (Serve: applications
                                    deployed on their first routed request)
    complete_ab / describe / ...    TrafficSplit.pick(key) -> version -> backend; metrics per version
    feedback(version, value)        outcome scores; the leader is the best mean feedback
    promote([version])              all traffic to the winner; every other version removed from
                                    the backend (Serve: its application deleted)

Guarantees and caveats
----------------------
- ``train`` runs in the service actor, one run at a time, on the served version's model loaded
  in this process for the run (generation keeps going through the backend meanwhile): for long
  runs enqueue the ``aria_shape.train`` job instead. With aria_storage it checkpoints there and
  resumes a run of the same version id.
- A/B metrics, the split and the served version live in the actor's memory and restart from
  zero (serving ``base``) with it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from aria_actors.shape.errors import ShapeError


class ModelVersionsMixin:
    """Version, A/B and training methods of ShapeService."""

    settings: Any
    config: Any
    deps: Any
    _served_version: str
    _traffic: Any
    _train_lock: Any

    if TYPE_CHECKING:  # provided by ShapeService
        def _records(self) -> Any: ...
        def _inference(self) -> Any: ...
        def _record(self, version: str, tokens: int, t0: float) -> None: ...
        def _route(self, key: str | None) -> str: ...
        def _base_source(self) -> Any: ...

    async def _register_version(self, model_id: str) -> dict[str, Any]:
        """Tell the backend about a registered version (UnknownModelVersion if there is none);
        ``base`` is the configured model (an A/B arm, a rollback target), registered or not."""
        from aria_actors.shape.config import ModelSource

        if model_id == "base":
            source = self._base_source()
            self._inference().add("base", source)
            return {"id": "base", "path": source.label}
        row = await self._records().model(model_id)
        self._inference().add(model_id, ModelSource.of(self.config, self.settings.home, row["path"]))
        return row

    async def load_version(self, model_id: str) -> dict[str, Any]:
        """Load (locally) or deploy (Serve) a registered model version now; returns its size."""
        row = await self._register_version(model_id)
        info = await self._inference().ensure(model_id)
        return {"id": model_id, "path": row["path"], **info}

    async def set_traffic(self, weights: dict[str, float], seed: int = 0) -> dict[str, Any]:
        """Start an A/B test: generation requests split between versions by weight."""
        from aria_actors.shape.traffic import TrafficSplit

        split = TrafficSplit(weights, seed)  # refuses bad weights before anything changes
        for version in weights:
            await self._register_version(version)
        self._traffic = split
        return split.report()

    async def complete_ab(self, prompt: str, *, key: str | None = None, max_new_tokens: int | None = None,
                          seed: int | None = None) -> dict[str, Any]:
        """One completion from the version the traffic split picks (sticky per ``key``)."""
        version = self._route(key)
        t0 = time.perf_counter()
        [out] = await self._inference().complete(version, [prompt],
                                                 max_new_tokens=max_new_tokens or self.config.max_new_tokens,
                                                 seed=seed)
        self._record(version, out.tokens, t0)
        return {"version": version, "text": out.text, "tokens": out.tokens}

    async def feedback(self, version: str, value: float) -> None:
        """An outcome score for a response served by ``version`` (what promotion compares)."""
        if self._traffic is None:
            raise ShapeError("no A/B test is running; start one with set_traffic", version=version)
        self._traffic.feedback(version, value)

    async def traffic_report(self) -> dict[str, Any] | None:
        return self._traffic.report() if self._traffic else None

    async def promote(self, version: str | None = None) -> dict[str, Any]:
        """Serve ``version`` (default: the A/B leader by mean feedback) for all traffic; every other
        version leaves the backend (Serve: its application is deleted)."""
        report = self._traffic.report() if self._traffic else None
        winner = version or (self._traffic.leader() if self._traffic else None)
        if winner is None:
            raise ShapeError("nothing to promote: name a version or collect feedback first")
        backend = self._inference()
        if winner not in backend.versions():
            await self._register_version(winner)  # raises UnknownModelVersion for unknown ids
        self._served_version = winner
        self._traffic = None
        removed = [v for v in backend.versions() if v != winner]
        for loser in removed:
            await backend.remove(loser)
        return {"promoted": winner, "removed": removed, "ab_report": report}

    # -- training (in this actor, one run at a time) ------------------------------------------
    async def train(self, version_id: str, *, steps: int = 20, prompts_per_step: int = 4,
                    settings: dict[str, Any] | None = None, eval_prompts: int = 8,
                    seed: int = 0, checkpoint_every: int = 5) -> dict[str, Any]:
        """GRPO on a copy of the served model for ``steps``; the result is a new model version.

        With aria_storage as a dependency, a checkpoint goes to it every ``checkpoint_every``
        steps and at the end (run name ``version_id``; a call that finds that run's checkpoints
        resumes after the newest one), and the version's path is the final checkpoint fetched to
        ``ARIA_HOME/shape/checkpoints``; the dedupe of each checkpoint is in the metrics. Without
        it, the final weights go to ``ARIA_HOME/shape/checkpoints/<version_id>``. The version is
        registered with the served version as parent, the held-out mean reward before and after
        as metrics and the GRPO settings as training config. The served model does not change
        until promoted.
        """
        store = self._records()
        base = await self._inference().local_model(self._served_version)
        storage = self.deps.get("aria_storage")
        ckpt_dir = self.settings.home / "shape" / "checkpoints"
        sink = None
        if storage is not None:
            from aria_actors.shape.checkpoints import StorageCheckpoints

            sink = StorageCheckpoints(storage, version_id, loop=asyncio.get_running_loop(),
                                      cache_dir=ckpt_dir)

        def run() -> dict[str, Any]:
            import copy

            from aria_actors.shape.corpus import prompts
            from aria_actors.shape.policy import GRPORunner, GRPOSettings, mean_reward

            cfg = GRPOSettings(**{"seed": seed, **(settings or {})})
            model = copy.deepcopy(base.model)
            held_out = prompts(eval_prompts, seed=10_000 + seed)
            before = mean_reward(model, base.tokenizer, held_out, cfg)
            runner = GRPORunner(model, base.tokenizer, cfg)
            resumed = sink.latest() if sink else None
            if resumed:
                from aria_actors.shape.model import load_model

                local = sink.local(resumed)  # type: ignore[union-attr]
                # Through from_pretrained, so tied and sharded weights load as at start.
                cfg_local = self.config.model_copy(update={"model_path": str(local)})
                model.load_state_dict(load_model(cfg_local).model.state_dict())
                runner.restore(local, ref=resumed)
            rewards, dedupe = [], []
            while runner.step_count < steps:
                rewards.append(runner.step(prompts(prompts_per_step, seed=seed * 1_000 + runner.step_count))
                               ["reward"])
                if sink and (runner.step_count % checkpoint_every == 0 or runner.step_count == steps):
                    saved = sink.save(runner.blobs({"reward": rewards[-1]}), runner.step_count)
                    runner.last_checkpoint = saved.ref
                    dedupe.append(saved.report)
            after = mean_reward(model, base.tokenizer, held_out, cfg)
            metrics = {"held_out_reward_before": before, "held_out_reward_after": after,
                       "train_rewards": rewards, "steps": steps}
            if sink:
                if runner.last_checkpoint is None:  # resumed at (or past) the last step
                    runner.last_checkpoint = resumed
                path = sink.local(runner.last_checkpoint)  # type: ignore[arg-type]
                metrics.update(checkpoint=runner.last_checkpoint, resumed_from=resumed, dedupe=dedupe)
            else:
                path = ckpt_dir / version_id
                model.save_pretrained(path)
                base.tokenizer.save_pretrained(path)
            return {"path": str(path), "config": cfg.model_dump(mode="json"), "metrics": metrics}

        def locked() -> dict[str, Any]:
            with self._train_lock:
                return run()

        out = await asyncio.to_thread(locked)
        return await store.register_model(
            version_id, out["path"], self._served_version if self._served_version != "base" else None,
            out["metrics"], {**out["config"], "steps": steps, "prompts_per_step": prompts_per_step})
