"""Ray worker actors: each runs one :class:`~aria_actors.queue.executor.Executor` for one queue,
and :class:`WorkerPool` adds or removes them to scale a queue at run time.

::

    prespawn(n) --> spare (process up, modules imported, no queue)
                      |  scale(queue) takes a spare before it creates an actor
    (new actor) ------+--start(dsn, queue)--> running executor --stop--> killed

Guarantees and caveats:
- Actors are plain async Ray actors with ``num_cpus=0`` by default (jobs are mostly I/O bound; set
  ``num_cpus`` for CPU-heavy queues). ``max_restarts=0``: a dead actor's jobs go back through the
  lifeline, and the pool replaces the actor on the next :meth:`WorkerPool.reconcile`.
- An actor imports ``worker_modules`` before it starts, so the workers it can run are the ones
  those modules register in the default registry.
- Spares (:meth:`WorkerPool.prespawn`) let the queue service start worker processes before it
  knows its database (``prepare``), so their ~0.5 CPU-s start is off its own start; unused spares
  are killed by :meth:`WorkerPool.shutdown`.
- Scaling down stops the newest actors gracefully (running jobs get ``grace`` seconds).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import ray

from aria_actors.queue.executor import Executor

log = logging.getLogger("aria.queue.workers")


class QueueWorker:
    """The body of a worker actor: one executor for one queue, given by :meth:`start`."""

    def __init__(self, worker_modules: list[str]) -> None:
        _import_all(worker_modules)
        self.executor: Executor | None = None

    async def start(self, dsn: str, queue: str, concurrency: int, worker_modules: list[str],
                    node: str, options: dict[str, Any] | None = None) -> str:
        if self.executor is None:
            _import_all(worker_modules)  # a spare may have been made before every module was known
            executor = Executor(dsn, {queue: concurrency}, node=node, **(options or {}))
            await executor.start()
            self.executor = executor
        return self.executor.uuid

    async def stop(self, grace: float = 5.0) -> None:
        if self.executor is not None:
            await self.executor.stop(grace)

    async def stats(self) -> dict[str, Any]:
        if self.executor is None:
            raise RuntimeError("worker actor not started")
        return self.executor.stats()

    async def pid(self) -> int:
        return os.getpid()


@dataclass(slots=True)
class WorkerPool:
    """Worker actors by queue, created from this process (the queue service or a test)."""

    dsn: str
    worker_modules: list[str] = field(default_factory=list)
    num_cpus: float = 0.0
    executor_options: dict[str, Any] = field(default_factory=dict)
    actors: dict[str, list[Any]] = field(default_factory=dict)
    spares: list[Any] = field(default_factory=list)  # started processes without a queue yet
    _seq: int = 0
    # scale and reconcile change the same lists across awaits: one at a time.
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def prespawn(self, n: int) -> None:
        """Start ``n`` worker processes now; later :meth:`scale` calls give them their queues."""
        self.spares += [self._new_actor() for _ in range(n)]

    def release_spares(self) -> None:
        """Kill the spares no queue took."""
        spares, self.spares = self.spares, []
        for actor in spares:
            ray.kill(actor)

    def _new_actor(self) -> Any:
        cls = ray.remote(num_cpus=self.num_cpus, max_restarts=0)(QueueWorker)
        return cls.remote(list(self.worker_modules))

    def _spawn(self, queue: str, concurrency: int) -> tuple[Any, Any]:
        """An actor for ``queue`` (a spare if there is one) and the ref of its start."""
        self._seq += 1
        actor = self.spares.pop(0) if self.spares else self._new_actor()
        started = actor.start.remote(self.dsn, queue, concurrency, list(self.worker_modules),
                                     f"ray-{queue}-{self._seq}", self.executor_options)
        return actor, started

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
            await asyncio.gather(*(started for _, started in new))
            current.extend(actor for actor, _ in new)
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
        self.release_spares()


def _import_all(modules: list[str]) -> None:
    for mod in modules:
        importlib.import_module(mod)
