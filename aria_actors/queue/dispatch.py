"""Cross-service jobs: a job whose handler is a method of another Aria service.

A job enqueued for worker ``service:<service name>.<method>`` (e.g.
``service:aria_storage.reindex``) is claimed by a queue worker actor like any other job, which
then calls ``<method>(**args)`` on that service through the runtime's service client (the named
Ray actor or Serve app, as every service call in Aria goes); the return value becomes the job's
result, an exception a failed attempt with the usual retries and backoff.

Guarantees and caveats:
- At enqueue time the service must be one the runtime registry knows and the method a public
  name (no leading underscore); whether the method exists is only known when the job runs (an
  unknown method fails the attempt with the service's not-found error).
- The call has the runtime client's timeout (30 s); longer work belongs in a worker of the queue
  itself, or the method should enqueue its own follow-up jobs.
- The job runs at least once, so the method must be idempotent.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from aria_actors.queue.errors import UnknownWorker

PREFIX = "service:"
_NAME = re.compile(r"^service:(aria_[a-z][a-z0-9_]*)\.([a-z][A-Za-z0-9_]*)$")


def is_service_worker(name: str) -> bool:
    return name.startswith(PREFIX)


def parse(name: str) -> tuple[str, str]:
    """``service:aria_x.method`` -> ``("aria_x", "method")``; anything else is an UnknownWorker."""
    m = _NAME.match(name)
    if m is None:
        raise UnknownWorker(
            f"{name!r} is not a service worker name; use 'service:aria_<svc>.<public method>'",
            worker=name)
    return m.group(1), m.group(2)


@functools.cache
def registered_services() -> frozenset[str]:
    from aria_actors.runtime.registry import all_specs

    return frozenset(s.name for s in all_specs())


def service_job_modules() -> list[str]:
    """``aria_actors.<svc>.jobs`` of every other service that has one: where services declare
    their ``@worker`` functions, imported by the queue service and its worker actors."""
    import importlib.util

    from aria_actors.runtime.registry import SERVICE_MODULES

    return [f"aria_actors.{m}.jobs" for m in SERVICE_MODULES
            if m != "queue" and importlib.util.find_spec(f"aria_actors.{m}.jobs") is not None]


def ray_client(service: str) -> Any:
    """The runtime's client of ``service`` in this actor's Ray namespace."""
    import ray

    from aria_actors.runtime.shell import RayServiceClient

    return RayServiceClient(service, ray.get_runtime_context().namespace)


async def call_service(client_for: Callable[[str], Any], service: str, method: str, job: Any) -> Any:
    return await client_for(service).call(method, **job.args)
