"""Workers the Ray worker actors of the integration tests import (``worker_modules``)."""

from __future__ import annotations

import asyncio
import hashlib
import json

import asyncpg

from aria_actors.queue.registry import worker
from aria_actors.runtime.errors import Conflict
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.service import Service
from aria_actors.runtime.spec import Health, ServiceSpec, Status

_pool: asyncpg.Pool | None = None
FAIL_RATE = 0.2


def fails(job_id: int, attempt: int) -> bool:
    """Whether attempt ``attempt`` of job ``job_id`` raises: 20 % of attempts, reproducibly."""
    h = hashlib.sha256(f"{job_id}:{attempt}".encode()).digest()
    return int.from_bytes(h[:4], "big") / 2**32 < FAIL_RATE


@worker(name="it.flaky", queue="chaos", max_attempts=3, backoff=lambda attempt: 0.0)
async def flaky(job):
    """Records each run in a side table, sleeps a little, fails as ``fails`` says."""
    global _pool
    if _pool is None:
        _pool = await asyncpg.create_pool(job.meta["dsn"], min_size=1, max_size=4)
    await _pool.execute("INSERT INTO runs (job_id, attempt) VALUES ($1, $2)", job.id, job.attempt)
    await asyncio.sleep(job.args.get("sleep", 0.002))
    if fails(job.id, job.attempt):
        raise RuntimeError(f"planned failure of {job.id} attempt {job.attempt}")
    return json.loads(json.dumps({"ok": job.id}))


@worker(name="it.echo", queue="ray")
async def echo(job):
    return {"pid": __import__("os").getpid(), "args": job.args}


@worker(name="it.owned", queue="ray", permission="qtest:echo:run", scope="own")
async def owned(job):
    """A worker that declares who may enqueue it; answers as whom it ran."""
    return {"as": job.caller.subject if job.caller else None, "args": job.args}


class EchoService(Service):
    """A small real service for cross-service job tests, hosted by the runtime's ActorShell."""

    SPEC = ServiceSpec(name="aria_qtest_echo", layer=1, kind="actor",
                       entrypoint="tests.integration.queue.ray_jobs:EchoService")

    async def health(self) -> Health:
        return Health(Status.READY, "echo")

    @rpc("qtest:echo:run", job=True)
    async def shout(self, caller: Principal, text: str) -> dict:
        return {"text": text.upper(), "pid": __import__("os").getpid(), "as": caller.subject}

    @rpc("qtest:echo:run", job=True)
    async def refuse(self, caller: Principal) -> None:
        raise Conflict("echo refuses", reason="test")

    @rpc("qtest:echo:run")
    async def direct_only(self, caller: Principal) -> str:
        return "not for jobs"
