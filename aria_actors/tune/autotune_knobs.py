"""The knobs the auto-tuner may turn: each reads its targets' values, sets one, proposes where a
change may help, and samples what a change is measured by. Adding a knob is adding a class here
and a line in :func:`default_knobs`; the loop and the records do not change.

``queue.concurrency`` (allowed by default): an aria_queue queue's per-executor concurrency (``aria queue scale Q
--concurrency C``), read from ``queues()``, set through ``scale()`` and measured by the queue's
completed jobs, waiting jobs and oldest wait (``queues()``) and its wait histogram (``metrics()``).
A queue is proposed a raise when it is *saturated*: jobs wait, it is not paused, and its live
executors run as many jobs as their concurrency allows. ``queue.replicas`` (opt-in): the queue's
worker actors, set through ``scale(replicas=)``, measured and proposed the same way.

Guarantees and caveats
----------------------
- Every call to aria_queue is made as aria_tune itself (the decision who may change what was made
  by the RPC in front, which checks the caller's ``tune:autotune:*`` right and audits the change).
- ``scale`` persists the value in ``aria_queue.queues`` and tells every executor at once (NOTIFY);
  executors apply it at their next fetch, so a settle time before the after window is advised.
- Completed jobs are counted from the jobs table; the pruner deleting finished jobs during a
  window makes it unmeasurable (the change is rolled back), never better.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from prometheus_client.parser import text_string_to_metric_families

from aria_actors.runtime.principal import Principal
from aria_actors.tune.autotune_core import Limits, Sample
from aria_actors.tune.errors import UnknownTarget

ME = Principal.internal("aria_tune")
QUEUE_CONCURRENCY = "queue.concurrency"
QUEUE_REPLICAS = "queue.replicas"


class Knob(Protocol):
    """A setting of the running system the auto-tuner may change."""

    name: str
    description: str
    limits: Limits  # the built-in limits; ``[tune] autotune_limits`` overrides them

    async def targets(self) -> list[dict[str, Any]]:
        """Every target with its ``value`` and whether a raise may help (``saturated``)."""

    async def read(self, target: str) -> int:
        """The target's value now; :class:`UnknownTarget` when there is no such target."""

    async def write(self, target: str, value: int) -> None: ...

    async def sample(self, target: str) -> Sample: ...


def wait_sums(metrics_text: str, queue: str) -> tuple[float, int]:
    """``(sum, count)`` of ``aria_queue_wait_seconds`` for ``queue`` in a Prometheus exposition."""
    total, count = 0.0, 0
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "aria_queue_wait_seconds":
            continue
        for s in family.samples:
            if s.labels.get("queue") != queue:
                continue
            if s.name.endswith("_sum"):
                total = float(s.value)
            elif s.name.endswith("_count"):
                count = int(s.value)
    return total, count


def saturated(row: dict[str, Any]) -> bool:
    """Jobs wait on a queue that is running all it may: more concurrency could take them."""
    jobs = row.get("jobs") or {}
    executors = int(row.get("executors") or 0)
    concurrency = row.get("concurrency")
    return (not row.get("paused") and concurrency is not None and executors > 0
            and int(jobs.get("available", 0)) > 0 and int(jobs.get("executing", 0)) >= concurrency * executors)


class QueueConcurrency:
    """``queue.concurrency``: jobs one executor of a queue runs at once."""

    name = QUEUE_CONCURRENCY
    description = "Jobs one executor of an aria_queue queue runs at once (aria queue scale --concurrency)."
    limits = Limits(low=1, high=64, max_step=8)
    setting = "concurrency"  # the column of aria_queue.queues, and scale()'s argument

    def __init__(self, queue: Any) -> None:
        self.queue = queue  # a QueueClient (or a stand-in with queues/scale/metrics)

    async def _row(self, target: str) -> dict[str, Any]:
        for row in await self.queue.queues(ME):
            if row["name"] == target and row.get(self.setting) is not None:
                return row
        raise UnknownTarget(f"aria_queue has no queue named {target!r} with a {self.setting} setting "
                            "(`aria queue ls` lists them)", knob=self.name, target=target)

    async def targets(self) -> list[dict[str, Any]]:
        return [{"target": r["name"], "value": r[self.setting], "saturated": saturated(r),
                 "executors": r.get("executors", 0), "waiting": (r.get("jobs") or {}).get("available", 0),
                 "executing": (r.get("jobs") or {}).get("executing", 0)}
                for r in await self.queue.queues(ME) if r.get(self.setting) is not None]

    async def read(self, target: str) -> int:
        return int((await self._row(target))[self.setting])

    async def write(self, target: str, value: int) -> None:
        await self.queue.scale(ME, target, **{self.setting: value})

    async def sample(self, target: str) -> Sample:
        row = await self._row(target)
        text = await self.queue.metrics(ME)
        total, count = wait_sums(text, target)
        jobs = row.get("jobs") or {}
        return Sample(at=time.monotonic(), completed=int(jobs.get("completed", 0)),
                      waiting=int(jobs.get("available", 0)), oldest_wait_s=float(row.get("oldest_available_s") or 0.0),
                      wait_sum_s=total, wait_count=count)


class QueueReplicas(QueueConcurrency):
    """``queue.replicas``: worker actors (executors) of a queue, each running ``concurrency`` jobs.
    Not in ``autotune_knobs`` by default: a replica is a process (memory, a Ray CPU reservation
    when ``[queue] worker_num_cpus`` is set) and takes seconds to start (settle accordingly).
    An executor's wait histogram starts at its start: a window across a replica's start or stop
    has no mean wait (recorded as null); completed jobs are counted in the database."""

    name = QUEUE_REPLICAS
    description = "Worker actors of an aria_queue queue (aria queue scale --replicas); each runs `concurrency` jobs."
    limits = Limits(low=1, high=8, max_step=2)
    setting = "replicas"


def default_knobs(queue: Any) -> dict[str, Knob]:
    """The knobs of a running aria_tune: those whose service it can reach (``[tune]
    autotune_knobs`` says which may be turned)."""
    knobs: dict[str, Knob] = {}
    if queue is not None:
        knobs[QUEUE_CONCURRENCY] = QueueConcurrency(queue)
        knobs[QUEUE_REPLICAS] = QueueReplicas(queue)
    return knobs
