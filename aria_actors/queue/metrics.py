"""Queue metrics for Prometheus: job counts by queue and state, wait and execution latency.

Executors (one per Ray worker actor) keep plain histograms (:class:`Latency`); the service
gathers their snapshots and exposes them, summed, with the job counts it reads from the database.

Guarantees and caveats:
- ``aria_queue_jobs{queue,state}`` is read from the database at scrape time (a grouped count: it
  costs a scan of the jobs table; prune finished jobs to keep it cheap).
- Latency histograms count attempts since each executor started; an executor that dies takes
  its counts with it (Prometheus sees a counter reset, which ``rate()`` handles).
- Wait latency is ``attempted_at - scheduled_at`` by the database clock: the pick-up delay of
  an available job, or of a due scheduled one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
           60.0, 300.0)


@dataclass(slots=True)
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, value)] += 1
        self.total += value

    def merge(self, other: Mapping[str, Any]) -> None:
        for i, c in enumerate(other["counts"]):
            self.counts[i] += c
        self.total += other["total"]

    def snapshot(self) -> dict[str, Any]:
        return {"counts": list(self.counts), "total": self.total}

    def quantile(self, qtl: float) -> float:
        """Upper bound of the bucket holding quantile ``qtl`` (inf past the last bucket)."""
        n = sum(self.counts)
        if n == 0:
            return 0.0
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= qtl * n:
                return BUCKETS[i] if i < len(BUCKETS) else float("inf")
        return float("inf")


@dataclass(slots=True)
class Latency:
    """Per-queue wait and execution histograms of one executor."""

    wait: dict[str, Histogram] = field(default_factory=dict)
    execution: dict[str, Histogram] = field(default_factory=dict)

    def observe(self, queue: str, *, wait: float | None = None, execution: float | None = None) -> None:
        if wait is not None:
            self.wait.setdefault(queue, Histogram()).observe(max(wait, 0.0))
        if execution is not None:
            self.execution.setdefault(queue, Histogram()).observe(max(execution, 0.0))

    def snapshot(self) -> dict[str, Any]:
        return {"wait": {k: v.snapshot() for k, v in self.wait.items()},
                "execution": {k: v.snapshot() for k, v in self.execution.items()}}

    @classmethod
    def merged(cls, snapshots: Iterable[Mapping[str, Any]]) -> Latency:
        out = cls()
        for snap in snapshots:
            for kind in ("wait", "execution"):
                target = getattr(out, kind)
                for q, h in snap.get(kind, {}).items():
                    target.setdefault(q, Histogram()).merge(h)
        return out


def exposition(counts: Iterable[tuple[str, str, int]], latency: Latency) -> bytes:
    """Prometheus text format for job counts ``(queue, state, n)`` and merged latency."""
    class _Collector:
        def collect(self) -> Any:
            jobs = GaugeMetricFamily("aria_queue_jobs", "Jobs by queue and state",
                                     labels=["queue", "state"])
            for queue, state, n in counts:
                jobs.add_metric([queue, state], n)
            yield jobs
            for kind, hists, doc in (
                    ("wait", latency.wait, "Seconds from scheduled_at to the start of an attempt"),
                    ("execution", latency.execution, "Seconds an attempt ran")):
                fam = HistogramMetricFamily(f"aria_queue_{kind}_seconds", doc, labels=["queue"])
                for queue, h in sorted(hists.items()):
                    cum, buckets = 0, []
                    for bound, c in zip([*map(str, BUCKETS), "+Inf"], h.counts, strict=True):
                        cum += c
                        buckets.append((bound, cum))
                    fam.add_metric([queue], buckets, h.total)
                yield fam

    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Collector())
    return generate_latest(reg)
