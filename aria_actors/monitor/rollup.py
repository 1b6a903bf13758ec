"""Downsampling of the dashboards' series into 1-minute and 1-hour rollups, merged in batches.

    add(panel, labels, t, v) ─► pending[(resolution, panel, labels, bucket)] = min/max/sum/count/last
    take() ─► the pending rows (one batch to upsert) ─► the store merges them into its rows
    put_back(rows) ─► a batch the store could not write is merged back, to go with the next one

Guarantees and caveats:
- Merging is associative and commutative (least, greatest, sums, the newest ``last``), so a
  bucket written in several batches, or a batch put back and written later, ends as the same row
  as if every point had been written at once (:func:`merge`).
- A bucket's start is ``t - t % resolution`` (UTC-aligned: minutes and hours of Unix time).
- Non-finite values (NaN from a quantile with no observation, infinities) are not history: they
  are skipped, as Prometheus's functions skip nothing but a graph cannot draw them either.
- Bounded: past ``max_pending`` rows, new buckets are refused and counted in :attr:`Rollups.dropped`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

RESOLUTIONS = (60, 3600)
MINUTE, HOUR = RESOLUTIONS


@dataclass(slots=True)
class Agg:
    lo: float
    hi: float
    total: float
    count: int
    last: float
    last_at: float

    @classmethod
    def of(cls, t: float, v: float) -> Agg:
        return cls(v, v, v, 1, v, t)

    @property
    def avg(self) -> float:
        return self.total / self.count


def merge(a: Agg, b: Agg) -> Agg:
    """Two aggregates of one bucket as one (what the store's upsert does to a row)."""
    newer = b if b.last_at >= a.last_at else a
    return Agg(min(a.lo, b.lo), max(a.hi, b.hi), a.total + b.total, a.count + b.count, newer.last,
               max(a.last_at, b.last_at))


def bucket_of(t: float, resolution: int) -> float:
    return t - t % resolution


def labels_key(labels: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """The canonical text of a label set (sorted keys): the series' identity in the store."""
    items = labels.items() if isinstance(labels, Mapping) else labels
    return json.dumps(dict(sorted(items)), separators=(",", ":"))


Key = tuple[int, str, str, float]  # resolution, panel, labels, bucket start


class Rollups:
    def __init__(self, max_pending: int = 100_000) -> None:
        self.max_pending = max_pending
        self.pending: dict[Key, Agg] = {}
        self.dropped = 0

    def __len__(self) -> int:
        return len(self.pending)

    def _merge_in(self, key: Key, agg: Agg) -> None:
        have = self.pending.get(key)
        if have is not None:
            self.pending[key] = merge(have, agg)
        elif len(self.pending) < self.max_pending:
            self.pending[key] = agg
        else:
            self.dropped += 1

    def add(self, panel: str, labels: str, t: float, value: float) -> None:
        if not math.isfinite(value):
            return
        for res in RESOLUTIONS:
            self._merge_in((res, panel, labels, bucket_of(t, res)), Agg.of(t, value))

    def take(self) -> list[tuple[Key, Agg]]:
        rows, self.pending = list(self.pending.items()), {}
        return rows

    def put_back(self, rows: Iterable[tuple[Key, Agg]]) -> None:
        for key, agg in rows:
            self._merge_in(key, agg)


def resolution_for(window_s: float) -> int:
    """The rollup a window is drawn from: minutes up to two days, hours beyond."""
    return MINUTE if window_s <= 2 * 86400 else HOUR


def downsample(points: Iterable[tuple[float, float]], step: float) -> list[tuple[float, float]]:
    """Points averaged per ``step``-aligned bucket, at the bucket's start (a chart's resolution)."""
    out: dict[float, list[float]] = {}
    for t, v in points:
        if math.isfinite(v):
            out.setdefault(bucket_of(t, step), []).append(v)
    return [(b, math.fsum(vs) / len(vs)) for b, vs in sorted(out.items())]
