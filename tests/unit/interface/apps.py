"""In-process doubles for the channel's tests: a gateway (the real ``create_app``) over a real
aria_security (in-process keys), aria_interface, and small stand-ins of aria_workflow and aria_queue
that keep the real methods' permissions and their "another's record is not found" rule."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from aria_actors.coordinate.config import CoordinateSettings
from aria_actors.coordinate.gateway import create_app
from aria_actors.interface.service import InterfaceService
from aria_actors.queue.errors import JobNotFound
from aria_actors.queue.spec import SPEC as QUEUE
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, Status
from aria_actors.security.testing import InProcessSecurity
from aria_actors.workflow.errors import UnknownRun
from aria_actors.workflow.spec import SPEC as WORKFLOW

RUN = "0b6f2d3e-5a1c-4e8f-9d2a-7c4b1e0f3a21"
OTHER_RUN = "1c7e3f4a-6b2d-4f9a-8e3b-8d5c2f1a4b32"


class FakeWorkflow(Service):
    """``history`` as aria_workflow declares it: a run is its starter's; another's is unknown."""

    SPEC = WORKFLOW

    def __init__(self) -> None:
        super().__init__(AriaSettings())
        self.runs: dict[str, dict[str, Any]] = {}
        self.reads = 0
        self.down = False

    def add_run(self, run_id: str, owner: str) -> None:
        self.runs[run_id] = {"owner": owner, "state": "running", "name": "demo",
                             "events": [{"at": "2026-01-01T00:00:00", "kind": "started", "key": None, "detail": {}}]}

    def record(self, run_id: str, kind: str, key: str | None = None, state: str | None = None) -> None:
        run = self.runs[run_id]
        run["events"].append({"at": f"2026-01-01T00:00:{len(run['events']):02d}", "kind": kind, "key": key,
                              "detail": {}})
        if state:
            run["state"] = state

    async def health(self) -> Health:
        return Health(Status.READY)

    @rpc("workflow:run:read", scope="own", feature="workflow-analytics")
    async def history(self, caller: Principal, run_id: str) -> dict[str, Any]:
        self.reads += 1
        if self.down:
            from aria_actors.runtime.errors import ServiceUnavailable  # test double: only this path needs it

            raise ServiceUnavailable("aria_workflow is restarting", service="aria_workflow")
        run = self.runs.get(run_id)
        if run is None or (run["owner"] != caller.subject and "admin" not in caller.roles):
            raise UnknownRun(f"no run {run_id}", run_id=run_id)
        return {"run_id": run_id, "name": run["name"], "state": run["state"], "events_total": len(run["events"]),
                "events": list(run["events"])}


class FakeQueue(Service):
    SPEC = QUEUE

    def __init__(self) -> None:
        super().__init__(AriaSettings())
        self.jobs: dict[int, dict[str, Any]] = {}

    async def health(self) -> Health:
        return Health(Status.READY)

    @rpc("queue:job:read", scope="own", feature="jobs")
    async def get_job(self, caller: Principal, job_id: int) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None or (job["enqueued_by"]["subject"] != caller.subject and "admin" not in caller.roles):
            raise JobNotFound(f"no job with id {job_id}", job_id=job_id)
        return dict(job)


class Directory:
    """A service directory (what the gateway reads) over in-process clients."""

    def __init__(self, services: dict[str, Service]) -> None:
        self.clients = {name: LocalClient(svc) for name, svc in services.items()}
        self.statuses = {name: "ready" for name in services}
        self.restarts = dict.fromkeys(services, 0)

    async def status(self) -> dict[str, Any]:
        services = [{"name": n, "status": s, "restarts": self.restarts[n], "message": ""}
                    for n, s in self.statuses.items()]
        return {"phase": "ready", "services": services, "counts": {"ready": len(services)}}

    async def service(self, name: str) -> dict[str, Any]:
        return next(s for s in (await self.status())["services"] if s["name"] == name)

    def client(self, name: str) -> LocalClient | None:
        return self.clients.get(name)


class Gateway:
    """The gateway app and the in-process services behind it."""

    def __init__(self) -> None:
        self.security = InProcessSecurity.started()
        self.workflow = FakeWorkflow()
        self.queue = FakeQueue()
        self.interface = InterfaceService(AriaSettings())
        asyncio.run(self.interface.start(Deps()))
        self.directory = Directory({"aria_security": self.security, "aria_workflow": self.workflow,
                                    "aria_queue": self.queue, "aria_interface": self.interface})
        self.app: FastAPI = create_app(self.directory, require_auth=True, settings=CoordinateSettings())

    def token(self, subject: str, roles: tuple[str, ...] = ("editor",), ttl_s: int = 600) -> str:
        return asyncio.run(self.security.issue_token(Principal.operator(), subject,
                                                     {"roles": list(roles), "tenant": "t1"}, ttl_s))

    def bearer(self, subject: str, roles: tuple[str, ...] = ("editor",)) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(subject, roles)}"}
