"""Jobs run as their enqueuer (issue 16), on a real PostgreSQL with an in-process executor.

A plain user's job once called aria_security.issue_token and returned an admin token. Now a job
records the verified caller that enqueued it (never a body field), enqueueing checks that caller
may enqueue the worker (a service method declared ``job=True`` and its permission), and a
``service:`` job calls its target as that caller, so the target decides again.
"""

from __future__ import annotations

import json

import httpx
import pytest

from aria_actors.queue import admin, producer
from aria_actors.queue.api import router
from aria_actors.queue.config import QueueSettings
from aria_actors.queue.errors import InvalidJob, JobNotFound, JobStateConflict
from aria_actors.queue.executor import Executor
from aria_actors.queue.registry import Registry
from aria_actors.queue.service import QueueService
from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import Gate, invoke
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.testing import api_app
from aria_actors.security.rbac import DEFAULT_ROLES
from tests.integration.queue.helpers import wait_states
from tests.integration.queue.ray_jobs import EchoService

pytestmark = pytest.mark.asyncio(loop_scope="session")
MODULES = ["tests.integration.queue.ray_jobs"]
OPERATOR = Principal.operator()
USER = Principal("u1", ("user",))
# The stock machine role: it may write any job, but holds no "run" right and nothing of security.
MACHINE = Principal("m1", ("service",))
ISSUE_TOKEN = {"worker": "service:aria_security.issue_token",
               "args": {"subject": "me", "claims": {"roles": ["admin"]}}}

# Roles the default table does not have (yet): callers with @own and @tenant queue rights.
GATE = Gate({**DEFAULT_ROLES, "submitter": ("queue:job:*@own", "qtest:echo:run@own"),
             "tenant_ops": ("queue:job:*",)})
ALICE = Principal("alice", ("submitter",), tenant="t1")
BOB = Principal("bob", ("submitter",), tenant="t1")
CAROL = Principal("carol", ("tenant_ops",), tenant="t1")
DAVE = Principal("dave", ("tenant_ops",), tenant="t2")


@pytest.fixture
async def svc(queue_deps, tmp_path):
    service = QueueService(AriaSettings(home=tmp_path), QueueSettings(
        executor="local", queues={"ray": 4}, worker_modules=MODULES, poll_interval_s=0.2))
    await service.start(queue_deps)
    yield service
    await service.stop()


def http(service: QueueService, caller: Principal) -> httpx.AsyncClient:
    app = api_app(router, clients={"aria_queue": LocalClient(service)}, caller=caller)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://aria")


async def as_(service: QueueService, caller: Principal, method: str, *args, **kwargs):
    """Call ``method`` through the RPC boundary as ``caller``, with the test's role table."""
    service.gate = GATE
    return await invoke(service, method, (caller, *args), kwargs, GATE)


async def count(pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM aria_queue.jobs")


async def test_no_one_can_enqueue_issue_token(svc, queue_pool):
    """The escalation of issue 16, through the router and the service: refused at enqueue."""
    for caller, problem in ((USER, "queue-job-not-allowed"), (MACHINE, "queue-job-not-allowed"),
                            (OPERATOR, "queue-job-not-allowed")):
        async with http(svc, caller) as client:
            r = await client.post("/v1/queue/jobs", json=ISSUE_TOKEN)
            assert r.status_code == 403, r.text
            assert r.json()["type"].endswith("/" + problem)
            r = await client.post("/v1/queue/jobs/bulk", json={"jobs": [ISSUE_TOKEN]})
            assert r.status_code == 403
    assert await count(queue_pool) == 0


async def test_a_job_cannot_call_a_method_its_enqueuers_role_does_not_grant(svc, queue_pool):
    plan = {"worker": "service:aria_engine.plan", "args": {"body": {"domain": "x"}}, "schedule_in": 3600}
    async with http(svc, MACHINE) as client:  # may write jobs, may not run plans
        r = await client.post("/v1/queue/jobs", json=plan)
        assert r.status_code == 403 and "engine:plan:run" in r.json()["detail"]
        r = await client.post("/v1/queue/jobs/bulk", json={"jobs": [plan]})
        assert r.status_code == 403
    with pytest.raises(Forbidden):  # one job the caller may not enqueue refuses the whole batch
        await as_(svc, ALICE, "enqueue_many", [{"worker": "it.owned"}, {"worker": "it.echo"}])
    assert await count(queue_pool) == 0
    async with http(svc, OPERATOR) as client:
        r = await client.post("/v1/queue/jobs", json=plan)
        assert r.status_code == 201
        assert r.json()["enqueued_by"]["subject"] == "operator"


async def test_who_a_job_runs_as_cannot_be_supplied(svc, queue_pool):
    forged = {"subject": "root", "roles": ["admin"], "tenant": None, "kind": "operator"}
    with pytest.raises(InvalidJob):
        await LocalClient(svc).call("enqueue", MACHINE, "it.echo", {}, enqueued_by=forged)
    with pytest.raises(InvalidJob):
        await as_(svc, ALICE, "enqueue_many", [{"worker": "it.owned", "enqueued_by": forged}])
    async with http(svc, OPERATOR) as client:
        r = await client.post("/v1/queue/jobs", json={"worker": "it.echo", "enqueued_by": forged})
        assert r.status_code == 422
    assert await count(queue_pool) == 0
    # meta is the job's own data, not who it runs as
    job = await as_(svc, ALICE, "enqueue", "it.owned", {"n": 1}, meta={"enqueued_by": forged})
    assert job["enqueued_by"]["subject"] == "alice" and job["meta"] == {"enqueued_by": forged}
    await wait_states(queue_pool, [job["id"]], {"completed"})
    done = await as_(svc, ALICE, "get_job", job["id"])
    assert done["result"] == {"as": "alice", "args": {"n": 1}}  # the worker saw its enqueuer


async def test_workers_need_their_declared_permission(svc, queue_pool):
    with pytest.raises(Forbidden):  # it.echo declares none: queue:worker:run@any
        await as_(svc, ALICE, "enqueue", "it.echo", {})
    with pytest.raises(Forbidden):  # tenant_ops may write jobs but not run qtest:echo
        await as_(svc, CAROL, "enqueue", "it.owned", {})
    assert await count(queue_pool) == 0


async def test_callers_see_and_change_only_the_jobs_their_rights_reach(svc, queue_pool):
    a = await as_(svc, ALICE, "enqueue", "it.owned", {"n": 1}, schedule_in=3600)
    b = await as_(svc, BOB, "enqueue", "it.owned", {"n": 2}, schedule_in=3600)
    assert (await as_(svc, ALICE, "get_job", a["id"]))["id"] == a["id"]
    with pytest.raises(JobNotFound):  # another's job reads as missing
        await as_(svc, BOB, "get_job", a["id"])
    assert (await as_(svc, CAROL, "get_job", a["id"]))["id"] == a["id"]  # same tenant
    with pytest.raises(JobNotFound):
        await as_(svc, DAVE, "get_job", a["id"])

    def ids(jobs):
        return [j["id"] for j in jobs]

    assert ids(await as_(svc, ALICE, "list_jobs")) == [a["id"]]
    assert ids(await as_(svc, BOB, "list_jobs", state="scheduled")) == [b["id"]]
    assert ids(await as_(svc, CAROL, "list_jobs")) == [a["id"], b["id"]]
    assert ids(await as_(svc, DAVE, "list_jobs")) == []
    assert ids(await as_(svc, OPERATOR, "list_jobs")) == [a["id"], b["id"]]

    assert await as_(svc, BOB, "cancel", [a["id"]]) == {"cancelled": [], "signalled": []}
    assert await as_(svc, DAVE, "cancel", [a["id"], b["id"]]) == {"cancelled": [], "signalled": []}
    assert await as_(svc, ALICE, "cancel", [a["id"], b["id"]]) == {"cancelled": [a["id"]], "signalled": []}
    assert await as_(svc, BOB, "retry", [a["id"]]) == []
    assert await as_(svc, CAROL, "retry", [a["id"]]) == [a["id"]]
    # retried by someone else, the job still runs as the one who enqueued it
    await wait_states(queue_pool, [a["id"]], {"completed"})
    assert (await admin.get_job(queue_pool, a["id"])).result["as"] == "alice"


async def test_a_unique_job_of_another_is_not_shown(svc, queue_pool):
    first = await as_(svc, ALICE, "enqueue", "it.owned", {"u": 1}, unique=True, schedule_in=3600)
    again = await as_(svc, ALICE, "enqueue", "it.owned", {"u": 1}, unique=True, schedule_in=3600)
    assert again["conflict"] and again["id"] == first["id"] and again["args"] == {"u": 1}
    with pytest.raises(JobStateConflict):
        await as_(svc, BOB, "enqueue", "it.owned", {"u": 1}, unique=True, schedule_in=3600)
    [hidden] = await as_(svc, BOB, "enqueue_many", [{"worker": "it.owned", "args": {"u": 1},
                                                    "unique": True, "schedule_in": 3600}])
    assert hidden["redacted"] and hidden["conflict"] and "args" not in hidden
    assert await count(queue_pool) == 1


async def test_bad_ids_and_filters_are_bad_requests(svc):
    for method, args in (("get_job", ("1",)), ("get_job", (2**63,)), ("retry", ([True],)),
                         ("cancel", ("1",)), ("list_jobs", ()), ("scale", ("q", 10**6))):
        kwargs = {"state": "bogus"} if method == "list_jobs" else {}
        with pytest.raises(InvalidJob):
            await as_(svc, OPERATOR, method, *args, **kwargs)


async def test_service_jobs_run_as_their_enqueuer_and_the_target_decides(queue_dsn, queue_pool):
    reg = Registry(services={"aria_qtest_echo": EchoService},
                   service_client=lambda name: LocalClient(EchoService(AriaSettings())))
    a1 = Principal("a1", ("admin",))
    ok = await producer.enqueue(queue_pool, "service:aria_qtest_echo.shout", {"text": "hi"},
                                queue="svc", registry=reg, enqueued_by=a1)
    with pytest.raises(Forbidden):  # a user holds no qtest right: refused at enqueue
        await producer.enqueue(queue_pool, "service:aria_qtest_echo.shout", {"text": "x"},
                               queue="svc", registry=reg, enqueued_by=USER)
    # rows that got past the enqueue check (a role reduced since, a row written by hand): the
    # target refuses the recorded enqueuer, and no attempt is retried
    weak = await producer.enqueue(queue_pool, "service:aria_qtest_echo.shout", {"text": "x"},
                                  queue="svc", registry=reg, enqueued_by=a1, max_attempts=5)
    nobody = await producer.enqueue(queue_pool, "service:aria_qtest_echo.shout", {"text": "y"},
                                    queue="svc", registry=reg, enqueued_by=a1, max_attempts=5)
    await queue_pool.execute("UPDATE aria_queue.jobs SET enqueued_by = $1 WHERE id = $2",
                             json.dumps(USER.to_dict()), weak.id)
    await queue_pool.execute("UPDATE aria_queue.jobs SET enqueued_by = NULL WHERE id = $1", nobody.id)
    ex = Executor(queue_dsn, {"svc": 2}, registry=reg, poll_interval=0.1, stage_interval=None)
    await ex.start()
    try:
        await wait_states(queue_pool, [ok.id], {"completed"})
        await wait_states(queue_pool, [weak.id, nobody.id], {"discarded"})
    finally:
        await ex.stop()
    assert (await admin.get_job(queue_pool, ok.id)).result["as"] == "a1"
    refused = await admin.get_job(queue_pool, weak.id)
    assert refused.attempt == 1 and "refused the job's enqueuer 'u1'" in refused.errors[0]["error"]
    orphan = await admin.get_job(queue_pool, nobody.id)
    assert orphan.attempt == 1 and "no recorded enqueuer" in orphan.errors[0]["error"]
