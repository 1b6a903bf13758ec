"""Counters, gauges and histograms by label, rendered as Prometheus text (format 0.0.4) fast.

Why not prometheus_client's ``generate_latest``: every scrape it rebuilds a Metric object per
family, validates every label name with a regex and escapes every label value of every sample
again; a service with 20 methods took ~5 ms to render, the gateway with 60 routes ~17 ms, where
each service is allowed 1 ms of CPU a scrape (issue 24). Here a series' label block is escaped
once, when the series is made, and a render is string joins over the current numbers: the same
text, without the ``_created`` samples (optional in the format; aria_monitor does not read them).

The update side matches prometheus_client's (``labels(...).inc()``, ``.set()``, ``.observe()``)
and is thread-safe (one lock per family, held for a dict lookup or an addition).

Label names come from code; label values may be anything (escaped). Collectors of
prometheus_client (``ProcessCollector``) can be added to a registry and are rendered through the
same writer.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Protocol


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _block(names: Sequence[str], values: Sequence[str]) -> str:
    """``{a="1",b="2"}``, names sorted as prometheus_client writes them."""
    if not names:
        return ""
    return "{" + ",".join(f'{n}="{_escape(v)}"' for n, v in sorted(zip(names, values, strict=True))) + "}"


def fmt(value: float) -> str:
    """A sample value as Prometheus writes it (Go's float formatting: ``1.0``, ``+Inf``, ``NaN``)."""
    value = float(value)
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if value != value:
        return "NaN"
    if value.is_integer() and abs(value) < 1e15:
        return f"{value:.1f}"
    return repr(value)


class Family(Protocol):
    def render(self, out: list[str]) -> None: ...


class Registry:
    """The families of one process (or one answer), rendered in the order they were made."""

    def __init__(self) -> None:
        self.families: list[Family] = []
        self.collectors: list[Any] = []  # prometheus_client collectors (``collect()``)

    def add(self, family: Family) -> None:
        self.families.append(family)

    def register(self, collector: Any) -> None:
        """A prometheus_client collector: prometheus_client's ``ProcessCollector(registry=...)`` calls this."""
        self.collectors.append(collector)

    def render(self) -> str:
        out: list[str] = []
        for family in self.families:
            family.render(out)
        for collector in self.collectors:
            for metric in collector.collect():
                # named and typed as prometheus_client's generate_latest names them in format 0.0.4
                name, kind = metric.name, _TYPES.get(metric.type, metric.type)
                name += {"counter": "_total", "info": "_info"}.get(metric.type, "")
                out.append(f"# HELP {name} {_help(metric.documentation)}\n# TYPE {name} {kind}\n")
                for s in metric.samples:
                    if not s.name.endswith("_created"):
                        out.append(f"{s.name}{_block(list(s.labels), list(s.labels.values()))} {fmt(s.value)}\n")
        return "".join(out)


_TYPES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


class _Labelled:
    kind = "untyped"

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (),
                 registry: Registry | None = None) -> None:
        self.name = name
        self.labelnames = tuple(labelnames)
        # format 0.0.4 names a counter's family by its sample, ``_total`` included (prometheus_client does)
        family = name + "_total" if self.kind == "counter" else name
        self.header = f"# HELP {family} {_help(documentation)}\n# TYPE {family} {self.kind}\n"
        self._children: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()
        if registry is not None:
            registry.add(self)

    def labels(self, *values: Any) -> Any:
        key = tuple(str(v) for v in values)
        child = self._children.get(key)
        if child is None:
            if len(key) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}, got {len(key)} values")
            with self._lock:
                child = self._children.setdefault(key, self._child(_block(self.labelnames, key), key))
        return child

    def _child(self, block: str, values: tuple[str, ...]) -> Any:
        raise NotImplementedError


class _Value:
    __slots__ = ("_lock", "block", "value")

    def __init__(self, block: str, lock: threading.Lock) -> None:
        self.block, self.value, self._lock = block, 0.0, lock

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        with self._lock:
            self.value += amount

    def set(self, value: float) -> None:
        self.value = float(value)


class Counter(_Labelled):
    kind = "counter"

    def inc(self, amount: float = 1.0) -> None:  # a family without labels is its one series
        self.labels().inc(amount)

    def _child(self, block: str, values: tuple[str, ...]) -> _Value:
        return _Value(block, self._lock)

    def render(self, out: list[str]) -> None:
        out.append(self.header)
        name = self.name + "_total"
        out.extend(f"{name}{c.block} {fmt(c.value)}\n" for c in list(self._children.values()))


class Gauge(_Labelled):
    kind = "gauge"

    def set(self, value: float) -> None:
        self.labels().set(value)

    def _child(self, block: str, values: tuple[str, ...]) -> _Value:
        return _Value(block, self._lock)

    def render(self, out: list[str]) -> None:
        out.append(self.header)
        out.extend(f"{self.name}{c.block} {fmt(c.value)}\n" for c in list(self._children.values()))


class _Buckets:
    __slots__ = ("_bounds", "_lock", "blocks", "counts", "n", "rendered", "rendered_n", "sum")

    def __init__(self, blocks: list[str], bounds: Sequence[float], lock: threading.Lock) -> None:
        self.blocks, self._bounds, self._lock = blocks, bounds, lock
        self.counts = [0] * (len(bounds) + 1)  # per bucket, not cumulative; the last is +Inf
        self.sum = 0.0
        self.n = 0  # observations: a series whose count has not moved renders as last time
        self.rendered, self.rendered_n = "", -1

    def observe(self, value: float) -> None:
        i = bisect.bisect_left(self._bounds, value)  # le: a value equal to a bound falls in it
        with self._lock:
            self.counts[i] += 1
            self.sum += value
            self.n += 1


class Histogram(_Labelled):
    kind = "histogram"

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (), *,
                 buckets: Sequence[float], registry: Registry | None = None) -> None:
        self.bounds = tuple(sorted(float(b) for b in buckets if b != math.inf))
        super().__init__(name, documentation, labelnames, registry)

    def observe(self, value: float) -> None:
        self.labels().observe(value)

    def _child(self, block: str, values: tuple[str, ...]) -> _Buckets:
        blocks = [_block((*self.labelnames, "le"), (*values, fmt(b))) for b in (*self.bounds, math.inf)]
        return _Buckets([*blocks, block], self.bounds, self._lock)

    def render(self, out: list[str]) -> None:
        out.append(self.header)
        bucket, count, total = self.name + "_bucket", self.name + "_count", self.name + "_sum"
        for c in list(self._children.values()):
            with self._lock:
                observed, counts, summed = c.n, list(c.counts), c.sum
            if observed == c.rendered_n:  # most methods were not called since the last render
                out.append(c.rendered)
                continue
            lines: list[str] = []
            running = 0
            for block, n in zip(c.blocks, counts, strict=False):
                running += n
                lines.append(f"{bucket}{block} {fmt(float(running))}\n")
            plain = c.blocks[-1]
            lines.append(f"{count}{plain} {fmt(float(running))}\n{total}{plain} {fmt(summed)}\n")
            text = "".join(lines)
            with self._lock:  # the text and the count it is of change together
                c.rendered, c.rendered_n = text, observed
            out.append(text)
