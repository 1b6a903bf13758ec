"""What a workflow body sees: :class:`RunContext` (``ctx``), the one door to anything durable.

Every call on ``ctx`` is a step with a key: the next counter key (``"1"``, ``"2"``... prefixed
inside parallel branches and children) or the key the caller names (documents name their steps).
Keys are allocated when the call is made, not when it is awaited, so a body that starts steps
in a fixed order gets the same keys on every replay, whatever the timing of their completion.

::

    ctx.step(fn, *args)            run fn once, record its JSON result     ("3")
    ctx.invoke(Client.method, ..)  a service's declared method through its typed client, as the
                                   starter (ctx.call(svc, method, args): the same by name)
    ctx.job(worker, args)          an aria_queue job, as the starter, awaited
    ctx.sleep(s) / ctx.wait_signal(name, timeout_s=)   durable timer / external signal
    ctx.parallel([b0, b1, ...], limit=n)               branch i gets keys "<k>.<i>/<n>"

Guarantees and caveats
----------------------
- Results must be JSON values (a step returning anything else fails with a clear error): they are
  what a replay hands back.
- ``idempotency_key()`` inside a running step is ``"<run id>:<step key>"``: pass it to the
  service a side effect lands in, so an attempt repeated after a crash is applied once.
- ``call_client(StorageClient.put, **args)`` inside a running step calls another service as the
  run's starter (compensations use it to undo what a call did).
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from aria_actors.runtime.rpc import service_of
from aria_actors.workflow.policy import StepPolicy

if TYPE_CHECKING:
    from aria_actors.workflow.engine import Runner

_current_key: contextvars.ContextVar[str | None] = contextvars.ContextVar("aria_workflow_step", default=None)
_current_runner: contextvars.ContextVar[Runner | None] = contextvars.ContextVar("aria_workflow_runner",
                                                                                default=None)
MAX_KEY = 512


def idempotency_key() -> str:
    """The idempotency key of the step running now (``"<run id>:<step key>"``)."""
    key = _current_key.get()
    if key is None:
        raise RuntimeError("idempotency_key() is only defined inside a running workflow step")
    return key


def client_target(method: Callable[..., Any]) -> tuple[str, str]:
    """``(service, method name)`` of a typed client's method (``ShapeClient.portrait``)."""
    owner_name, _, name = getattr(method, "__qualname__", "").rpartition(".")
    owner = getattr(sys.modules.get(getattr(method, "__module__", ""), None), owner_name, None)
    if not isinstance(owner, type) or not name:
        raise TypeError(f"{method!r} is not a method of a typed client (e.g. ShapeClient.portrait)")
    return service_of(owner), name


async def call_client(method: Callable[..., Any], **args: Any) -> Any:
    """Inside a running step (or compensation): ``method`` of a typed client (``StorageClient.put``)
    as the run's starter. The step as a whole is what is recorded: prefer ``ctx.invoke`` for a
    lone call."""
    runner = _current_runner.get()
    if runner is None or runner.engine.services is None:
        raise RuntimeError("call_client() is only available inside a running workflow step")
    service, name = client_target(method)
    return await runner.engine.services(runner.starter, service, name, args)


class RunContext:
    """The ``ctx`` of one run (or of one branch of it: see :meth:`child`)."""

    __slots__ = ("_n", "_prefix", "_runner")

    def __init__(self, runner: Runner, prefix: str = "") -> None:
        self._runner = runner
        self._prefix = prefix
        self._n = 0

    @property
    def run_id(self) -> str:
        return self._runner.run_id

    @property
    def workflow(self) -> str:
        return self._runner.name

    @property
    def version(self) -> int:
        return self._runner.version

    @property
    def input(self) -> Any:
        return self._runner.input

    @property
    def starter(self) -> dict[str, Any]:
        """The principal the run acts as (subject, roles, tenant), read-only."""
        return dict(self._runner.starter.to_dict())

    def _key(self, key: str | None) -> str:
        if key is None:
            self._n += 1
            full = f"{self._prefix}{self._n}"
        else:
            full = f"{self._prefix}{key}"
        return self._runner.claim_key(full)

    def child(self, prefix: str) -> RunContext:
        """A ctx whose keys live under ``<this prefix><prefix>/`` (a loop iteration, a branch)."""
        return RunContext(self._runner, f"{self._runner.claim_key(self._prefix + prefix)}/")

    def step(self, fn: Callable[..., Any], *args: Any, key: str | None = None, name: str | None = None,
             policy: StepPolicy | None = None, compensate: Callable[..., Any] | None = None,
             **kwargs: Any) -> Awaitable[Any]:
        step_key = self._key(key)
        return self._runner.run_step(
            step_key, name or getattr(fn, "__workflow_step__", None) or getattr(fn, "__name__", "step"), "step",
            fn, args, kwargs, policy or getattr(fn, "__step_policy__", None),
            compensate or getattr(fn, "__step_compensate__", None))

    def call(self, service: str, method: str, args: dict[str, Any] | None = None, *, key: str | None = None,
             policy: StepPolicy | None = None) -> Awaitable[Any]:
        step_key = self._key(key)
        return self._runner.call_service(step_key, service, method, dict(args or {}), policy)

    def invoke(self, method: Callable[..., Any], *, key: str | None = None, policy: StepPolicy | None = None,
               **args: Any) -> Awaitable[Any]:
        """``ctx.call`` through a typed client's method: ``ctx.invoke(ShapeClient.portrait, character=c)``."""
        service, name = client_target(method)
        return self.call(service, name, args, key=key, policy=policy)

    def job(self, worker: str, args: dict[str, Any] | None = None, *, key: str | None = None,
            queue: str | None = None, timeout_s: float | None = None,
            policy: StepPolicy | None = None) -> Awaitable[Any]:
        step_key = self._key(key)
        return self._runner.run_job(step_key, worker, dict(args or {}), queue, timeout_s)

    def sleep(self, seconds: float, *, key: str | None = None) -> Awaitable[None]:
        return self._runner.sleep(self._key(key), seconds)

    def wait_signal(self, name: str, *, timeout_s: float | None = None, key: str | None = None) -> Awaitable[Any]:
        return self._runner.wait_signal(self._key(key), name, timeout_s)

    def parallel(self, branches: Sequence[Callable[[RunContext], Awaitable[Any]]], *, limit: int | None = None,
                 key: str | None = None) -> Awaitable[list[Any]]:
        base = self._key(key)
        children = [RunContext(self._runner, f"{base}.{i}/") for i in range(len(branches))]
        return self._runner.parallel(list(branches), children, limit)
