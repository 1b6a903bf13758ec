"""An in-memory time-series store for aria_monitor's rules: raw samples for an hour, one-minute
summaries for a day, a bounded number of series.

    add(labels, t, v) ─► raw deque (retention_s) ──ages out──► per-step bucket (avg, min, max, last)
                                                                   kept downsampled_retention_s

Guarantees and caveats:
- A series is its sorted label pairs, ``__name__`` included. Past ``max_series`` new series are
  refused and counted in :attr:`SeriesStore.refused` (never silently); old ones are kept.
- Raw points are kept ``retention_s`` after the newest point of their series (and at most
  ``max_points`` per series); older ones fold into ``step_s`` buckets kept
  ``downsampled_retention_s``. A range that reaches past the raw points is answered from the
  buckets: their ``last`` value for counter functions (``rate``, ``increase``), ``avg``/``min``/
  ``max`` for the matching ``*_over_time``; a bucket's time is the time of its last raw sample.
- Staleness as in Prometheus: a series that a source's scrape no longer carries gets a stale
  marker (:meth:`ingest` with ``source``), after which an instant selection no longer returns it
  even within the five-minute lookback; range functions skip markers.
- Points must arrive in time order per series; an older or equal time replaces nothing and is
  refused (counted in :attr:`SeriesStore.out_of_order`), as Prometheus's head does.
- Not thread-safe: one owner (the monitor's evaluation loop) writes and reads.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]
Point = tuple[float, float]
NAME = "__name__"
DOWNSAMPLED = ("avg", "min", "max", "last")


def labels_of(labels: Mapping[str, str] | Iterable[tuple[str, str]]) -> Labels:
    """The canonical (sorted) form of a label set."""
    items = labels.items() if isinstance(labels, Mapping) else labels
    return tuple(sorted(items))


@dataclass(slots=True)
class _Bucket:
    start: float
    t: float  # the last raw sample's time
    total: float
    count: int
    lo: float
    hi: float
    last: float

    def value(self, kind: str) -> float:
        if kind == "last":
            return self.last
        if kind == "min":
            return self.lo
        if kind == "max":
            return self.hi
        return self.total / self.count


@dataclass(slots=True)
class _Series:
    raw: deque[tuple[float, float | None]] = field(default_factory=deque)  # None: a stale marker
    buckets: deque[_Bucket] = field(default_factory=deque)

    def newest(self) -> float:
        if self.raw:
            return self.raw[-1][0]
        return self.buckets[-1].t if self.buckets else -math.inf


class SeriesStore:
    def __init__(self, *, retention_s: float = 3600.0, step_s: float = 60.0,
                 downsampled_retention_s: float = 86400.0, max_series: int = 100_000,
                 max_points: int = 4096) -> None:
        if min(retention_s, step_s, downsampled_retention_s) <= 0 or max_series < 1 or max_points < 2:
            raise ValueError("retentions and step must be positive, max_series >= 1, max_points >= 2")
        self.retention_s, self.step_s = retention_s, step_s
        self.downsampled_retention_s = downsampled_retention_s
        self.max_series, self.max_points = max_series, max_points
        self._by_name: dict[str, dict[Labels, _Series]] = {}
        self._count = 0
        self._sources: dict[str, set[Labels]] = {}
        self.refused = 0
        self.out_of_order = 0

    # -- writing ---------------------------------------------------------------------------------
    def _series(self, labels: Labels, create: bool, name: str | None = None) -> _Series | None:
        if name is None:
            name = dict(labels).get(NAME, "")
        group = self._by_name.get(name)
        found = group.get(labels) if group else None
        if found is not None or not create:
            return found
        if self._count >= self.max_series:
            self.refused += 1
            return None
        self._count += 1
        found = self._by_name.setdefault(name, {})[labels] = _Series()
        return found

    def add(self, labels: Mapping[str, str] | Iterable[tuple[str, str]], t: float, value: float) -> bool:
        """Append one point; False when refused (series cap, or not newer than the last point)."""
        return self._append(labels_of(labels), t, value)

    def _append(self, key: Labels, t: float, value: float | None, name: str | None = None) -> bool:
        s = self._series(key, value is not None, name)
        if s is None:
            return False
        if t <= s.newest():
            self.out_of_order += 1
            return False
        s.raw.append((t, value))
        self._age(s, t)
        return True

    def mark_stale(self, labels: Mapping[str, str] | Iterable[tuple[str, str]], t: float) -> None:
        self._append(labels_of(labels), t, None)

    def ingest(self, samples: Iterable[tuple[Mapping[str, str] | Iterable[tuple[str, str]], float]], t: float,
               source: str | None = None) -> int:
        """One scrape's samples at ``t``; with ``source``, the series that source carried last
        time and not now get a stale marker. Returns the points stored."""
        stored = 0
        keys: set[Labels] = set()
        for labels, value in samples:
            key = labels_of(labels)
            keys.add(key)
            stored += self._append(key, t, value)
        if source is not None:
            self._mark_gone(source, keys, t)
        return stored

    def ingest_keyed(self, samples: Iterable[tuple[str, Labels, float]], t: float, source: str | None = None) -> int:
        """:meth:`ingest` of samples already keyed: (``__name__``'s value, the sorted labels with
        it, value), as the merger hands them. The same as ``_append`` per sample, unrolled: this
        loop runs for every sample of every collection."""
        stored = 0
        keys: set[Labels] = set()
        add = keys.add
        by_name, cutoff, max_points = self._by_name, t - self.retention_s, self.max_points
        for name, key, value in samples:
            add(key)
            group = by_name.get(name)
            s = group.get(key) if group is not None else None
            if s is None:
                stored += self._append(key, t, value, name)
                continue
            raw = s.raw
            if (raw[-1][0] if raw else s.newest()) >= t:
                self.out_of_order += 1
                continue
            raw.append((t, value))
            if raw[0][0] < cutoff or len(raw) > max_points:
                self._age(s, t)
            stored += 1
        if source is not None:
            self._mark_gone(source, keys, t)
        return stored

    def _mark_gone(self, source: str, keys: set[Labels], t: float) -> None:
        """Stale markers at ``t`` for the series ``source`` carried last time and not now."""
        for gone in self._sources.get(source, set()) - keys:
            self._append(gone, t, None)
        self._sources[source] = keys

    def _age(self, s: _Series, now: float) -> None:
        cutoff = now - self.retention_s
        while s.raw and (s.raw[0][0] < cutoff or len(s.raw) > self.max_points):
            t, v = s.raw.popleft()
            if v is None or math.isnan(v):
                continue
            start = t - t % self.step_s
            b = s.buckets[-1] if s.buckets else None
            if b is not None and b.start == start:
                b.t, b.total, b.count, b.last = t, b.total + v, b.count + 1, v
                b.lo, b.hi = min(b.lo, v), max(b.hi, v)
            else:
                s.buckets.append(_Bucket(start, t, v, 1, v, v, v))
        old = now - self.downsampled_retention_s
        while s.buckets and s.buckets[0].t < old:
            s.buckets.popleft()

    def compact(self, now: float) -> int:
        """Age every series to ``now`` and forget the empty ones; returns the series forgotten."""
        gone = 0
        for name, group in list(self._by_name.items()):
            for key, s in list(group.items()):
                self._age(s, max(now, s.newest()))
                if not s.buckets and all(v is None for _, v in s.raw) and (not s.raw or s.raw[-1][0] < now - 300):
                    del group[key]
                    gone += 1
            if not group:
                del self._by_name[name]
        self._count -= gone
        return gone

    # -- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._count

    def points(self) -> int:
        return sum(len(s.raw) + len(s.buckets) for g in self._by_name.values() for s in g.values())

    def _candidates(self, name: str | None) -> Iterable[tuple[Labels, _Series]]:
        if name is not None:
            return self._by_name.get(name, {}).items()
        return ((k, s) for g in self._by_name.values() for k, s in g.items())

    def match(self, name: str | None, test: object = None) -> Iterable[tuple[Labels, _Series]]:
        """Series named ``name`` (any when None) whose labels pass ``test(labels_dict)``."""
        for key, s in self._candidates(name):
            if test is None or test(dict(key)):  # type: ignore[operator]
                yield key, s

    def instant(self, name: str | None, test: object, t: float, lookback: float = 300.0) -> list[tuple[Labels, float]]:
        """Each matching series' newest value at or before ``t`` within ``lookback`` (not stale)."""
        out = []
        for key, s in self.match(name, test):
            point = _newest_at(s, t)
            if point is not None and point[0] >= t - lookback and point[1] is not None:
                out.append((key, point[1]))
        return out

    def range(self, name: str | None, test: object, start: float, end: float,
              kind: str = "avg") -> list[tuple[Labels, list[Point]]]:
        """Each matching series' points with ``start <= t <= end`` (stale markers left out);
        ``kind`` picks the value of downsampled buckets (one of avg, min, max, last)."""
        if kind not in DOWNSAMPLED:
            raise ValueError(f"kind must be one of {DOWNSAMPLED}")
        out = []
        for key, s in self.match(name, test):
            pts: list[Point] = []
            first_raw = s.raw[0][0] if s.raw else math.inf
            for b in s.buckets:
                if start <= b.t <= end and b.t < first_raw:
                    pts.append((b.t, b.value(kind)))
            pts += [(t, v) for t, v in s.raw if start <= t <= end and v is not None]
            if pts:
                out.append((key, pts))
        return out


def _newest_at(s: _Series, t: float) -> tuple[float, float | None] | None:
    for point in reversed(s.raw):
        if point[0] <= t:
            return point
    for b in reversed(s.buckets):
        if b.t <= t:
            return b.t, b.value("avg")
    return None
