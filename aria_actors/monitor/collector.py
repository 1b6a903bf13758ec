"""aria_monitor's collector: read every service's metrics door at once, merge, keep the history.

    collect(t) ─► exposition_of(name) for every service, concurrently, each bounded by a timeout
               ─► Merger (service="…", cardinality cap) ─► one exposition text (the scrape)
               ─► parse ─► SeriesStore.ingest (with aria_scrape_up{service}, scrape seconds)

Guarantees and caveats:
- One slow or dead service costs the scrape its timeout, never more; it is ``up 0`` with the
  reason in :attr:`Collected.errors`, and its earlier series get Prometheus's stale marker.
- ``aria_scrape_up{service}`` and ``aria_scrape_duration_seconds{service}`` are written for every
  service on every collection, as Prometheus writes ``up`` for its targets (not named ``up``: a
  Prometheus server scraping this text writes its own ``up`` for the whole scrape).
- The merged text is kept until the next collection; a scrape asked for meanwhile gets a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aria_actors.monitor.errors import MalformedExposition
from aria_actors.monitor.exposition import Keyed, Merger, Scrape, _escape, format_value, parse
from aria_actors.monitor.series import NAME, SeriesStore, labels_of
from aria_actors.runtime.errors import brief

# The collector's and the merger's own families: about sources, kept whatever a source answered.
log = logging.getLogger("aria.monitor")
TARGET_FAMILIES = frozenset({"aria_scrape_up", "aria_scrape_duration_seconds", Merger.DROPPED, Merger.ERRORS})
Fetch = Callable[[str, float], Awaitable[str]]


@dataclass(slots=True)
class Collected:
    at: float
    text: str
    up: dict[str, bool]
    seconds: dict[str, float]
    errors: dict[str, str] = field(default_factory=dict)
    series: int = 0
    took_s: float = 0.0


class Collector:
    def __init__(self, services: Sequence[str], fetch: Fetch, store: SeriesStore, *, timeout_s: float = 2.0,
                 series_cap: int = 1000) -> None:
        self.services = tuple(services)
        self.fetch, self.store, self.timeout_s = fetch, store, timeout_s
        self.merger = Merger(series_cap=series_cap, strict=False)
        self.last: Collected | None = None

    async def _one(self, name: str) -> tuple[str | None, float, str | None]:
        began = time.perf_counter()
        try:
            text = await asyncio.wait_for(self.fetch(name, self.timeout_s), self.timeout_s)
        except Exception as exc:  # every failure is this target's `up 0`, never the scrape's
            return None, time.perf_counter() - began, brief(getattr(exc, "message", None) or type(exc).__name__, 200)
        return text, time.perf_counter() - began, None

    async def collect(self, t: float | None = None) -> Collected:
        """One scrape of every service at ``t`` (wall clock, seconds)."""
        t = time.time() if t is None else t
        began = time.perf_counter()
        results = await asyncio.gather(*(self._one(n) for n in self.services))
        scrapes, up, seconds, errors = [], {}, {}, {}
        for name, (text, took, error) in zip(self.services, results, strict=True):
            up[name], seconds[name] = text is not None, took
            if text is not None:
                scrapes.append(Scrape(name, text))
            else:
                errors[name] = error or "no answer"
        merged = self.merger.merge(scrapes)
        errors.update(merged.errors)
        for name in merged.errors:
            up[name] = False
        targets = self._targets(up, seconds)
        text = merged.text + targets
        got = Collected(t, text, up, seconds, errors, merged.series)
        self._ingest(got, merged.samples, self.merger._own() + targets)
        got.took_s = time.perf_counter() - began
        self.last = got
        return got

    @staticmethod
    def _targets(up: dict[str, bool], seconds: dict[str, float]) -> str:
        lines = ["# HELP aria_scrape_up 1 when the service's metrics could be read at the last collection",
                 "# TYPE aria_scrape_up gauge"]
        lines += [f'aria_scrape_up{{service="{_escape(n)}"}} {1 if ok else 0}' for n, ok in up.items()]
        lines += ["# HELP aria_scrape_duration_seconds Time to read the service's metrics",
                  "# TYPE aria_scrape_duration_seconds gauge"]
        lines += [f'aria_scrape_duration_seconds{{service="{_escape(n)}"}} {format_value(s)}'
                  for n, s in seconds.items()]
        return "\n".join(lines) + "\n"

    def _ingest(self, got: Collected, by_source: dict[str, list[Keyed]], shared_text: str) -> None:
        """The scrape's samples into the history (as the merger keyed them: the merged text is not
        parsed again); a service's vanished series get stale markers (one source per service, so
        one service's failure does not mark another's). ``shared_text``: the collector's and the
        merger's own families, kept under aria_monitor's own source."""
        shared: list[Keyed] = []
        try:
            for fam in parse(shared_text, "aria_monitor"):
                shared += [(s.name, labels_of(((NAME, s.name), *s.labels)), s.value) for s in fam.samples]
        except MalformedExposition as exc:  # a service name that cannot be a label value
            log.warning("collection's own series not kept: %s", exc.message)
        for name in self.services:
            samples = by_source.get(name, [])
            if any(fam in TARGET_FAMILIES for fam, _, _ in samples):  # a source mimicking ours
                shared += [p for p in samples if p[0] in TARGET_FAMILIES]
                samples = [p for p in samples if p[0] not in TARGET_FAMILIES]
            if got.up.get(name):
                self.store.ingest_keyed(samples, got.at, source=name)
            else:  # a failed read: its series stop here
                self.store.ingest_keyed((), got.at, source=name)
        self.store.ingest_keyed(shared, got.at, source="__aria_monitor__")
