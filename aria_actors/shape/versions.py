"""Model versions in the serving actor: loading registered versions, A/B traffic between them,
promotion of the winner, and training runs that register new versions.

A mixin of :class:`aria_actors.shape.service.ShapeService` (it uses the service's store, served
model, config and lock); kept apart so that each module holds one concern.

Guarantees and caveats
----------------------
- Versions are loaded next to the served model (memory grows with each loaded version); they
  stay loaded until the actor restarts.
- ``train`` runs in the service actor, one run at a time (the model lock), and blocks that
  actor's model calls meanwhile: for long runs enqueue the ``aria_shape.train`` job instead.
  With aria_storage it checkpoints there and resumes a run of the same version id.
- A/B metrics live in the actor's memory and restart from zero with it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aria_actors.shape.errors import ShapeError


class ModelVersionsMixin:
    """Version, A/B and training methods of ShapeService."""

    settings: Any
    config: Any
    _versions: dict[str, Any]
    _served_version: str
    _traffic: Any
    _loaded: Any

    if TYPE_CHECKING:  # provided by ShapeService
        def _records(self) -> Any: ...
        def _model(self) -> Any: ...
        async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any: ...

    async def load_version(self, model_id: str) -> dict[str, Any]:
        """Load a registered model version next to the served one (UnknownModelVersion if none)."""
        row = await self._records().model(model_id)
        if model_id not in self._versions:
            from aria_actors.shape.model import load_model

            cfg = self.config.model_copy(update={"model_path": row["path"]})
            self._versions[model_id] = await asyncio.to_thread(load_model, cfg)
        return {"id": model_id, "path": row["path"], "parameters": self._versions[model_id].num_parameters}

    async def set_traffic(self, weights: dict[str, float], seed: int = 0) -> dict[str, Any]:
        """Start an A/B test: requests of :meth:`complete_ab` split between versions by weight."""
        from aria_actors.shape.traffic import TrafficSplit

        for version in weights:
            await self.load_version(version)
        self._traffic = TrafficSplit(weights, seed)
        return self._traffic.report()

    async def complete_ab(self, prompt: str, *, key: str | None = None, max_new_tokens: int | None = None,
                          seed: int | None = None) -> dict[str, Any]:
        """One completion from the version the traffic split picks (sticky per ``key``)."""
        import time

        from aria_actors.shape.model import generate

        version = self._traffic.pick(key) if self._traffic else self._served_version
        loaded = self._versions.get(version) or self._model()
        t0 = time.perf_counter()
        text = (await self._run(generate, loaded, [prompt],
                                max_new_tokens=max_new_tokens or self.config.max_new_tokens, seed=seed))[0]
        if self._traffic:
            tokens = len(loaded.tokenizer(text)["input_ids"])
            self._traffic.record(version, tokens, time.perf_counter() - t0)
        return {"version": version, "text": text}

    async def feedback(self, version: str, value: float) -> None:
        """An outcome score for a response served by ``version`` (what promotion compares)."""
        if self._traffic is None:
            raise ShapeError("no A/B test is running; start one with set_traffic", version=version)
        self._traffic.feedback(version, value)

    async def traffic_report(self) -> dict[str, Any] | None:
        return self._traffic.report() if self._traffic else None

    async def promote(self, version: str | None = None) -> dict[str, Any]:
        """Serve ``version`` (default: the A/B leader by mean feedback) for all traffic."""
        report = self._traffic.report() if self._traffic else None
        winner = version or (self._traffic.leader() if self._traffic else None)
        if winner is None:
            raise ShapeError("nothing to promote: name a version or collect feedback first")
        if winner not in self._versions:
            await self.load_version(winner)  # raises UnknownModelVersion for unknown ids
        self._loaded = self._versions[winner]
        self._served_version = winner
        self._traffic = None
        return {"promoted": winner, "ab_report": report}

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
        base = self._model()
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

        out = await self._run(run)
        return await store.register_model(
            version_id, out["path"], self._served_version if self._served_version != "base" else None,
            out["metrics"], {**out["config"], "steps": steps, "prompts_per_step": prompts_per_step})
