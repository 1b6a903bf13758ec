"""Cross-service jobs: a job whose handler is a declared method of another Aria service, run as
the principal that enqueued it.

A job for worker ``service:<service name>.<method>`` (e.g. ``service:aria_engine.plan``) is
claimed by a queue worker actor like any other job, which then calls
``<method>(enqueuer, **args)`` on that service through the runtime's transport
(:class:`~aria_actors.runtime.shell.RayServiceClient`, the named Ray actor or Serve app), with
the job's recorded enqueuer as the caller; the return value becomes the job's result, an
exception a failed attempt with the usual retries and backoff.

Who may do what (issue 16: a job must never do what its enqueuer could not):
- At enqueue (:func:`target_spec`, :meth:`Registry.authorize`): the method must be declared
  ``@rpc(..., job=True)`` on the service's class, read from its declaration (service modules
  import cheaply); otherwise :class:`JobNotAllowed` (403). An unknown service or method is
  :class:`UnknownWorker` (400). The enqueuer must pass that method's Gate check (its declared
  permission), otherwise 403.
- At run time the caller is ``Principal.from_dict(<recorded enqueuer>)``, so the target
  service's own Gate decides again with the enqueuer's rights as recorded at enqueue (a role
  removed later is not seen by jobs already queued: cancel them). A refusal (400/401/403)
  discards the job at once: no retry would change it. A job with no recorded enqueuer is
  discarded, never run as anyone.
- This module is the one place in aria_queue where a method name is a string: the job names its
  method, and :func:`call_service` hands it to the transport. Everything else calls typed
  clients.

Guarantees and caveats:
- The call has the transport's timeout (30 s); longer work belongs in a worker of the queue
  itself, or the method should enqueue its own follow-up jobs.
- The job runs at least once, so the method must be idempotent.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aria_actors.queue.errors import JobNotAllowed, UnknownWorker
from aria_actors.queue.jobs import Discard
from aria_actors.runtime.errors import AriaError, NotFound
from aria_actors.runtime.registry import SERVICE_MODULES, client_class
from aria_actors.runtime.rpc import RpcSpec, bind, service_of, surface

PREFIX = "service:"
_NAME = re.compile(r"^service:(aria_[a-z][a-z0-9_]*)\.([a-z][A-Za-z0-9_]*)$")
# Errors of the caller, not of the service: the same call fails the same way every attempt.
REFUSED = frozenset({400, 401, 403})
P = TypeVar("P")


def is_service_worker(name: str) -> bool:
    return name.startswith(PREFIX)


def parse(name: str) -> tuple[str, str]:
    """``service:aria_x.method`` -> ``("aria_x", "method")``; anything else is an UnknownWorker."""
    m = _NAME.match(name)
    if m is None:
        raise UnknownWorker(
            f"{name!r} is not a service worker name; use 'service:aria_<svc>.<method>'",
            worker=name)
    return m.group(1), m.group(2)


def surface_of(service: str, classes: Mapping[str, type] | None = None) -> Mapping[str, RpcSpec]:
    """The declared surface of ``service``: its typed client's (no service module is imported),
    or, in tests, that of the class ``classes`` names for it."""
    if classes is not None:
        cls = classes.get(service)
        if cls is None:
            raise UnknownWorker(f"no service named {service!r}", worker=service)
        return surface(cls)

    try:
        proto = client_class(service)
    except NotFound:
        raise UnknownWorker(f"no service named {service!r}; `aria services` lists them",
                            worker=service) from None
    return surface(proto) if proto is not None else {}


def target_spec(service: str, method: str, classes: Mapping[str, type] | None = None) -> RpcSpec:
    """The declaration of the method a ``service:`` job calls; refuses one a job may not call.

    A method that is not declared (a lifecycle or private method, or none at all) is refused the
    same way as one declared without ``job=True``: a 403 that does not say which it was.
    """
    spec = surface_of(service, classes).get(method)
    name = f"{PREFIX}{service}.{method}"
    if spec is None:
        raise JobNotAllowed(f"{service}.{method} is not a declared RPC method, so no job may call it",
                            worker=name)
    if not spec.job:
        raise JobNotAllowed(f"{service}.{method} is not declared callable by jobs (job=True)",
                            worker=name)
    return spec


def service_job_modules() -> list[str]:
    """``aria_actors.<svc>.jobs`` of every other service that has one: where services declare
    their ``@worker`` functions, imported by the queue service and its worker actors."""
    return [f"aria_actors.{m}.jobs" for m in SERVICE_MODULES
            if m != "queue" and importlib.util.find_spec(f"aria_actors.{m}.jobs") is not None]


def ray_client(service: str) -> Any:
    """The runtime's transport to ``service`` in this actor's Ray namespace."""
    import ray  # ray: producers (and the CLI) import this module without Ray; only a worker in an actor calls this

    from aria_actors.runtime.shell import RayServiceClient

    return RayServiceClient(service, ray.get_runtime_context().namespace)


def typed_client(proto: type[P]) -> P:
    """The typed client ``proto`` (e.g. ``StorageClient``) from inside a queue worker actor: how a
    worker calls another service, passing ``job.caller`` as the caller."""
    return bind(proto, ray_client(service_of(proto)))


def _aria_error(exc: BaseException) -> AriaError | None:
    if isinstance(exc, AriaError):
        return exc
    cause = getattr(exc, "cause", None)  # raised inside a Ray actor, it arrives wrapped
    return cause if isinstance(cause, AriaError) else None


async def call_service(client_for: Callable[[str], Any], service: str, method: str, job: Any) -> Any:
    """Run a ``service:`` job: ``method(enqueuer, **args)`` on ``service``'s transport."""
    caller = job.caller
    if caller is None:
        raise Discard(f"job {job.id} has no recorded enqueuer, and a service job runs as its "
                      "enqueuer; enqueue it again through aria_queue")
    try:
        return await client_for(service).call(method, caller, **job.args)
    except Exception as exc:
        err = _aria_error(exc)
        if err is not None and err.status in REFUSED:
            raise Discard(f"{service}.{method} refused the job's enqueuer {caller.subject!r}: "
                          f"{err.message}") from exc
        raise
