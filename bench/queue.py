"""aria_queue vs procrastinate on the same PostgreSQL, in one run.

For each of a no-op job and a 1 ms job (``asyncio.sleep(0.001)``): throughput of a backlog of N
jobs drained by one in-process worker at concurrency C, and pick-up latency of single jobs
enqueued one at a time into an idle queue (enqueue call -> handler start). Prints
``name: aria X, peer Y, ratio Z`` lines. Asserts nothing about time.

Run: ``.venv/bin/python bench/queue.py [--jobs 5000] [--concurrency 10] [--samples 200]``
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and "queue" would shadow the
# standard library module of that name (which asyncio's thread pools import).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import statistics
import time
import uuid

import asyncpg


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


class Aria:
    name = "aria"

    def __init__(self, dsn: str, concurrency: int, async_commit: bool = False) -> None:
        from aria_actors.queue.registry import Registry

        self.dsn, self.concurrency, self.async_commit = dsn, concurrency, async_commit
        self.reg = Registry()
        self.started: dict[int, float] = {}
        self.count = 0

        @self.reg.worker(name="noop", queue="bench")
        async def noop(job):
            self.count += 1
            self.started[job.args.get("k")] = time.perf_counter()

        @self.reg.worker(name="sleep1", queue="bench")
        async def sleep1(job):
            self.count += 1
            self.started[job.args.get("k")] = time.perf_counter()
            await asyncio.sleep(0.001)

    async def setup(self) -> None:
        from aria_actors.queue.schema import apply_migrations

        await apply_migrations(self.dsn)
        self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4)

    async def backlog(self, kind: str, n: int) -> None:
        from aria_actors.queue import producer

        for i in range(0, n, 5000):
            await producer.enqueue_many(self.pool, [{"worker": kind, "args": {}}
                                                    for _ in range(i, min(n, i + 5000))],
                                        registry=self.reg)

    async def drain(self, n: int) -> float:
        from aria_actors.queue.executor import Executor

        self.count = 0
        ex = Executor(self.dsn, {"bench": self.concurrency}, registry=self.reg, stage_interval=None,
                      async_commit=self.async_commit)
        t0 = time.perf_counter()
        await ex.start()
        while self.count < n:
            await asyncio.sleep(0.001)
        await ex.drain()
        dt = time.perf_counter() - t0
        await ex.stop()
        return dt

    async def pickup(self, kind: str, samples: int) -> list[float]:
        from aria_actors.queue import producer
        from aria_actors.queue.executor import Executor

        ex = Executor(self.dsn, {"bench": self.concurrency}, registry=self.reg, stage_interval=None,
                      async_commit=self.async_commit)
        await ex.start()
        await asyncio.sleep(0.2)
        out = []
        for k in range(-5, samples):  # the first five warm up and are not counted
            t0 = time.perf_counter()
            await producer.enqueue(self.pool, kind, {"k": k}, registry=self.reg)
            while k not in self.started:
                await asyncio.sleep(0.0002)
            if k >= 0:
                out.append(self.started[k] - t0)
            await asyncio.sleep(0.01)  # idle between samples
        await ex.stop()
        return out

    async def close(self) -> None:
        await self.pool.close()


class Procrastinate:
    name = "procrastinate"

    def __init__(self, dsn: str, concurrency: int) -> None:
        import procrastinate

        self.concurrency = concurrency
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))
        self.started: dict[int, float] = {}
        self.count = 0

        @self.app.task(name="noop", queue="bench")
        async def noop(k: int | None = None) -> None:
            self.count += 1
            self.started[k] = time.perf_counter()

        @self.app.task(name="sleep1", queue="bench")
        async def sleep1(k: int | None = None) -> None:
            self.count += 1
            self.started[k] = time.perf_counter()
            await asyncio.sleep(0.001)

        self.tasks = {"noop": noop, "sleep1": sleep1}

    async def setup(self) -> None:
        await self.app.open_async()
        await self.app.schema_manager.apply_schema_async()

    async def backlog(self, kind: str, n: int) -> None:
        for i in range(0, n, 5000):
            await self.tasks[kind].batch_defer_async(*({} for _ in range(i, min(n, i + 5000))))

    async def drain(self, n: int) -> float:
        # A listening worker (as in production) stopped once it ran n jobs; wait=False mode is
        # slower still (it re-checks for an empty queue on every fetch).
        self.count = 0
        t0 = time.perf_counter()
        worker = asyncio.create_task(self.app.run_worker_async(
            queues=["bench"], concurrency=self.concurrency, install_signal_handlers=False,
            delete_jobs="never"))
        while self.count < n:
            await asyncio.sleep(0.001)
        dt = time.perf_counter() - t0
        worker.cancel()
        with contextlib.suppress(BaseException):
            await worker
        return dt

    async def pickup(self, kind: str, samples: int) -> list[float]:
        worker = asyncio.create_task(self.app.run_worker_async(
            queues=["bench"], concurrency=self.concurrency, install_signal_handlers=False))
        await asyncio.sleep(0.5)
        out = []
        for k in range(-5, samples):  # the first five warm up and are not counted
            t0 = time.perf_counter()
            await self.tasks[kind].defer_async(k=k)
            while k not in self.started:
                await asyncio.sleep(0.0002)
            if k >= 0:
                out.append(self.started[k] - t0)
            await asyncio.sleep(0.01)
        worker.cancel()
        with contextlib.suppress(BaseException):
            await worker
        return out

    async def close(self) -> None:
        await self.app.close_async()


async def run(args: argparse.Namespace, dsn_aria: str, dsn_peer: str) -> None:
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    systems = [Aria(dsn_aria, args.concurrency, args.async_commit),
               Procrastinate(dsn_peer, args.concurrency)]
    for s in systems:
        await s.setup()
    results: dict[str, dict[str, float]] = {s.name: {} for s in systems}
    for s in systems:  # warm-up: connections, prepared statements, imports
        await s.backlog("noop", 200)
        await s.drain(200)
        s.started.clear()
    for kind in ("noop", "sleep1"):
        for s in systems:
            await s.backlog(kind, args.jobs)
            dt = await s.drain(args.jobs)
            results[s.name][f"{kind}_jobs_per_s"] = args.jobs / dt
            s.started.clear()
            lat = await s.pickup(kind, args.samples)
            results[s.name][f"{kind}_pickup_p50_ms"] = statistics.median(lat) * 1000
            results[s.name][f"{kind}_pickup_p99_ms"] = pct(lat, 99) * 1000
            s.started.clear()
    for s in systems:
        await s.close()
    a, p = results["aria"], results["procrastinate"]
    print(f"# {args.jobs} jobs per backlog, concurrency {args.concurrency}, {args.samples} "
          f"idle pick-up samples, one process, PostgreSQL from pgserver")
    aria_commit = ("off for outcomes too (--async-commit)" if args.async_commit else
                   "on for enqueues and outcomes, off for claims and heartbeats (acknowledge nothing)")
    print(f"# durability: aria synchronous_commit {aria_commit}; procrastinate on for every write"
          + ("  <- NOT equal guarantees" if args.async_commit else
             " (equal for what is acknowledged: an enqueued job and a completed one survive a crash)"))
    for key in a:
        higher_better = key.endswith("jobs_per_s")
        ratio = a[key] / p[key] if higher_better else p[key] / a[key]
        unit = "jobs/s" if higher_better else "ms"
        print(f"queue_{key}: aria {a[key]:.1f}, peer {p[key]:.1f}, ratio {ratio:.2f} "
              f"({unit}; ratio >1 means aria is better)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--async-commit", action="store_true",
                    help="aria's faster, less durable mode (not what procrastinate does)")
    ap.add_argument("--dsn", default=os.environ.get("ARIA_BENCH_DATABASE_URL", ""),
                    help="an existing server (two databases are created on it)")
    args = ap.parse_args()
    server = None
    pgdata = f"/tmp/aria-bench-queue-{uuid.uuid4().hex[:6]}"
    if not args.dsn:
        import pgserver

        server = pgserver.get_server(pgdata, cleanup_mode="stop")
        args.dsn = server.get_uri()
    try:
        dsns = []
        for name in ("bench_aria", "bench_procrastinate"):
            async def mk(n: str = name) -> None:
                c = await asyncpg.connect(args.dsn)
                await c.execute(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')
                await c.execute(f'CREATE DATABASE "{n}"')
                await c.close()
            asyncio.run(mk())
            base, _, query = args.dsn.partition("?")
            dsns.append(f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else ""))
        asyncio.run(run(args, *dsns))
    finally:
        if server is not None:
            server.cleanup()
            shutil.rmtree(pgdata, ignore_errors=True)


if __name__ == "__main__":
    main()
