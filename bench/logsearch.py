"""Log search over 1,000,000 records: aria_debugger's PostgreSQL full-text store against grep.

Data: generated log lines with a realistic mix: fourteen services, levels weighted like a running
system (INFO 70 %, DEBUG 10 %, WARNING 14 %, ERROR 5 %, CRITICAL 1 %), ~40 message templates
(requests, queries, jobs, health probes, retries, errors) with ids, durations, paths and hosts;
a few words are rare (``segfault``: ~0.05 %), some selective (``deadlock``: ~1 %), some common
(``request``: ~19 %, ``ms``: ~28 %).

- Aria: the records stored the way aria_debugger stores them (migrations of aria_debugger, then
  :meth:`LogStore.store` in batches of 2000 records with a cursor each, COPY), ANALYZE, then
  :meth:`LogStore.search` with ``limit=100`` (newest first), as ``GET /v1/debugger/logs`` runs it.
- Peer: the same lines in a file, one a line, searched by ``grep -F -w -i WORD FILE`` (its last
  100 lines are the newest 100), and ``grep -c`` for the count, in a subprocess each time.

Each query runs ``--rounds`` times alternating sides; p50 of each is printed as
``name: aria X ms, peer Y ms, ratio Z`` (ratio = aria / peer: lower is better). For one-word
queries without filters the newest 100 ids of both must be the same (a mismatch exits 1).
The server is ARIA_DATABASE_URL when set, else a throw-away embedded PostgreSQL under /tmp.

Run: ``.venv/bin/python bench/logsearch.py [--rows 1000000] [--rounds 15]``
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
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from typing import Any

from aria_actors.data.migrations import migrate_database
from aria_actors.data.pool import Database
from aria_actors.debugger.logstore import SERVER_SETTINGS, LogStore, row_of
from aria_actors.runtime.registry import all_specs

SERVICES = [s.name for s in all_specs()]
LEVELS = [("INFO", 20, 70), ("DEBUG", 10, 10), ("WARNING", 30, 14), ("ERROR", 40, 5), ("CRITICAL", 50, 1)]
TEMPLATES = {
    "INFO": ["request {method} {path} answered {code} in {ms} ms", "job {id} of queue {queue} done in {ms} ms",
             "study {name} trial {n} complete value {val}", "session {id} opened for user{n}",
             "asset {id} stored {kb} KiB in {ms} ms", "plan {name} found with {n} steps in {ms} ms",
             "health probe of {svc} ready in {ms} ms", "request {method} {path} served from cache",
             "character {name} generated {n} tokens", "workflow run {id} step {n} finished",
             "query {name} returned {n} rows in {ms} ms", "migration {n} applied for {svc}",
             "connection pool {svc} resized to {n}", "token refreshed for client{n}",
             "request {method} {path} accepted for tenant{n}", "partition {name} archived"],
    "DEBUG": ["cache lookup {id} hit", "cache lookup {id} miss", "scheduling {n} tasks on node {host}",
              "parsed request body of {kb} KiB", "retrying read of {path} attempt {n}"],
    "WARNING": ["slow query {name} took {ms} ms", "request {method} {path} throttled for tenant{n}",
                "retry {n} of job {id} after timeout", "connection to {host} refused, retrying in {n} s",
                "ring of {svc} dropped {n} records", "disk usage of {path} at {pct}%"],
    "ERROR": ["request {method} {path} failed with {code}: upstream timeout", "job {id} failed: KeyError {name}",
              "connection to {host} refused", "transaction aborted after deadlock on {name}",
              "checksum mismatch for asset {id}"],
    "CRITICAL": ["database unreachable from {svc}: connection refused", "out of memory in worker {n}",
                 "deadlock detected between {svc} and {host}"],
}
METHODS, PATHS = ["GET", "POST", "PUT", "DELETE"], ["/v1/storage/assets", "/v1/engine/plan", "/v1/queue/jobs",
                                                    "/v1/auth/login", "/v1/interpret/generate", "/v1/tune/studies"]
WORDS = ["alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "tango", "zulu", "sierra"]
# (name, words, filters): filters as LogStore.search takes them
QUERIES: list[tuple[str, str, dict[str, Any]]] = [
    ("rare_word", "segfault", {}),
    ("selective_word", "deadlock", {}),
    ("common_word", "request", {}),
    ("very_common_word", "ms", {}),
    ("phrase", '"connection refused"', {}),
    ("word_and_service", "request", {"service": "aria_engine"}),
    ("word_and_level", "request", {"level": 40}),
]


def generate(rows: int, seed: int = 7) -> list[dict[str, Any]]:
    """``rows`` ring records, oldest first, one second apart spread over the services."""
    rng = random.Random(seed)
    levels = [lv for lv in LEVELS for _ in range(lv[2])]
    start = time.time() - rows * 0.5
    out = []
    for i in range(rows):
        name, number, _ = rng.choice(levels)
        text = rng.choice(TEMPLATES[name]).format(
            method=rng.choice(METHODS), path=rng.choice(PATHS), code=rng.choice([200, 201, 404, 409, 500, 503]),
            ms=rng.randint(1, 5000), id=uuid.UUID(int=rng.getrandbits(128)).hex[:12], queue=rng.choice(WORDS),
            name=rng.choice(WORDS) + str(rng.randint(0, 99)), n=rng.randint(0, 500), val=round(rng.random(), 4),
            kb=rng.randint(1, 4096), svc=rng.choice(SERVICES), host=f"10.0.{rng.randint(0, 9)}.{rng.randint(1, 254)}",
            pct=rng.randint(80, 99))
        if rng.random() < 0.0005:  # the needle: a rare word
            text = f"segfault in native extension {rng.choice(WORDS)} of worker {rng.randint(0, 500)}"
        svc = rng.choice(SERVICES)
        out.append({"seq": i + 1, "at": start + i * 0.5, "level": name, "levelno": number,
                    "logger": f"aria.{svc.removeprefix('aria_')}", "message": text, "service": svc, "pid": 1000,
                    "node": "node-1", "trace_id": None, "span_id": None, "exc_type": None})
    return out


def line_of(r: dict[str, Any]) -> str:
    return f"{r['at']:.3f} {r['level']} {r['service']} {r['logger']} #{r['seq']} {r['message']}\n"


async def load(store: LogStore, records: list[dict[str, Any]], batch: int) -> float:
    """Store ``records`` as the collector does (a batch and its cursor per transaction); seconds taken."""
    t0 = time.perf_counter()
    for i in range(0, len(records), batch):
        part = records[i:i + batch]
        await store.store(part[0]["service"], "bench", part[-1]["seq"], 0, [row_of(r, "bench") for r in part])
    return time.perf_counter() - t0


def grep(word: str, path: str) -> list[str]:
    out = subprocess.run(["grep", "-F", "-w", "-i", "--", word, path], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[-100:]


def grep_count(word: str, path: str) -> int:
    out = subprocess.run(["grep", "-F", "-w", "-i", "-c", "--", word, path], capture_output=True, text=True,
                         check=False)
    return int(out.stdout.strip() or 0)


async def run(dsn: str, rows: int, rounds: int) -> int:
    await migrate_database(dsn, ["aria_data", "aria_debugger"])
    db = await Database.connect(dsn, name="bench_logs", min_size=1, max_size=2, server_settings=SERVER_SETTINGS)
    store = LogStore(db)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="aria-bench-logs-") as tmp:
        path = os.path.join(tmp, "logs.txt")
        t0 = time.perf_counter()
        records = generate(rows)
        gen_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with open(path, "w") as f:
            f.writelines(line_of(r) for r in records)
        file_s = time.perf_counter() - t0
        load_s = await load(store, records, 2000)
        await store.analyze()
        print(f"# {rows} records generated in {gen_s:.1f} s; stored in {load_s:.1f} s "
              f"({rows / load_s:.0f} records/s, batches of 2000 with COPY); file written in {file_s:.1f} s")
        print(f"ingest: aria {rows / load_s:.0f} records/s, peer {rows / file_s:.0f} lines/s (file write), "
              f"ratio {file_s / load_s:.3f} (aria / peer throughput)")
        by_seq = {r["seq"]: r for r in records}
        del records
        for name, text, filters in QUERIES:
            word = text.strip('"')
            aria_t, peer_t = [], []
            got: list[dict[str, Any]] = []
            peer: list[str] = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                got = await store.search(text, filters.get("service"), filters.get("level"), None, None, None, 100)
                aria_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                if filters:  # grep has no columns: filter its lines afterwards, as a shell pipeline would
                    peer = [ln for ln in subprocess.run(["grep", "-F", "-w", "-i", "--", word, path],
                                                        capture_output=True, text=True).stdout.splitlines()
                            if _keep(ln, filters)][-100:]
                else:
                    peer = grep(word, path)
                peer_t.append(time.perf_counter() - t0)
            count = grep_count(word, path)
            a, p = statistics.median(aria_t) * 1000, statistics.median(peer_t) * 1000
            same = sorted(r["message"] for r in got) == sorted(ln.split(" ", 5)[5] for ln in peer)
            if not filters and " " not in word and not same:
                failures += 1
            note = "" if same else " (answers differ: full-text words vs grep -w)"
            print(f"logsearch_{name}: aria {a:.1f} ms, peer {p:.1f} ms, ratio {a / p:.3f} "
                  f"(p50 of {rounds}; {count} matching lines, limit 100{note})")
        del by_seq
    await db.close()
    return failures


def _keep(line: str, filters: dict[str, Any]) -> bool:
    parts = line.split(" ", 3)
    if "service" in filters and parts[2] != filters["service"]:
        return False
    return not ("level" in filters and dict((n, v) for n, v, _ in LEVELS)[parts[1]] < filters["level"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    dsn = os.environ.get("ARIA_DATABASE_URL", "")
    server = base = None
    if not dsn:
        from aria_actors.data.embedded import EmbeddedPostgres

        base = f"/tmp/aria-bench-logs-{uuid.uuid4().hex[:8]}"
        server = EmbeddedPostgres(base, fast_init=True)
        dsn = server.start()
    try:
        failures = asyncio.run(run(dsn, args.rows, args.rounds))
    finally:
        if server is not None:
            server.stop(mode="immediate")
            shutil.rmtree(base, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
