"""The durable executor: runs workflow bodies, checkpoints every step in PostgreSQL, resumes runs
after a crash, and carries out operators' controls. Ray-free: the service owns one, a test or a
benchmark builds one over a :class:`WorkflowStore`.

::

    start_run -> runs row (pending, owned by this engine) -> Runner task: body(ctx, input)
        ctx.step -> recorded? replay it : run fn (retries, timeout) -> steps row (written once)
        end -> runs row completed | dead (dead letter) | failed (after compensation) | cancelled
    every poll_s: claim runs that are pending, or whose owner stopped renewing its lease
    every heartbeat_s: renew the leases of the runs held here, pick up controls set elsewhere

Guarantees and caveats
----------------------
- A step's result is recorded before the body goes on; a completed step never runs again for
  its run (its record is replayed), and the first result recorded is the only one kept. A step
  interrupted by a crash runs again (at-least-once execution): side effects take
  ``idempotency_key()``.
- While PostgreSQL is away, recording waits and retries (backoff to 2 s) with the step's result
  in memory: the step does not run again; the run goes on when the database is back.
- The engine's ``owner`` name is stable for a service instance (``aria_workflow@<host>``), so a
  restarted instance takes its runs back at start without waiting for their leases to expire;
  runs of another owner are taken when its lease (``lease_s``) has expired.
- Pause and the controls that rewrite a run (migrate, edit) take effect at the run's next step
  or wait; cancel interrupts at once (an interrupted step is not recorded). A paused run holds
  no task: resume replays it from its records.
- Controls set by another engine instance (another replica) reach the run's engine at its next
  heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg

from aria_actors.data.errors import DatabaseUnreachable, TransactionRetriesExhausted
from aria_actors.runtime.errors import AriaError, brief
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.workflow.context import MAX_KEY, RunContext, _current_key, _current_runner
from aria_actors.workflow.definition import WorkflowDef
from aria_actors.workflow.errors import Cancelled, NonDeterminism, SignalTimeout, StepFailed
from aria_actors.workflow.metrics import METRICS
from aria_actors.workflow.policy import DEFAULT, StepPolicy
from aria_actors.workflow.store import WorkflowStore, dumps

log = logging.getLogger("aria.workflow.engine")
# What says "the database is away (or too busy) for now", as opposed to a write it refuses: the
# engine waits and writes again, where a refused write (bad data) fails the step.
DB_LOST = (DatabaseUnreachable, TransactionRetriesExhausted, OSError, asyncpg.PostgresConnectionError,
           asyncpg.InterfaceError, asyncpg.InternalClientError, asyncpg.OperatorInterventionError,
           asyncpg.QueryCanceledError, asyncpg.TooManyConnectionsError, ConnectionError)
MAX_ERROR_TEXT = 4000
MAX_OUTPUT_BYTES = 1_048_576  # a step's recorded result (JSON); a larger one fails the step
MAX_KEYS = 100_000  # steps one run may record: a bound on what one run writes and replays


class ServiceCaller(Protocol):
    async def __call__(self, caller: Principal, service: str, method: str, args: dict[str, Any]) -> Any: ...


class QueuePort(Protocol):
    async def enqueue(self, caller: Principal, worker: str, args: dict[str, Any] | None = None,
                      **options: Any) -> dict[str, Any]: ...

    async def get_job(self, caller: Principal, job_id: int) -> dict[str, Any]: ...


Resolver = Callable[[dict[str, Any]], Awaitable[WorkflowDef]]


class _Suspend(BaseException):
    """Unwinds a run's task for a control (pause, restart); BaseException so bodies' ``except
    Exception`` cannot swallow it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def describe(exc: BaseException) -> dict[str, Any]:
    """What a failure was, as recorded (JSON): type, message, the AriaError's problem type."""
    if isinstance(exc, StepFailed):
        return dict(exc.error)
    # brief(): the first line, no remote traceback (paths, hosts) in what readers of a run see
    out: dict[str, Any] = {"type": type(exc).__name__, "message": brief(exc)[:MAX_ERROR_TEXT]}
    cause = getattr(exc, "cause", None)  # raised inside a Ray actor, it arrives wrapped
    err = cause if isinstance(cause, AriaError) else exc
    if isinstance(err, AriaError):
        out["type"] = type(err).__name__
        out["problem"] = err.type
        out["status"] = err.status
    return out


def _input_json(args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    try:
        return dumps({"args": list(args), "kwargs": kwargs} if kwargs else list(args))
    except (TypeError, ValueError):
        return dumps({"repr": repr((args, kwargs))[:MAX_ERROR_TEXT]})


class _Loading:
    """Holds a run's place in :attr:`Engine.runners` while its records load."""

    task = None
    control = None


@dataclass(slots=True)
class _Record:
    name: str
    state: str
    output: Any
    error: Any


@dataclass(slots=True)
class _Compensation:
    key: str
    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    output: Any


class Runner:
    """One run being executed: its recorded steps, its keys, its compensations, its controls."""

    def __init__(self, engine: Engine, row: dict[str, Any], definition: WorkflowDef,
                 recorded: dict[str, _Record]) -> None:
        self.engine = engine
        self.run_id: str = row["id"]
        self._uuid = uuid.UUID(self.run_id)
        self.name: str = row["name"]
        self.version: int = row["version"]
        self.input: Any = row["input"]
        self.starter = Principal.from_dict(row["starter"])
        self.definition = definition
        self.recorded = recorded
        self.used: set[str] = set()
        self.compensations: list[_Compensation] = []
        self.control: str | None = None  # pause | cancel | cancel-compensate | restart | shutdown | lost
        self.compensating = False
        self.in_steps = 0
        self.waits = 0
        self.task: asyncio.Task[Any] | None = None
        self._wake = asyncio.Event()  # set by a control: every wait ends and meets the gate

    # -- keys and controls -------------------------------------------------------------------------
    def claim_key(self, key: str) -> str:
        if len(self.used) >= MAX_KEYS:
            raise NonDeterminism(f"run {self.run_id} asked for more than {MAX_KEYS} steps")
        if len(key) > MAX_KEY:
            raise NonDeterminism(f"step key {key[:60]!r}... is longer than {MAX_KEY} characters")
        if key in self.used:
            raise NonDeterminism(f"step key {key!r} is used twice in run {self.run_id}; keys must be unique")
        self.used.add(key)
        return key

    def _gate(self) -> None:
        """Where a control takes effect: before each step and after each wait."""
        if self.control is None or self.compensating:
            return
        if self.control == "cancel-compensate":
            # An exception the body sees (a document runs its compensations on it), once; the
            # compensations it runs then pass the gate.
            self.compensating = True
            raise Cancelled("cancelled by an operator (with compensation)")
        raise _Suspend(self.control)

    def request(self, control: str) -> None:
        """Ask the run to stop for ``control``: a wait ends at once, a running step is let finish
        (and recorded) except for a plain cancel, which interrupts it."""
        if self.compensating:
            return  # a cancellation with compensation runs to its end
        self.control = control
        self._wake.set()
        if self.task is not None and control in ("cancel", "lost"):
            self.task.cancel()

    async def _pause_for(self, seconds: float | None) -> None:
        """Sleep up to ``seconds`` (None: until woken), ended early by a control, then the gate."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._gate()

    def _replayed(self, key: str, name: str) -> _Record | None:
        rec = self.recorded.get(key)
        if rec is not None and rec.name != name:
            raise NonDeterminism(f"run {self.run_id} recorded step {key!r} as {rec.name!r} but its code now asks "
                                 f"for {name!r}: the workflow's code changed under version {self.version}")
        return rec

    # -- steps -------------------------------------------------------------------------------------
    async def run_step(self, key: str, name: str, kind: str, fn: Callable[..., Any], args: Sequence[Any],
                       kwargs: dict[str, Any], policy: StepPolicy | None,
                       compensate: Callable[..., Any] | None) -> Any:
        rec = self._replayed(key, name)
        if rec is not None:
            if rec.state == "failed":
                raise StepFailed(key, rec.error)
            if compensate is not None and rec.state == "completed":
                self.compensations.append(_Compensation(key, name, compensate, tuple(args), kwargs, rec.output))
            return rec.output
        self._gate()
        policy = policy or DEFAULT
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        attempt = 0
        self.in_steps += 1
        token = _current_key.set(f"{self.run_id}:{key}")
        runner_token = _current_runner.set(self)
        try:
            while True:
                attempt += 1
                try:
                    result = fn(*args, **kwargs)
                    if inspect.isawaitable(result):
                        result = await (asyncio.wait_for(result, policy.timeout_s) if policy.timeout_s else result)
                    output = dumps(result)
                    if len(output) > MAX_OUTPUT_BYTES:
                        raise ValueError(f"step {key!r} ({name}) returned {len(output)} bytes of JSON; a "
                                         f"recorded result is at most {MAX_OUTPUT_BYTES}")
                    break
                except (asyncio.CancelledError, _Suspend):
                    raise
                except Exception as exc:
                    if isinstance(exc, TimeoutError):
                        exc = TimeoutError(f"step {key!r} ({name}) took longer than {policy.timeout_s} s")
                    elif isinstance(exc, TypeError | ValueError) and "JSON" in str(exc) and \
                            not str(exc).startswith("step "):
                        exc = TypeError(f"step {key!r} ({name}) returned a value JSON cannot hold: {exc}")
                    error = describe(exc)
                    error["attempt"] = attempt
                    if attempt > policy.retries or isinstance(exc, NonDeterminism):
                        METRICS.step_failed(self.name, name)
                        await self._record(key, name, kind, "failed", _input_json(args, kwargs), None,
                                           dumps(error), attempt, started)
                        raise StepFailed(key, error) from exc
                    delay = policy.delay(attempt)
                    await self.engine.note(self.run_id, "retry", key, {"attempt": attempt, "error": error,
                                                                       "delay_s": round(delay, 3)})
                    await self._pause_for(delay)
        finally:
            _current_runner.reset(runner_token)
            _current_key.reset(token)
            self.in_steps -= 1
        kept = await self._record(key, name, kind, "completed", _input_json(args, kwargs), output, None, attempt,
                                  started)
        METRICS.step_done(self.name, name, time.perf_counter() - t0)
        value = json.loads(output) if kept is None else kept.output
        if compensate is not None:
            self.compensations.append(_Compensation(key, name, compensate, tuple(args), kwargs, value))
        return value

    async def _record(self, key: str, name: str, kind: str, state: str, input_json: str | None,
                      output_json: str | None, error_json: str | None, attempts: int,
                      started: datetime) -> _Record | None:
        """Record a step; None when this record is the one kept, else the one recorded first."""
        delay = 0.05
        while True:
            try:
                first = await self.engine.store.record_step(self._uuid, key, name, kind, state, input_json,
                                                            output_json, error_json, attempts, started)
                break
            except DB_LOST as exc:
                log.warning("run %s: recording step %r waits for the database: %s", self.run_id, key, exc)
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)
        if first is None:
            self.recorded[key] = _Record(name, state, None if output_json is None else json.loads(output_json),
                                         None if error_json is None else json.loads(error_json))
            return None
        kept = _Record(first["name"], first["state"], first["output"], first["error"])
        self.recorded[key] = kept
        if kept.state == "failed":
            raise StepFailed(key, kept.error)
        return kept

    async def call_service(self, key: str, service: str, method: str, args: dict[str, Any],
                           policy: StepPolicy | None) -> Any:
        caller = self.engine.services
        if caller is None:
            raise StepFailed(key, {"type": "ServiceUnavailable",
                                   "message": "this engine has no service transport (no aria_workflow shell)"})

        async def call() -> Any:
            return await caller(self.starter, service, method, args)

        return await self.run_step(key, f"{service}.{method}", "call", call, (), {}, policy, None)

    async def run_job(self, key: str, worker: str, args: dict[str, Any], queue: str | None,
                      timeout_s: float | None) -> Any:
        name = f"job:{worker}"
        rec = self._replayed(key, name)
        if rec is not None:
            if rec.state == "failed":
                raise StepFailed(key, rec.error)
            return rec.output
        port = self.engine.queue
        if port is None:
            raise StepFailed(key, {"type": "ServiceUnavailable", "message": "this engine has no aria_queue"})
        if worker.startswith("service:aria_workflow."):
            raise StepFailed(key, {"type": "Forbidden", "message": "a run may not start aria_workflow's own methods"})
        self._gate()
        started = datetime.now(UTC)
        ticket = self.recorded.get(f"{key}@job")
        if ticket is not None and ticket.name != f"{name}@job":
            # the step at this key was replaced by an edit after its job was enqueued
            raise NonDeterminism(f"step {key!r} recorded a job of {ticket.name!r}, not of {worker!r}")
        if ticket is None:
            options = {"queue": queue} if queue else {}
            try:
                job = await port.enqueue(self.starter, worker, args, **options)
            except AriaError as exc:
                error = describe(exc)
                await self._record(key, name, "job", "failed", _input_json([worker, args], {}), None, dumps(error),
                                   1, started)
                raise StepFailed(key, error) from exc
            kept = await self._record(f"{key}@job", f"{name}@job", "job-ticket", "completed", None,
                                      dumps({"job_id": job["id"]}), None, 1, started)
            job_id = int(job["id"] if kept is None else kept.output["job_id"])
        else:
            job_id = int(ticket.output["job_id"])
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        pause = 0.05
        self.waits += 1
        try:
            while True:
                job = await port.get_job(self.starter, job_id)
                if job["state"] in ("completed", "discarded", "cancelled"):
                    break
                if deadline is not None and time.monotonic() > deadline:
                    job = {**job, "state": "timeout"}
                    break
                await self._pause_for(pause)
                pause = min(2.0, pause * 1.5)
        finally:
            self.waits -= 1
        if job["state"] == "completed":
            kept = await self._record(key, name, "job", "completed", _input_json([worker, args], {}),
                                      dumps(job.get("result")), None, 1, started)
            return job.get("result") if kept is None else kept.output
        error = {"type": "JobFailed", "message": f"job {job_id} ({worker}) ended {job['state']}",
                 "job_id": job_id, "errors": (job.get("errors") or [])[-3:]}
        await self._record(key, name, "job", "failed", _input_json([worker, args], {}), None, dumps(error), 1,
                           started)
        raise StepFailed(key, error)

    async def sleep(self, key: str, seconds: float) -> None:
        if not isinstance(seconds, int | float) or not 0 <= seconds <= 366 * 86400:
            raise StepFailed(key, {"type": "InvalidSleep", "message": "sleep seconds must be 0 to 366 days"})
        rec = self._replayed(key, "sleep")
        if rec is None:
            self._gate()
            wake = time.time() + float(seconds)
            kept = await self._record(key, "sleep", "timer", "completed", dumps({"seconds": seconds}),
                                      dumps({"wake_at": wake}), None, 1, datetime.now(UTC))
            if kept is not None:
                wake = kept.output["wake_at"]
        else:
            wake = rec.output["wake_at"]
        await self._wait_until(wake)

    async def _waiting(self, waiting: bool) -> None:
        """Show the run as ``waiting`` while all it does is wait (so it can be migrated), and as
        ``running`` again after; best effort: the state informs, the records decide."""
        if waiting and (self.waits != 1 or self.in_steps):
            return
        if not waiting and self.waits:
            return
        with contextlib.suppress(*DB_LOST):
            await self.engine.store.set_state(self.run_id, "waiting" if waiting else "running", self.engine.owner)

    async def _wait_until(self, wake: float) -> None:
        remaining = wake - time.time()
        if remaining <= 0:
            return
        self.waits += 1
        try:
            self._gate()
            if remaining > 1.0:
                await self._waiting(True)
            while (left := wake - time.time()) > 0:
                await self._pause_for(left)
        finally:
            self.waits -= 1
        if remaining > 1.0:
            await self._waiting(False)

    async def wait_signal(self, key: str, name: str, timeout_s: float | None) -> Any:
        step_name = f"signal:{name}"
        rec = self._replayed(key, step_name)
        if rec is not None:
            if rec.state == "failed":
                raise SignalTimeout(name)
            return rec.output
        self._gate()
        started = datetime.now(UTC)
        deadline: float | None = None
        if timeout_s is not None:
            timer = self.recorded.get(f"{key}@deadline")
            if timer is None:
                deadline = time.time() + float(timeout_s)
                kept = await self._record(f"{key}@deadline", f"{step_name}@deadline", "timer", "completed", None,
                                          dumps({"deadline": deadline}), None, 1, started)
                if kept is not None:
                    deadline = kept.output["deadline"]
            else:
                deadline = timer.output["deadline"]
        event = self.engine.signal_event(self.run_id, name)
        self.waits += 1
        marked = False
        try:
            while True:
                event.clear()
                try:
                    found, payload = await self.engine.store.take_signal(self._uuid, name, key, started)
                except DB_LOST as exc:
                    log.warning("run %s: waiting for signal %r, database away: %s", self.run_id, name, exc)
                    found, payload = False, None
                if found:
                    self.recorded[key] = _Record(step_name, "completed", payload, None)
                    return payload
                left = None if deadline is None else deadline - time.time()
                if left is not None and left <= 0:
                    error = {"type": "SignalTimeout", "message": f"no signal {name!r} before the timeout"}
                    await self._record(key, step_name, "signal", "failed", dumps({"name": name}), None,
                                       dumps(error), 1, started)
                    raise SignalTimeout(name)
                self._gate()
                if not marked:
                    marked = True
                    await self._waiting(True)
                # The poll is the fallback for signals sent through another engine instance.
                waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._wake.wait())]
                try:
                    await asyncio.wait(waiters, timeout=min(left or 5.0, 5.0), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waiters:
                        w.cancel()
                self._gate()
        finally:
            self.waits -= 1
            self.engine.drop_signal_event(self.run_id, name, event)
            if marked and not self.control:
                await self._waiting(False)

    async def parallel(self, branches: list[Callable[[RunContext], Awaitable[Any]]], children: list[RunContext],
                       limit: int | None) -> list[Any]:
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ValueError("parallel limit must be a positive integer")
        slots = asyncio.Semaphore(limit or len(branches) or 1)

        async def one(i: int) -> Any:
            async with slots:
                return await branches[i](children[i])

        tasks = [asyncio.ensure_future(one(i)) for i in range(len(branches))]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    # -- ending --------------------------------------------------------------------------------------
    async def compensate(self) -> list[dict[str, Any]]:
        """Run the compensations of completed steps in reverse order, each as a durable step;
        the failures (each compensation is tried, whatever the others do)."""
        self.compensating = True
        failures = []
        for comp in reversed(self.compensations):
            key = f"compensate:{comp.key}"
            try:
                self.used.discard(key)
                self.claim_key(key)
                await self.run_step(key, f"compensate:{comp.name}", "compensation", comp.fn,
                                    (comp.output, *comp.args), comp.kwargs, StepPolicy(retries=3, backoff_s=0.5),
                                    None)
            except StepFailed as exc:
                failures.append({"step": comp.key, "error": exc.error})
        return failures


class Engine:
    """Runs the workflows of one service instance (see the module docstring)."""

    def __init__(self, store: WorkflowStore, resolve: Resolver, *, owner: str | None = None,
                 services: ServiceCaller | None = None, queue: QueuePort | None = None, lease_s: float = 15.0,
                 heartbeat_s: float = 3.0, poll_s: float = 2.0, max_running: int = 1000) -> None:
        self.store = store
        self.resolve = resolve
        self.owner = owner or f"engine-{uuid.uuid4().hex[:12]}"
        self.services = services
        self.queue = queue
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s
        self.poll_s = poll_s
        self.max_running = max_running
        self.runners: dict[str, Runner | _Loading] = {}
        self._pending_controls: dict[str, str] = {}  # controls for runs still loading
        self._drivers: set[asyncio.Task[None]] = set()
        self._signals: dict[tuple[str, str], asyncio.Event] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._claiming = asyncio.Lock()
        self._closing = False
        self.done: dict[str, asyncio.Future[str]] = {}  # run id -> its final state (for waiters)

    async def start(self, *, background: bool = True) -> None:
        await self.claim()
        if background:
            self._tasks = [periodic(self.poll_s, self.claim, what="claiming workflow runs", log=log),
                           periodic(self.heartbeat_s, self.heartbeat, what="renewing workflow leases", log=log)]

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop claiming; give running runs ``grace_s`` to reach a wait, then interrupt them. Their
        leases are released, so another instance (or this one restarted) resumes them."""
        self._closing = True
        for task in self._tasks:
            await stop_task(task)
        self._tasks = []
        running = [r for r in self.runners.values() if isinstance(r, Runner) and r.task is not None]
        for runner in running:
            runner.request("shutdown")
        tasks = [r.task for r in running if r.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- runs ----------------------------------------------------------------------------------------
    async def note(self, run_id: str, kind: str, key: str | None = None, detail: dict[str, Any] | None = None) -> None:
        """A history entry; lost (with a log line) when the database is away: history informs,
        the step records decide."""
        try:
            await self.store.add_history(run_id, kind, key, detail)
        except DB_LOST as exc:
            log.warning("run %s: history %s not written: %s", run_id, kind, exc)

    def launch(self, run_id: str) -> None:
        """Start the task of a run this engine owns (just created, claimed or resumed)."""
        if run_id in self.runners or self._closing:
            return
        self.done.setdefault(run_id, asyncio.get_running_loop().create_future())
        loading = _Loading()  # reserves the id while the run loads
        self.runners[run_id] = loading
        task = asyncio.ensure_future(self._drive(run_id, loading))
        self._drivers.add(task)
        task.add_done_callback(self._drivers.discard)

    async def submit(self, definition: WorkflowDef, input_: Any, starter: Principal, *, tenant: str = "",
                     def_tenant: str = "", idempotency_key: str | None = None) -> tuple[str, bool]:
        """Record a new run of ``definition`` and start it here; (run id, created) — with an
        idempotency key used before, the earlier run's id and False."""
        run_id, created = await self.store.insert_run(
            new_run_id(), tenant, definition.name, definition.version, def_tenant, input_, starter.to_dict(),
            starter.subject or "", idempotency_key, self.owner, self.lease_s)
        if created and len(self.runners) < self.max_running:
            self.launch(run_id)  # else it waits for a free slot: the next claim takes it
        return run_id, created

    async def wait(self, run_id: str, timeout: float | None = None) -> str:
        """The final state of a run this engine runs, once it ends (tests, benchmarks)."""
        fut = self.done.setdefault(run_id, asyncio.get_running_loop().create_future())
        if run_id not in self.runners:  # it may have ended before anyone waited
            row = await self.store.run(run_id)
            if row is not None and row["state"] not in ("pending", "running", "waiting"):
                self.done.pop(run_id, None)
                return str(row["state"])
        return await asyncio.wait_for(asyncio.shield(fut), timeout)

    async def _load(self, run_id: str) -> Runner | None:
        row = await self.store.run(run_id)
        if row is None or row["owner"] != self.owner or row["state"] not in ("pending", "running", "waiting"):
            return None
        definition = await self.resolve(row)
        steps = await self.store.steps(run_id)
        recorded = {s["key"]: _Record(s["name"], s["state"], s["output"], s["error"]) for s in steps}
        runner = Runner(self, row, definition, recorded)
        if row.get("control"):  # asked while no engine held it (or before a restart)
            runner.control = row["control"]
        return runner

    async def _drive(self, run_id: str, loading: _Loading) -> None:
        runner: Runner | None = None
        try:
            try:
                runner = await self._load(run_id)
            except DB_LOST as exc:
                log.warning("run %s: cannot load, database away (claimed again later): %s", run_id, exc)
                return
            except Exception as exc:  # an unresolvable definition: the run cannot go on
                log.warning("run %s: cannot load its definition: %s", run_id, exc)
                await self._finish(run_id, "dead", None, describe(exc))
                return
            if runner is None:
                return
            runner.task = asyncio.current_task()
            self.runners[run_id] = runner
            pending = self._pending_controls.pop(run_id, None)
            if pending is not None:
                runner.control = pending
            await self._execute(runner)
        except asyncio.CancelledError:
            self._pending_controls.pop(run_id, None)
            raise
        finally:
            if runner is None:
                self._pending_controls.pop(run_id, None)
            # A restart may already have put the run's next task in place: leave that one.
            if self.runners.get(run_id) in (loading, runner):
                del self.runners[run_id]
    async def _execute(self, runner: Runner) -> None:
        body = runner.definition.body
        ctx = RunContext(runner)
        t0 = time.perf_counter()
        METRICS.run_started(runner.name)
        try:
            output = await body(ctx, runner.input)
            dumps(output)
        except (_Suspend, asyncio.CancelledError) as exc:
            await self._interrupted(runner, exc)
            return
        except Exception as exc:
            if runner.control == "cancel-compensate":
                await self._cancelled(runner, compensate=True)
            else:
                await self._failed(runner, exc)
            return
        finally:
            METRICS.run_ended(runner.name, time.perf_counter() - t0)
        await self._finish(runner.run_id, "completed", output, None)

    async def _interrupted(self, runner: Runner, exc: BaseException) -> None:
        reason = exc.reason if isinstance(exc, _Suspend) else (runner.control or "shutdown")
        task = asyncio.current_task()
        while task is not None and task.cancelling():  # the interruption is handled here
            task.uncancel()
        if reason == "pause":
            await self._retry_db(lambda: self.store.pause_idle(runner.run_id, self.owner))
            await self.note(runner.run_id, "paused")
            self._settle(runner.run_id, "paused")
        elif reason.startswith("cancel"):
            await self._cancelled(runner, compensate=reason == "cancel-compensate")
        elif reason == "restart":  # its version or document changed: replay it from its records
            del self.runners[runner.run_id]
            self.launch(runner.run_id)
        elif reason == "lost":  # another engine holds it now: it carries on from the records
            log.warning("run %s: lease lost to another engine; stopped here", runner.run_id)
        else:  # shutdown: leave the run to whoever claims it next
            with contextlib.suppress(*DB_LOST):
                await self.store.release_run(runner.run_id, self.owner)

    async def _cancelled(self, runner: Runner, *, compensate: bool) -> None:
        error = describe(Cancelled("cancelled by an operator"))
        if compensate:
            failures = await runner.compensate()
            if failures:
                error["compensation_failures"] = failures
        await self._finish(runner.run_id, "cancelled", None, error)

    async def _failed(self, runner: Runner, exc: Exception) -> None:
        error = describe(exc)
        if isinstance(exc, StepFailed):
            error = {"step": exc.key, **exc.error}
        if runner.definition.on_failure == "compensate" and not isinstance(exc, NonDeterminism):
            failures = await runner.compensate()
            if failures:
                error["compensation_failures"] = failures
            await self._finish(runner.run_id, "failed", None, error)
        else:
            await self.note(runner.run_id, "dead-letter", error.get("step"), error)
            await self._finish(runner.run_id, "dead", None, error)

    async def _finish(self, run_id: str, state: str, output: Any, error: dict[str, Any] | None) -> None:
        await self._retry_db(lambda: self.store.finish(run_id, state, output, error, self.owner))
        METRICS.run_finished(state)
        self._settle(run_id, state)

    def _settle(self, run_id: str, state: str) -> None:
        fut = self.done.pop(run_id, None)
        if fut is not None and not fut.done():
            fut.set_result(state)

    async def _retry_db(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        delay = 0.05
        while True:
            try:
                return await fn()
            except DB_LOST as exc:
                log.warning("workflow engine waits for the database: %s", exc)
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)

    # -- claiming and leases ---------------------------------------------------------------------------
    async def claim(self) -> list[str]:
        """Take runs that are pending, this owner's, or whose lease expired; start their tasks."""
        if self._closing:
            return []
        async with self._claiming:
            free = self.max_running - len(self.runners)
            if free <= 0:
                return []
            ids = await self.store.claim(self.owner, self.lease_s, list(self.runners), free)
            for run_id in ids:
                self.launch(run_id)
            return ids

    async def heartbeat(self) -> None:
        held = [r for r, runner in self.runners.items() if isinstance(runner, Runner)]
        if held:
            owned, controls = await self.store.heartbeat(self.owner, self.lease_s, held)
            for run_id in held:
                if run_id not in owned and run_id in self.runners:
                    self.request(run_id, "lost")  # its lease went to another engine, or it ended
            for run_id, control in controls:
                self.request(run_id, control)

    # -- signals and controls --------------------------------------------------------------------------
    def signal_event(self, run_id: str, name: str) -> asyncio.Event:
        return self._signals.setdefault((run_id, name), asyncio.Event())

    def drop_signal_event(self, run_id: str, name: str, event: asyncio.Event) -> None:
        if self._signals.get((run_id, name)) is event:
            del self._signals[(run_id, name)]

    def notify_signal(self, run_id: str, name: str) -> None:
        event = self._signals.get((run_id, name))
        if event is not None:
            event.set()

    def request(self, run_id: str, control: str) -> bool:
        """Hand ``control`` to the run's task when it runs here; False when it does not."""
        runner = self.runners.get(run_id)
        if runner is None:
            return False
        if isinstance(runner, _Loading):  # applied when it starts
            self._pending_controls[run_id] = control
        elif runner.control is None or (control in ("cancel", "lost") and runner.control != control) or \
                (control == "cancel-compensate" and not runner.control.startswith("cancel")):
            runner.request(control)  # a control seen again (each heartbeat until it is done) changes nothing
        return True


def new_run_id() -> str:
    return str(uuid.uuid4())


