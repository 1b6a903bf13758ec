"""The boot actor's brain, Ray-free: start in dependency order, watch health, restart, stop.

The supervisor drives :class:`Unit` objects made by a :class:`Launcher`. ``runtime.boot`` plugs in
a launcher that makes Ray actors and Serve deployments; tests plug in ``runtime.testing``'s
in-process launcher, so everything below is unit-tested without Ray.

Lifecycle of one service (see also ``spec.Status``)::

    pending --deps up--> starting --start ok--> <health status>   (ready/degraded/not_implemented)
       ^                    |
       |                    +--start raises--> failed  (kept with its error; `restart` retries)
       |
    <up> --probe fails / unit dies--> failed --backoff--> starting (restarts += 1)
    <up> --a dependency is not up--> degraded (derived; returns when the dependency does)
    any --stop--> stopped                         (reverse start order)

Guarantees and caveats:
- A service starts only after every dependency is up and every lower layer has settled.
- A failed *start* is not retried automatically (a bad config does not heal itself); a service
  that fails *after* it was up is restarted with exponential backoff, without limit.
- Dependents are told (``on_dependency_change``) when a dependency goes away and comes back.
- Probes and starts are bounded by timeouts; a hung service is treated as failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aria_actors.runtime import graph
from aria_actors.runtime.errors import NotFound
from aria_actors.runtime.spec import Health, ServiceSpec, Status

log = logging.getLogger("aria.supervisor")


class Unit(Protocol):
    """One running instance of a service, as the launcher made it."""

    async def start(self, dep_names: tuple[str, ...]) -> None: ...
    async def health(self) -> Health: ...
    async def stop(self) -> None: ...
    async def kill(self) -> None: ...
    async def placement(self) -> dict[str, Any]: ...
    async def notify(self, dependency: str, up: bool) -> None: ...


class Launcher(Protocol):
    async def launch(self, spec: ServiceSpec) -> Unit: ...


@dataclass
class ServiceState:
    """What the supervisor knows about one service; readable at any time."""

    spec: ServiceSpec
    own_status: Status = Status.PENDING
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0
    last_error: str | None = None
    started_at: float | None = None
    start_seq: int | None = None
    placement: dict[str, Any] = field(default_factory=dict)
    failures_in_row: int = 0
    unit: Unit | None = None
    restarting: bool = False
    dependency_down: tuple[str, ...] = ()
    ready_at: float | None = None
    restart_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Its unit was discarded for a restart that then had to wait for a dependency: the start
    # that comes once the dependency is back is that restart, and counts as one.
    restart_owed: bool = False

    @property
    def status(self) -> Status:
        # Degraded is derived, so it can never be left behind when a dependency returns.
        if self.dependency_down and self.own_status in (Status.READY, Status.NOT_IMPLEMENTED):
            return Status.DEGRADED
        return self.own_status

    def to_dict(self) -> dict[str, Any]:
        now = time.time()
        return {
            "name": self.spec.name,
            "layer": self.spec.layer,
            "kind": self.spec.kind,
            "depends_on": list(self.spec.depends_on),
            "status": self.status.value,
            "message": self.message,
            "details": self.details,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "started_at": self.started_at,
            "ready_at": self.ready_at,
            "start_seq": self.start_seq,
            "uptime_s": round(now - self.ready_at, 3) if self.ready_at and self.status.is_up else None,
            "node": self.placement.get("node_id"),
            "pid": self.placement.get("pid"),
            "capabilities": list(self.spec.capabilities),
            "missing": list(self.spec.missing),
            "dependency_down": list(self.dependency_down),
            "description": self.spec.description,
        }


@dataclass(frozen=True)
class SupervisorOptions:
    health_interval_s: float = 2.0
    health_timeout_s: float = 5.0
    start_timeout_s: float = 120.0
    stop_timeout_s: float = 30.0
    restart_backoff_s: float = 0.5
    restart_backoff_max_s: float = 30.0
    # Probes that must fail in a row before a live unit is restarted (a dead unit restarts at once).
    failure_threshold: int = 2
    # Waves whose units are launched ahead of the one starting (see Supervisor.boot).
    launch_ahead: int = 2


class Supervisor:
    def __init__(
        self,
        specs: Iterable[ServiceSpec],
        launcher: Launcher,
        options: SupervisorOptions | None = None,
        is_dead: Callable[[BaseException], bool] = lambda exc: False,
    ) -> None:
        self.specs = graph.validate(specs)
        self.waves = graph.start_waves(self.specs.values())
        self.launcher = launcher
        self.options = options or SupervisorOptions()
        self.is_dead = is_dead
        self.states = {name: ServiceState(spec) for name, spec in self.specs.items()}
        self.phase = "idle"  # idle -> booting -> running -> stopping -> stopped
        self._seq = 0
        self._lock = asyncio.Lock()
        self._restart_tasks: dict[str, asyncio.Task[None]] = {}

    # --- reading -------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        self._refresh_dependency_flags()  # derived at read time, so it is never stale
        services = [self.states[n].to_dict() for wave in self.waves for n in wave]
        counts: dict[str, int] = {}
        for s in services:
            counts[s["status"]] = counts.get(s["status"], 0) + 1
        return {"phase": self.phase, "counts": counts, "services": services}

    def service(self, name: str) -> dict[str, Any]:
        state = self._state(name)
        self._refresh_dependency_flags()
        return state.to_dict()

    def _state(self, name: str) -> ServiceState:
        try:
            return self.states[name]
        except KeyError:
            raise NotFound(f"no service named {name!r}; GET /v1/services lists them", service=name) from None

    # --- memory across a rebuilt boot actor ----------------------------------------------------
    def history(self) -> dict[str, dict[str, Any]]:
        """What a successor supervisor needs to carry on: restarts, last error, start times."""
        return {n: {"restarts": s.restarts, "last_error": s.last_error, "started_at": s.started_at,
                    "ready_at": s.ready_at} for n, s in self.states.items()}

    def remember(self, history: Mapping[str, Mapping[str, Any]], *, times_of: Iterable[str] = ()) -> None:
        """Take over an earlier supervisor's counters (the boot actor was rebuilt after a crash).

        ``times_of`` names services whose running unit was adopted rather than re-created: their
        start and ready times (hence uptime) carry over too.
        """
        keep_times = set(times_of)
        for name, past in history.items():
            state = self.states.get(name)
            if state is None:
                continue
            state.restarts = max(state.restarts, int(past.get("restarts") or 0))
            state.last_error = state.last_error or past.get("last_error")
            if name in keep_times:
                state.started_at = past.get("started_at") or state.started_at
                state.ready_at = past.get("ready_at") or state.ready_at

    def count_replaced(self, history: Mapping[str, Mapping[str, Any]], adopted: Iterable[str]) -> list[str]:
        """After a successor's boot: a service that was up under the predecessor and whose unit
        was not adopted had lost it (with the predecessor's node, say) and was started again, so
        it counts as a restart. Returns those services."""
        kept = set(adopted)
        replaced = []
        for name, past in history.items():
            state = self.states.get(name)
            if state is None or name in kept or not past.get("ready_at") or state.started_at is None:
                continue
            state.restarts += 1
            if state.status.is_up:  # a start that failed keeps its own error
                state.last_error = ("unit lost while the boot actor was down (its node or process "
                                    "died); started again")
            replaced.append(name)
        return replaced

    # --- boot ----------------------------------------------------------------------------------
    async def boot(self) -> dict[str, Any]:
        """Start every service, layer by layer; returns the status once all have settled.

        Within a layer each service starts as soon as its own dependencies have settled (a
        layer's second wave does not wait for all of its first); a layer starts once every
        lower layer has settled.

        Units are *launched* (process or Serve application created) ahead of their start, because
        that is the slow part and depends on nothing: ``launch_ahead`` waves ahead of the one
        starting, in start order, and Serve applications (whose replicas take longest) at once.
        Not every wave at once: on a CPU-bound boot the first services then start while a dozen
        processes start beside them (aria_security took 4-6 s to start instead of ~1 s, measured).
        ``start`` runs in dependency order; a launched unit refuses calls until it is started.
        Units of services that could not start (a dependency failed) are discarded afterwards.
        """
        self.phase = "booting"
        launches: dict[str, asyncio.Future[Unit]] = {}

        def launch(names: Iterable[str]) -> None:
            for n in names:
                if n not in launches:
                    launches[n] = asyncio.ensure_future(self.launcher.launch(self.specs[n]))

        ahead = max(1, self.options.launch_ahead)
        for wave in self.waves[:ahead]:
            launch(wave)
        launch(n for n, spec in self.specs.items() if spec.kind == "deployment")
        settled = {n: asyncio.Event() for n in self.specs}

        async def start_one(name: str) -> None:
            try:
                # Its own dependencies only: a layer's later wave need not wait for the whole
                # earlier wave (aria_storage waits for aria_auth, not for aria_queue).
                await asyncio.gather(*(settled[d].wait() for d in self.specs[name].depends_on))
                await self._start_if_possible(name, launches.get(name))
            finally:
                settled[name].set()

        async def launch_as_waves_settle() -> None:
            for i, wave in enumerate(self.waves):  # in order, so processes are asked for in start order
                await asyncio.gather(*(settled[n].wait() for n in wave))
                if i + ahead < len(self.waves):
                    launch(self.waves[i + ahead])

        launcher = asyncio.ensure_future(launch_as_waves_settle())
        try:
            for layer in sorted({spec.layer for spec in self.specs.values()}):
                # Layers stay barriers: a layer starts once every lower one has settled.
                await asyncio.gather(*(start_one(n) for wave in self.waves for n in wave
                                       if self.specs[n].layer == layer))
            await launcher
        finally:
            launcher.cancel()
            for name, fut in launches.items():
                if self.states[name].unit is None:
                    await _quiet(_kill_launched(fut))
            if self.phase == "booting":
                self.phase = "running"
        return self.status()

    def _blocked(self, name: str) -> list[str]:
        return [d for d in self.specs[name].depends_on if not self.states[d].status.is_up]

    async def _start_if_possible(self, name: str, launch: Awaitable[Unit] | None = None) -> None:
        state = self.states[name]
        blocked = self._blocked(name)
        if blocked:
            state.own_status = Status.PENDING
            state.message = f"waiting for {', '.join(blocked)} (not up)"
            return
        await self._start(name, launch)

    async def _start(self, name: str, launch: Awaitable[Unit] | None = None) -> bool:
        state = self.states[name]
        if self.phase in ("stopping", "stopped"):
            return False
        state.own_status = Status.STARTING
        state.message = "starting"
        self._seq += 1
        state.start_seq = self._seq
        state.started_at = time.time()
        try:
            unit = await asyncio.wait_for(
                launch if launch is not None else self.launcher.launch(state.spec), self.options.start_timeout_s
            )
            state.unit = unit
            await asyncio.wait_for(unit.start(state.spec.depends_on), self.options.start_timeout_s)
            state.placement = await asyncio.wait_for(unit.placement(), self.options.health_timeout_s)
            health = await self._until_settled(state, unit)
            if health.status == Status.FAILED:
                raise RuntimeError(f"first health check failed: {health.message}")
        except Exception as exc:
            await self._discard_unit(state)
            state.own_status = Status.FAILED
            state.last_error = _describe(exc)
            state.message = "start failed"
            log.warning("%s failed to start: %s", name, state.last_error)
            return False
        self._apply_health(state, health)
        state.ready_at = time.time()
        state.failures_in_row = 0
        return True

    async def _until_settled(self, state: ServiceState, unit: Unit) -> Health:
        """Probe a just-started unit until it stops saying ``starting`` (a model still loading).

        Polled quickly rather than left to the health loop, so dependents start the moment it is
        up and ``ready_at`` tells when it really was; bounded by the start timeout.
        """
        deadline = time.monotonic() + self.options.start_timeout_s
        delay = 0.05
        while True:
            health = await asyncio.wait_for(unit.health(), self.options.health_timeout_s)
            if health.status != Status.STARTING:
                return health
            state.message = health.message
            state.details = health.details
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"still starting after {self.options.start_timeout_s:.0f}s: {health.message}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    # --- supervision ---------------------------------------------------------------------------
    async def check_once(self) -> None:
        """One round of health probes over every started service (the health loop's body)."""
        async with self._lock:
            if self.phase not in ("running", "booting"):
                return
            started = [(s, s.unit) for s in self.states.values() if s.unit is not None and not s.restarting]
            results = await asyncio.gather(*(self._probe(unit) for _, unit in started))
            for (state, unit), outcome in zip(started, results, strict=True):
                # A unit replaced while it was probed (a restart ran meanwhile) has nothing to say.
                if state.unit is unit and not state.restarting:
                    self._record_probe(state, outcome)
        await self._start_unblocked()

    async def _probe(self, unit: Unit) -> Health | BaseException:
        try:
            return await asyncio.wait_for(unit.health(), self.options.health_timeout_s)
        except Exception as exc:
            return exc

    def _record_probe(self, state: ServiceState, outcome: Health | BaseException) -> None:
        if isinstance(outcome, Health) and outcome.status != Status.FAILED:
            self._apply_health(state, outcome)
            state.failures_in_row = 0
            return
        dead = isinstance(outcome, BaseException) and self.is_dead(outcome)
        state.failures_in_row += 1
        reason = _describe(outcome) if isinstance(outcome, BaseException) else outcome.message
        if dead or state.failures_in_row >= self.options.failure_threshold:
            state.own_status = Status.FAILED
            state.last_error = ("unit died: " if dead else "health check failed: ") + reason
            state.message = "restarting"
            self._schedule_restart(state.spec.name)

    def _schedule_restart(self, name: str) -> None:
        state = self.states[name]
        if state.restarting or self.phase in ("stopping", "stopped"):
            return
        state.restarting = True
        delay = min(
            self.options.restart_backoff_s * (2 ** min(state.restarts, 30)),
            self.options.restart_backoff_max_s,
        )
        self._restart_tasks[name] = asyncio.ensure_future(self._restart_after(name, delay))

    async def _restart_after(self, name: str, delay: float) -> None:
        """The automatic restart: tell dependents now, wait out the backoff, then restart."""
        await self._notify_dependents(name, up=False)
        await asyncio.sleep(delay)
        ok = await self._restart_now(name, automatic=True)
        if not ok and self.states[name].own_status == Status.FAILED:
            # It was up before, so the failure is likely transient: keep trying with more backoff.
            self._schedule_restart(name)

    async def _restart_now(self, name: str, automatic: bool) -> bool:
        """The one restart path, shared by supervision and ``restart``; one at a time per service."""
        state = self.states[name]
        async with state.restart_lock:
            if self.phase in ("stopping", "stopped"):
                return False
            state.restarting = True
            try:
                blocked = self._blocked(name)
                if blocked:  # starting now would break the dependency guarantee: wait for them
                    state.restart_owed |= automatic or state.started_at is not None
                    await self._discard_unit(state)
                    state.own_status = Status.PENDING
                    state.started_at = None
                    state.message = f"waiting for {', '.join(blocked)} (not up)"
                    return False
                await self._discard_unit(state)
                if automatic or state.started_at is not None or state.restart_owed:
                    state.restarts += 1
                state.restart_owed = False
                ok = await self._start(name)
            finally:
                state.restarting = False
                if self._restart_tasks.get(name) is asyncio.current_task():
                    self._restart_tasks.pop(name)
        if ok:
            await self._notify_dependents(name, up=True)
        return ok

    async def restart(self, name: str) -> dict[str, Any]:
        """Restart one service now (also the way to retry a service whose start failed)."""
        self._state(name)
        pending = self._restart_tasks.pop(name, None)
        if pending is not None:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
        await self._restart_now(name, automatic=False)
        await self._start_unblocked()
        return self.service(name)

    async def _start_unblocked(self) -> None:
        """Start pending services whose dependencies have come up since they were blocked."""
        if self.phase != "running":
            return
        for wave in self.waves:
            ready = [
                n for n in wave
                if self.states[n].own_status == Status.PENDING and self.states[n].started_at is None
                and not self.states[n].restarting and not self._blocked(n)
            ]
            if ready:
                await asyncio.gather(*(self._restart_now(n, automatic=False) for n in ready))

    def _refresh_dependency_flags(self) -> None:
        for state in self.states.values():
            state.dependency_down = tuple(self._blocked(state.spec.name))

    async def _notify_dependents(self, name: str, up: bool) -> None:
        direct = [s.unit for s in self.states.values() if name in s.spec.depends_on and s.unit is not None]
        await asyncio.gather(*(_quiet(unit.notify(name, up)) for unit in direct))

    # --- stop ----------------------------------------------------------------------------------
    async def shutdown(self) -> dict[str, Any]:
        """Stop every service in reverse start order (dependents before what they depend on)."""
        self.phase = "stopping"
        tasks = list(self._restart_tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        async with self._lock:
            for wave in reversed(self.waves):
                await asyncio.gather(*(self._stop(n) for n in wave))
        self.phase = "stopped"
        return self.status()

    async def _stop(self, name: str) -> None:
        state = self.states[name]
        if state.unit is not None:
            try:
                await asyncio.wait_for(state.unit.stop(), self.options.stop_timeout_s)
            except Exception as exc:
                state.last_error = f"stop: {_describe(exc)}"
            await self._discard_unit(state)
        state.own_status = Status.STOPPED
        state.message = "stopped"

    async def _discard_unit(self, state: ServiceState) -> None:
        unit, state.unit = state.unit, None
        if unit is not None:
            await _quiet(unit.kill())

    def _apply_health(self, state: ServiceState, health: Health) -> None:
        state.own_status = health.status
        state.message = health.message
        state.details = health.details


async def _kill_launched(launch: asyncio.Future[Unit]) -> None:
    if launch.cancelled():  # its start timed out and cancelled it
        return
    unit = await launch
    await unit.kill()


async def _quiet(aw: Awaitable[Any]) -> None:
    try:
        await aw
    except Exception as exc:
        log.debug("ignored during cleanup: %s", exc)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return f"timed out: {exc}" if str(exc) else "timed out"
    # Ray wraps an error raised in an actor (and again per hop); report the original one.
    seen = 0
    while getattr(exc, "cause", None) is not None and seen < 10:
        exc, seen = exc.cause, seen + 1  # type: ignore[attr-defined]
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
