"""One scrape of fourteen services: aria_monitor's merge against prometheus_client's multiprocess collector.

Data: 14 sources, each with the same metric families (a counter by method and code, a latency
histogram by method, job gauges by queue and state, a few process gauges): ~300 sample lines each.

- Aria: each source's text as its service renders it (``generate_latest`` of its own registry, as
  aria_queue and the gateway do today); :meth:`aria_actors.monitor.exposition.Merger.merge` parses
  the 14 texts, adds ``service="…"``, applies the cardinality cap and renders one exposition.
- Peer: ``prometheus_client.multiprocess.MultiProcessCollector`` over a temporary
  ``PROMETHEUS_MULTIPROC_DIR`` whose value files were written by 14 "processes" (one
  ``MultiProcessValue`` per fake pid; every series carries its ``service`` label so both sides
  produce the same series), then ``generate_latest``: read the mmap files, merge, render.

Both outputs are parsed back and compared series by series (mismatches are printed and make the
exit status 1). Timing: ``time.perf_counter`` per merge, alternating sides, after a warm-up; the
garbage collector is off while timing. Also printed: ``prometheus_client.parser`` on the same 14
texts (parse only), the reason aria's parser is its own. Asserts nothing about time.

Prints ``metrics_merge: aria X ms, peer Y ms, ratio Z`` (ratio = aria / peer: lower is better).

Run: ``.venv/bin/python bench/monitor.py [--sources 14] [--rounds 50]``
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/queue.py would shadow the standard library's queue.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse
import gc
import importlib.metadata
import os
import statistics
import tempfile
import time
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from aria_actors.monitor import exposition
from aria_actors.monitor.exposition import Merger, Scrape, parse

METHODS = [f"method_{i}" for i in range(14)]
CODES = ["ok", "bad-request", "internal"]
QUEUES = [f"q{i}" for i in range(6)]
STATES = ["available", "scheduled", "executing", "retryable", "completed", "discarded", "cancelled", "paused"]
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


def _fill(seed: int, service: str | None, registry: CollectorRegistry | None) -> None:
    """One source's metrics; ``service`` adds the label the peer needs to keep sources apart."""
    extra = ["service"] if service else []
    pre = [service] if service else []
    kw: dict[str, Any] = {"registry": registry}
    calls = Counter("aria_rpc_calls", "RPC calls by method and outcome", [*extra, "method", "code"], **kw)
    secs = Histogram("aria_rpc_seconds", "RPC latency", [*extra, "method"], buckets=BUCKETS, **kw)
    jobs = Gauge("aria_jobs", "Jobs by queue and state", [*extra, "queue", "state"], multiprocess_mode="sum", **kw)
    mem = Gauge("aria_process_resident_bytes", "Resident memory", extra, multiprocess_mode="sum", **kw)
    for i, m in enumerate(METHODS):
        for j, c in enumerate(CODES):
            calls.labels(*pre, m, c).inc(seed * 7 + i * 3 + j)
        for k in range(1 + (seed + i) % 5):
            secs.labels(*pre, m).observe(0.001 * (k + 1) * (i + 1))
    for i, q in enumerate(QUEUES):
        for j, s in enumerate(STATES):
            jobs.labels(*pre, q, s).set(seed + i * j)
    (mem.labels(*pre) if pre else mem).set(1e8 + seed)


def _sources(n: int) -> list[Scrape]:
    out = []
    for i in range(n):
        reg = CollectorRegistry()
        _fill(i, None, reg)
        out.append(Scrape(f"aria_svc{i:02d}", generate_latest(reg).decode()))
    return out


def _peer_dir(n: int) -> str:
    path = tempfile.mkdtemp(prefix="aria-bench-multiproc-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    for i in range(n):
        values.ValueClass = values.MultiProcessValue(lambda pid=1000 + i: pid)
        _fill(i, f"aria_svc{i:02d}", None)
    values.ValueClass = values.MutexValue
    return path


def _series(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in parse(text):
        if fam.name.startswith("aria_monitor_"):
            continue
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels)))] = s.value
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", type=int, default=14)
    ap.add_argument("--rounds", type=int, default=50)
    args = ap.parse_args()
    prometheus_client.disable_created_metrics()  # the multiprocess collector has no _created samples

    scrapes = _sources(args.sources)
    lines = [sum(1 for ln in s.text.splitlines() if ln and ln[0] != "#") for s in scrapes]  # type: ignore[union-attr]
    path = _peer_dir(args.sources)
    peer_reg = CollectorRegistry()
    MultiProcessCollector(peer_reg, path)
    merger = Merger(series_cap=1000)

    aria_out = merger.merge(scrapes).text
    peer_out = generate_latest(peer_reg).decode()
    a, p = _series(aria_out), _series(peer_out)
    bad = [k for k in a.keys() | p.keys() if a.get(k) != p.get(k)]
    for k in bad[:10]:
        print(f"MISMATCH {k}: aria {a.get(k)} peer {p.get(k)}")

    texts = [s.text for s in scrapes]
    times: dict[str, list[float]] = {"aria": [], "peer": [], "pc_parse": [], "aria_parse": [], "aria_cold": []}
    gc.disable()
    try:
        for _ in range(args.rounds):
            t = time.perf_counter()
            merger.merge(scrapes)
            times["aria"].append(time.perf_counter() - t)
            t = time.perf_counter()
            generate_latest(peer_reg)
            times["peer"].append(time.perf_counter() - t)
            t = time.perf_counter()
            for text in texts:
                for _fam in text_string_to_metric_families(text):  # type: ignore[arg-type]
                    pass
            times["pc_parse"].append(time.perf_counter() - t)
            t = time.perf_counter()
            for text in texts:
                parse(text)
            times["aria_parse"].append(time.perf_counter() - t)
            exposition._CACHE.clear()  # a first scrape: no label block seen before
            t = time.perf_counter()
            merger.merge(scrapes)
            times["aria_cold"].append(time.perf_counter() - t)
            gc.collect()
    finally:
        gc.enable()
    ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"sources {args.sources}, sample lines per source {min(lines)}-{max(lines)}, merged series "
          f"{len(a)} (aria) / {len(p)} (peer), prometheus_client {importlib.metadata.version('prometheus_client')}")
    print(f"metrics_merge: aria {ms['aria']:.2f} ms, peer {ms['peer']:.2f} ms, ratio {ms['aria'] / ms['peer']:.2f} "
          "(aria: parse 14 texts (label cache warm, as from the second scrape on) + relabel + cap + render; "
          "peer: read 14 processes' mmap files + sum + render)")
    print(f"metrics_parse: aria {ms['aria_parse']:.2f} ms, peer {ms['pc_parse']:.2f} ms, ratio "
          f"{ms['aria_parse'] / ms['pc_parse']:.2f} (peer: prometheus_client.parser.text_string_to_metric_families, "
          f"parse only, same 14 texts)")
    print(f"metrics_merge_cold: aria {ms['aria_cold']:.2f} ms, peer {ms['peer']:.2f} ms, ratio "
          f"{ms['aria_cold'] / ms['peer']:.2f} (aria's label-block cache empty, as on a first scrape)")
    print("differs: aria's input is text each service rendered (its own registry, no shared directory, works across "
          "Ray nodes), the peer's is files on one host's disk; aria checks every line and caps cardinality, the "
          "peer does neither; " + (f"{len(bad)} series differ" if bad else "same series and values on both sides"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
