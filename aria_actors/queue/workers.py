"""Ray worker actors: each runs one :class:`~aria_actors.queue.executor.Executor` for one queue,
and :class:`WorkerPool` adds or removes them to scale a queue at run time.

Guarantees and caveats:
- Actors are plain async Ray actors with ``num_cpus=0`` by default (jobs are mostly I/O bound; set
  ``num_cpus`` for CPU-heavy queues). ``max_restarts=0``: a dead actor's jobs go back through the
  lifeline, and the pool replaces the actor on the next :meth:`WorkerPool.reconcile`.
- An actor imports ``worker_modules`` before it starts, so the workers it can run are the ones
  those modules register in the default registry.
- Scaling down stops the newest actors gracefully (running jobs get ``grace`` seconds).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from dataclasses import dataclass, field
from typing import Any

import ray

from aria_actors.queue.executor import Executor

log = logging.getLogger("aria.queue.workers")


class QueueWorker:
    """The body of a worker actor: one executor for one queue."""

    def __init__(self, dsn: str, queue: str, concurrency: int, worker_modules: list[str],
                 node: str, options: dict[str, Any] | None = None) -> None:
        for mod in worker_modules:
            importlib.import_module(mod)
        self.executor = Executor(dsn, {queue: concurrency}, node=node, **(options or {}))
        self._started = False

    async def start(self) -> str:
        if not self._started:
            await self.executor.start()
            self._started = True
        return self.executor.uuid

    async def stop(self, grace: float = 5.0) -> None:
        await self.executor.stop(grace)

    async def stats(self) -> dict[str, Any]:
        return self.executor.stats()

    async def pid(self) -> int:
        import os

        return os.getpid()


@dataclass(slots=True)
class WorkerPool:
    """Worker actors by queue, created from this process (the queue service or a test)."""

    dsn: str
    worker_modules: list[str] = field(default_factory=list)
    num_cpus: float = 0.0
    executor_options: dict[str, Any] = field(default_factory=dict)
    actors: dict[str, list[Any]] = field(default_factory=dict)
    _seq: int = 0
    # scale and reconcile change the same lists across awaits: one at a time.
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def _spawn(self, queue: str, concurrency: int) -> Any:
        self._seq += 1
        cls = ray.remote(num_cpus=self.num_cpus, max_restarts=0)(QueueWorker)
        return cls.remote(self.dsn, queue, concurrency, list(self.worker_modules),
                          f"ray-{queue}-{self._seq}", self.executor_options)

    async def scale(self, queue: str, replicas: int, concurrency: int = 10,
                    grace: float = 5.0) -> int:
        """Run exactly ``replicas`` actors for ``queue``; returns how many run now."""
        async with self._lock:
            return await self._scale(queue, replicas, concurrency, grace)

    async def scale_many(self, targets: dict[str, tuple[int, int]], grace: float = 5.0) -> dict[str, int]:
        """:meth:`scale` for several queues at once, ``{queue: (replicas, concurrency)}``: their
        actors start side by side (at boot, one after another cost ~1 s each on the critical path)."""
        async with self._lock:
            counts = await asyncio.gather(*(self._scale(q, r, c, grace) for q, (r, c) in targets.items()))
            return dict(zip(targets, counts, strict=True))

    async def _scale(self, queue: str, replicas: int, concurrency: int, grace: float = 5.0) -> int:
        current = self.actors.setdefault(queue, [])
        new = [self._spawn(queue, concurrency) for _ in range(max(0, replicas - len(current)))]
        if new:
            await asyncio.gather(*(a.start.remote() for a in new))
            current.extend(new)
        while len(current) > replicas:
            actor = current.pop()
            try:
                await actor.stop.remote(grace)
            except Exception:
                log.warning("worker actor of %s died while stopping", queue)
            ray.kill(actor)
        return len(current)

    async def reconcile(self, concurrency: dict[str, int] | None = None) -> dict[str, int]:
        """Replace dead actors; returns how many were replaced per queue."""
        async with self._lock:
            return await self._reconcile(concurrency or {})

    async def _reconcile(self, concurrency: dict[str, int]) -> dict[str, int]:
        replaced: dict[str, int] = {}
        for queue, actors in self.actors.items():
            alive = []
            for a in actors:
                try:
                    await a.stats.remote()
                    alive.append(a)
                except Exception:
                    replaced[queue] = replaced.get(queue, 0) + 1
            self.actors[queue] = alive
            if replaced.get(queue):
                await self._scale(queue, len(alive) + replaced[queue], concurrency.get(queue, 10))
        return replaced

    async def stats(self) -> list[dict[str, Any]]:
        out = []
        for actors in self.actors.values():
            for a in actors:
                try:
                    out.append(await a.stats.remote())
                except Exception:
                    continue
        return out

    async def shutdown(self, grace: float = 5.0) -> None:
        for queue in list(self.actors):
            await self.scale(queue, 0, grace=grace)
