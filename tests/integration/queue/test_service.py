"""QueueService end to end on a real PostgreSQL: REST API, CLI over real HTTP, health, metrics,
pause/resume, scaling Ray worker actors."""

from __future__ import annotations

import asyncio
import contextlib
import os

import httpx
import pytest
from typer.testing import CliRunner

from aria_actors.queue.api import router
from aria_actors.queue.cli import app as cli_app
from aria_actors.queue.config import QueueSettings
from aria_actors.queue.service import QueueService
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status
from aria_actors.runtime.testing import api_app
from tests.fixtures.ports import free_port
from tests.integration.queue.helpers import wait_states

pytestmark = pytest.mark.asyncio(loop_scope="session")
MODULES = ["tests.integration.queue.ray_jobs"]
OPERATOR = Principal.operator()


@pytest.fixture
async def local_service(queue_deps, tmp_path):
    svc = QueueService(AriaSettings(home=tmp_path), QueueSettings(
        executor="local", queues={"ray": 4}, worker_modules=MODULES, poll_interval_s=0.2,
        rescue_after_s=0.5))
    await svc.start(queue_deps)
    yield svc
    await svc.stop()


@pytest.fixture
async def http(local_service):
    app = api_app(router, clients={"aria_queue": LocalClient(local_service)})  # as the operator
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://aria") as client:
        yield client


async def test_service_api_jobs_dead_letter_and_errors(local_service, http, queue_pool):
    assert (await local_service.health()).status is Status.READY
    from aria_actors.queue.dispatch import service_job_modules
    from aria_actors.queue.registry import default_registry

    assert set(service_job_modules()) <= set(local_service.worker_modules)
    listed = (await http.get("/v1/queue/workers")).json()
    assert "it.echo" in listed and listed == default_registry.names()
    # every queue a registered worker names runs, at the configured or the discovered concurrency
    running = local_service._local.stats()["queues"]
    assert default_registry.queues() <= set(running)
    assert running["ray"]["concurrency"] == 4
    assert all(q["concurrency"] == 1 for name, q in running.items() if name != "ray")
    r = await http.post("/v1/queue/jobs", json={"worker": "it.echo", "args": {"x": 1}})
    assert r.status_code == 201
    job_id = r.json()["id"]
    await wait_states(queue_pool, [job_id], {"completed"})
    got = (await http.get(f"/v1/queue/jobs/{job_id}")).json()
    assert got["state"] == "completed" and got["result"]["args"] == {"x": 1}
    assert got["enqueued_by"] == {"subject": "operator", "roles": ["admin"], "tenant": None,
                                  "kind": "operator"}

    bad = await http.post("/v1/queue/jobs", json={"worker": "nope", "args": {}})
    assert bad.status_code == 400 and bad.json()["type"].endswith("/queue-unknown-worker")
    assert bad.headers["content-type"] == "application/problem+json"
    assert (await http.post("/v1/queue/jobs", json={"worker": "it.echo", "priority": -1})
            ).status_code == 422
    assert (await http.get("/v1/queue/jobs/999999")).json()["type"].endswith("/queue-job-not-found")
    health = await http.get("/v1/queue/health")
    assert health.status_code == 200 and health.json()["status"] == "ready"

    bulk = await http.post("/v1/queue/jobs/bulk", json={"jobs": [
        {"worker": "it.echo", "args": {"i": i}, "schedule_in": 3600} for i in range(3)]})
    ids = [j["id"] for j in bulk.json()]
    assert [j["state"] for j in bulk.json()] == ["scheduled"] * 3
    assert (await http.post("/v1/queue/jobs/cancel", json={"ids": ids})).json()["cancelled"] == ids
    listed = (await http.get("/v1/queue/jobs", params={"state": "cancelled"})).json()
    assert [j["id"] for j in listed] == ids
    assert (await http.post("/v1/queue/jobs/retry", json={"ids": ids[:1]})).json() == {
        "retried": ids[:1]}
    await wait_states(queue_pool, ids[:1], {"completed"})

    text = (await http.get("/v1/queue/metrics")).text
    assert 'aria_queue_jobs{queue="ray",state="completed"} 2.0' in text
    assert 'aria_queue_wait_seconds_count{queue="ray"} 2.0' in text
    assert 'aria_queue_execution_seconds_bucket' in text


async def test_pause_resume_and_health_reports_backlog(local_service, http, queue_pool):
    assert (await http.post("/v1/queue/queues/ray/pause")).json()["paused"] is True
    job = (await http.post("/v1/queue/jobs", json={"worker": "it.echo"})).json()
    await asyncio.sleep(0.6)  # past rescue_after_s: a paused backlog is reported
    assert (await wait_states(queue_pool, [job["id"]], {"available"}))
    health = await local_service.health()
    assert health.status is Status.DEGRADED and "paused" in health.message
    assert health.details["queues"]["ray"]["available"] == 1
    assert health.details["queues"]["ray"]["oldest_available_s"] >= 0.5
    await http.post("/v1/queue/queues/ray/resume")
    await wait_states(queue_pool, [job["id"]], {"completed"})
    assert (await local_service.health()).status is Status.READY
    (q,) = [q for q in (await http.get("/v1/queue/queues")).json() if q["name"] == "ray"]
    assert q["jobs"]["completed"] == 1 and q["executors"] == 1 and q["concurrency"] == 4


@contextlib.asynccontextmanager
async def served(service, monkeypatch):
    """The queue router over ``service`` on a real port (the CLI's gateway); yields ``cli(*args)``."""
    import uvicorn

    app = api_app(router, clients={"aria_queue": LocalClient(service)})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    monkeypatch.setenv("ARIA_HOST", "127.0.0.1")
    monkeypatch.setenv("ARIA_PORT", str(port))
    runner = CliRunner()

    def cli(*args: str):
        return asyncio.to_thread(runner.invoke, cli_app, list(args), env=dict(os.environ))

    try:
        yield cli
    finally:
        server.should_exit = True
        await task


async def test_cli_over_real_http(local_service, queue_pool, monkeypatch):
    runner = CliRunner()
    async with served(local_service, monkeypatch) as cli:
        job = await local_service.enqueue(OPERATOR, "it.echo", {"cli": 1}, schedule_in=3600)
        r = await cli("jobs", "--state", "scheduled")
        assert r.exit_code == 0 and "it.echo" in r.stdout, r.stdout
        r = await cli("cancel", str(job["id"]))
        assert r.exit_code == 0 and f"cancelled [{job['id']}]" in r.stdout
        r = await cli("retry", str(job["id"]))
        assert r.exit_code == 0 and f"retried [{job['id']}]" in r.stdout
        await wait_states(queue_pool, [job["id"]], {"completed"})
        assert (await cli("pause", "ray")).exit_code == 0
        r = await cli("ls")
        assert r.exit_code == 0 and "ray" in r.stdout and "yes" in r.stdout
        assert (await cli("resume", "ray")).exit_code == 0
        r = await cli("scale", "ray", "--concurrency", "7")
        assert r.exit_code == 0 and "concurrency 7" in r.stdout
        r = await cli("workers")
        assert r.exit_code == 0 and "it.echo" in r.stdout.split()
        r = await cli("jobs", "--state", "bogus")
        assert r.exit_code == 2
        r = await cli("retry", "999999")
        assert r.exit_code == 0 and "not retryable" in r.stdout
        r = await cli("enqueue", "it.echo", "--args", '{"via": "cli"}', "--priority", "2", "--max-attempts", "3")
        assert r.exit_code == 0 and "job " in r.stdout, r.output
        enqueued = int(r.stdout.split()[1].rstrip(":"))
        await wait_states(queue_pool, [enqueued], {"completed"})
        got = await local_service.get_job(OPERATOR, enqueued)
        assert got["args"] == {"via": "cli"} and got["priority"] == 2 and got["max_attempts"] == 3
        assert (await cli("enqueue", "it.echo", "--args", "[1]")).exit_code == 2
        r = await cli("enqueue", "no.such.worker")
        assert r.exit_code == 1, r.output
        r = await cli("health")
        assert r.exit_code == 0 and r.stdout.startswith(("ready:", "degraded:")), r.output
        assert "queues:" in r.stdout
        monkeypatch.setenv("ARIA_PORT", str(free_port()))  # nobody listens there
        r = await asyncio.to_thread(runner.invoke, cli_app, ["ls"], env=dict(os.environ))
        assert r.exit_code == 1 and "cannot reach Aria" in r.output


async def test_ray_service_scales_worker_actors(ray_session, queue_deps, queue_pool, tmp_path):
    svc = QueueService(AriaSettings(home=tmp_path), QueueSettings(
        executor="ray", queues={"ray": 2}, replicas=1, worker_modules=MODULES,
        poll_interval_s=0.2, rescue_interval_s=3600))  # the test triggers reconcile itself
    await svc.start(queue_deps)
    try:
        assert (await svc.health()).details["queues"]["ray"]["executors"] == 1
        assert (await svc.scale(OPERATOR, "ray", replicas=3))["executors"] == 3
        import ray

        ray.kill(svc._workers.actors["ray"][0], no_restart=True)
        assert await svc.reconcile() == {"ray": 1}
        assert (await svc.health()).details["queues"]["ray"]["executors"] == 3
        jobs = await svc.enqueue_many(OPERATOR, [{"worker": "it.echo", "args": {"i": i}} for i in range(30)])
        await wait_states(queue_pool, [j["id"] for j in jobs], {"completed"})
        assert (await svc.scale(OPERATOR, "ray", replicas=0))["executors"] == 0
        job = await svc.enqueue(OPERATOR, "it.echo", {})
        health = await svc.health()
        assert health.status is Status.DEGRADED and "no live executor" in health.message
        await svc.scale(OPERATOR, "ray", replicas=1)
        await wait_states(queue_pool, [job["id"]], {"completed"})
        assert (await svc.health()).status is Status.READY
    finally:
        await svc.stop()


async def test_prepared_service_runs_its_queues_on_the_spare_actors(ray_session, queue_deps, queue_pool,
                                                                    tmp_path):
    svc = QueueService(AriaSettings(home=tmp_path), QueueSettings(
        executor="ray", queues={"ray": 2}, replicas=1, worker_modules=MODULES, discover_workers=False,
        poll_interval_s=0.2, rescue_interval_s=3600))
    await svc.prepare()  # before the database is known: worker processes start, without a queue
    spares = {a._actor_id for a in svc._workers.spares}
    assert spares
    await svc.start(queue_deps)
    try:
        assert svc._workers.spares == []  # taken by a queue or killed
        assert svc._workers.actors["ray"][0]._actor_id in spares
        jobs = await svc.enqueue_many(OPERATOR, [{"worker": "it.echo", "args": {"i": i}} for i in range(5)])
        await wait_states(queue_pool, [j["id"] for j in jobs], {"completed"})
    finally:
        await svc.stop()


async def test_service_runs_cron_as_leader(queue_deps, queue_pool, tmp_path, monkeypatch):
    from aria_actors.queue.config import CronSetting

    svc = QueueService(AriaSettings(home=tmp_path), QueueSettings(
        executor="local", queues={"ray": 2}, worker_modules=MODULES, poll_interval_s=0.2,
        cron=[CronSetting(expression="* * * * *", worker="it.echo", name="every-minute")],
        cron_interval_s=0.05))
    await svc.start(queue_deps)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not await queue_pool.fetchval("SELECT count(*) FROM aria_queue.jobs") and \
                loop.time() < deadline:
            await asyncio.sleep(0.05)
        rows = await queue_pool.fetch("SELECT id, meta->>'cron' AS c, meta->>'cron_slot' AS s, "
                                      "enqueued_by->>'subject' AS by FROM aria_queue.jobs")
        # one job per slot (two only if the test straddled a minute boundary)
        assert rows and all(r["c"] == "every-minute" for r in rows)
        assert all(r["by"] == "operator" for r in rows)  # the operator wrote ARIA_QUEUE_CRON
        assert len({r["s"] for r in rows}) == len(rows)
        await wait_states(queue_pool, [rows[0]["id"]], {"completed"})
        assert (await svc.health()).details["leader"] is True
        async with served(svc, monkeypatch) as cli:
            r = await cli("cron")
            assert r.exit_code == 0 and "every-minute" in r.stdout and "leads" in r.stdout, r.output
        app = api_app(router, clients={"aria_queue": LocalClient(svc)})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://aria") as http:
            out = (await http.get("/v1/queue/cron")).json()
        (entry,) = out["entries"]
        assert out["leader"] is True and entry["worker"] == "it.echo" and entry["expression"] == "* * * * *"
        assert entry["next_slot"] > entry["last_slot"]
    finally:
        await svc.stop()
