"""Ray-free, server-free parts of aria_queue: registry, validation, unique keys, backoff, cron,
metrics, SQL files."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from aria_actors.queue import producer
from aria_actors.queue.config import QueueSettings
from aria_actors.queue.errors import ArgsNotSerializable, InvalidCron, InvalidJob, JobNotAllowed, UnknownWorker
from aria_actors.queue.jobs import Discard, Job, JobState, Snooze, default_backoff
from aria_actors.queue.metrics import BUCKETS, Histogram, Latency, exposition
from aria_actors.queue.plugins import Cron, CronEntry
from aria_actors.queue.registry import Registry, Unique
from aria_actors.queue.sql import load, migration_files
from aria_actors.runtime.errors import Forbidden, Unauthorized
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import Gate, rpc
from aria_actors.runtime.service import Service
from aria_actors.runtime.spec import Health, ServiceSpec, Status
from aria_actors.security.rbac import DEFAULT_ROLES


@pytest.fixture
def reg() -> Registry:
    r = Registry()

    @r.worker(queue="mail", max_attempts=5, priority=3, timeout=2.0, tags=("t",))
    async def send(job):
        return None

    @r.worker(name="plain")
    def plain(job):
        return None

    return r


def test_decorator_registers_with_options(reg):
    spec = reg.get(f"{__name__}:reg.<locals>.send")
    assert (spec.queue, spec.max_attempts, spec.priority, spec.timeout, spec.is_async) == (
        "mail", 5, 3, 2.0, True)
    assert reg.get("plain").is_async is False
    assert reg.names() == sorted(reg.names())


def test_taken_names_and_bad_options_are_refused(reg):
    with pytest.raises(InvalidJob):
        reg.worker(lambda job: None, name="plain")
    for bad in ({"priority": 10}, {"max_attempts": 0}, {"timeout": 0}, {"queue": ""}):
        with pytest.raises(InvalidJob):
            reg.worker(lambda job: None, name="x", **bad)
    with pytest.raises(UnknownWorker):
        reg.get("missing")


def test_build_uses_worker_defaults_and_validates(reg):
    new = producer.build("plain", {"b": 1, "a": [1, 2]}, registry=reg)
    assert (new.queue, new.priority, new.max_attempts, new.state) == ("default", 0, 20, "available")
    assert json.loads(new.args_json) == {"a": [1, 2], "b": 1}
    assert producer.build("plain", {}, registry=reg, schedule_in=60).state == JobState.SCHEDULED
    past = datetime.now(UTC) - timedelta(seconds=1)
    assert producer.build("plain", {}, registry=reg, scheduled_at=past).state == JobState.AVAILABLE
    with pytest.raises(InvalidJob):
        producer.build("plain", {}, registry=reg, schedule_in=1, scheduled_at=past)
    with pytest.raises(InvalidJob):
        producer.build("plain", {}, registry=reg, scheduled_at=datetime(2030, 1, 1))  # naive
    with pytest.raises(ArgsNotSerializable) as exc:
        producer.build("plain", {"ok": 1, "deep": {"x": [1, object()]}}, registry=reg)
    assert exc.value.fields["field"] == "args.deep.x[1]"
    with pytest.raises(InvalidJob):
        producer.build("plain", {}, registry=reg, priority=True)


def test_unique_keys():
    u = Unique(period=60)
    k = producer.unique_key(u, "w", "q", {"a": 1, "b": 2}, now=120.0)
    assert k == producer.unique_key(u, "w", "q", {"b": 2, "a": 1}, now=179.9)
    assert k != producer.unique_key(u, "w", "q", {"a": 1, "b": 2}, now=180.0)  # next window
    assert k != producer.unique_key(u, "w", "other", {"a": 1, "b": 2}, now=120.0)
    by_a = Unique(period=None, keys=("a",))
    assert producer.unique_key(by_a, "w", "q", {"a": 1, "b": 2}) == producer.unique_key(
        by_a, "w", "q", {"a": 1, "b": 3})
    assert Unique.coerce(True) == Unique()
    assert Unique.coerce(30).period == 30
    assert Unique.coerce({"keys": ["a"], "states": ["available"]}).states == (JobState.AVAILABLE,)
    with pytest.raises(InvalidJob):
        Unique.coerce({"bogus": 1})
    with pytest.raises(InvalidJob):
        Unique(period=0)


def test_default_backoff_is_15_plus_2_pow_attempt_with_jitter():
    rng = random.Random(1)
    for attempt in range(1, 12):
        base = 15 + 2 ** attempt
        values = [default_backoff(attempt, rng=rng) for _ in range(50)]
        assert all(base <= v <= base * 1.1 for v in values)
        assert len(set(values)) > 1


def test_snooze_rejects_negative():
    with pytest.raises(ValueError):
        Snooze(-1)


def test_job_from_record_and_to_dict():
    row = {"id": 1, "worker": "w", "args": '{"a": 1}', "state": "retryable", "errors": "[]",
           "meta": "{}", "tags": ["x"], "attempted_by": ["n", "u"],
           "inserted_at": datetime(2026, 1, 1, tzinfo=UTC)}
    job = Job.from_record(row)
    assert job.args == {"a": 1} and job.state is JobState.RETRYABLE
    d = job.to_dict()
    assert d["state"] == "retryable" and d["inserted_at"] == "2026-01-01T00:00:00+00:00"
    json.dumps(d)


def test_cron_entries(reg):
    with pytest.raises(InvalidCron):
        CronEntry("61 * * * *", "plain")
    e = CronEntry("*/15 * * * *", "plain")
    at = datetime(2026, 3, 1, 12, 29, 59, tzinfo=UTC)
    assert e.last_slot(at) == datetime(2026, 3, 1, 12, 15, tzinfo=UTC)
    assert e.last_slot(datetime(2026, 3, 1, 12, 30, 0, 5, tzinfo=UTC)) == datetime(
        2026, 3, 1, 12, 30, tzinfo=UTC)
    cron = Cron([e], registry=reg, catch_up=60)
    due = cron.due(datetime(2026, 3, 1, 12, 30, 20, tzinfo=UTC))
    assert [j.unique_key for j in due] == ["cron:plain@*/15 * * * *:2026-03-01T12:30:00+00:00"]
    assert set(due[0].unique_states) == set(JobState)
    assert cron.due(at) == []  # the 12:15 slot is 15 minutes old: skipped


def test_histograms_merge_and_expose():
    lat = Latency()
    for v in (0.0005, 0.003, 0.003, 2.0):
        lat.observe("q", wait=v, execution=v)
    merged = Latency.merged([lat.snapshot(), lat.snapshot()])
    assert sum(merged.wait["q"].counts) == 8
    assert merged.wait["q"].quantile(0.5) == 0.005
    text = exposition([("q", "available", 3)], merged).decode()
    assert 'aria_queue_jobs{queue="q",state="available"} 3.0' in text
    assert 'aria_queue_wait_seconds_bucket{le="+Inf",queue="q"} 8.0' in text
    assert "aria_queue_execution_seconds_count" in text
    assert Histogram().quantile(0.99) == 0.0 and len(BUCKETS) + 1 == len(Histogram().counts)


def test_sql_files_hold_every_named_query():
    names = set(load("jobs"))
    assert {"insert_jobs", "fetch_jobs", "ack_completed", "ack_failed", "stage_jobs",
            "prune_jobs", "rescue_orphans", "retry_jobs", "cancel_jobs"} <= names
    assert "SKIP LOCKED" in load("jobs")["fetch_jobs"]
    assert [p.name for p in migration_files()] == ["0001_jobs.sql", "0002_enqueued_by.sql"]
    assert [p.name for p in migration_files("down")] == ["0002_enqueued_by.down.sql", "0001_jobs.down.sql"]
    assert "enqueued_by" in load("jobs")["fetch_jobs"]  # the executor needs who a job runs as


def test_settings_validate(monkeypatch):
    monkeypatch.setenv("ARIA_QUEUE_QUEUES", '{"default": 5, "mail": 2}')
    s = QueueSettings()
    assert s.queues == {"default": 5, "mail": 2}
    with pytest.raises(ValueError):
        QueueSettings(queues={"bad name!": 1})
    with pytest.raises(ValueError):
        QueueSettings(nope=1)


class FakeService(Service):
    """A service whose declared surface the queue reads: what jobs may call, with what right."""

    SPEC = ServiceSpec(name="aria_fake", layer=1)

    async def health(self) -> Health:
        return Health(Status.READY)

    @rpc("fake:thing:read", job=True)
    async def look(self, caller: Principal, full: bool = False) -> dict:
        return {"as": caller.subject, "roles": list(caller.roles), "full": full}

    @rpc("fake:thing:write", job=True)
    async def change(self, caller: Principal) -> str:
        return "changed"

    @rpc("fake:thing:read")
    async def not_for_jobs(self, caller: Principal) -> str:
        return "direct calls only"

    async def undeclared(self, caller: Principal) -> str:
        return "never"


ROLES = {**DEFAULT_ROLES, "looker": ("queue:job:*@own", "fake:thing:read"),
         "changer": ("queue:job:*@own", "fake:thing:*")}
GATE = Gate(ROLES)
LOOKER = Principal("l1", ("looker",))
CHANGER = Principal("c1", ("changer",))


def fake_registry(**kwargs) -> Registry:
    return Registry(services={"aria_fake": FakeService}, **kwargs)


async def test_service_workers_dispatch_to_the_named_service_as_the_enqueuer():
    calls = []

    class Transport:
        def __init__(self, name):
            self.name = name

        async def call(self, method, *args, **kwargs):
            calls.append((self.name, method, args, kwargs))
            return "done"

    reg = fake_registry(service_client=Transport)
    spec = reg.get("service:aria_fake.look")
    assert reg.check_target(spec.name).permission == "fake:thing:read"
    job = Job(id=1, worker=spec.name, args={"full": True}, enqueued_by=LOOKER.to_dict())
    assert await spec.fn(job) == "done"
    assert calls == [("aria_fake", "look", (LOOKER,), {"full": True})]
    for bad in ("service:aria_fake._secret", "service:fake.x", "service:aria_fake"):
        with pytest.raises(UnknownWorker):
            reg.get(bad)
    with pytest.raises(UnknownWorker):
        Registry(services={}).check_target("service:aria_fake.look")
    with pytest.raises(JobNotAllowed):  # undeclared and unknown methods answer alike
        reg.check_target("service:aria_fake.nothing_here")
    new = producer.build("service:aria_fake.look", {"full": True}, registry=reg, enqueued_by=LOOKER,
                         gate=GATE)
    assert new.worker == "service:aria_fake.look"
    assert json.loads(new.enqueued_by_json) == LOOKER.to_dict()
    with pytest.raises(UnknownWorker):
        Registry().check_target("service:aria_nothing.reindex")


def test_a_job_may_only_call_methods_declared_for_jobs():
    reg = fake_registry()
    for name in ("service:aria_fake.not_for_jobs", "service:aria_fake.undeclared",
                 "service:aria_fake.start", "service:aria_fake.health"):
        with pytest.raises(JobNotAllowed) as exc:
            producer.build(name, {}, registry=reg, enqueued_by=Principal.operator())
        assert exc.value.status == 403


def test_the_enqueuer_needs_the_right_of_the_method_its_job_calls():
    reg = fake_registry()
    producer.build("service:aria_fake.look", {}, registry=reg, enqueued_by=LOOKER, gate=GATE)
    with pytest.raises(Forbidden) as exc:
        producer.build("service:aria_fake.change", {}, registry=reg, enqueued_by=LOOKER, gate=GATE)
    assert exc.value.status == 403 and "fake:thing:write" in exc.value.message
    producer.build("service:aria_fake.change", {}, registry=reg, enqueued_by=CHANGER, gate=GATE)
    with pytest.raises(Unauthorized):
        producer.build("service:aria_fake.look", {}, registry=reg, enqueued_by=Principal.anonymous(),
                       gate=GATE)
    # without a principal a service job would run as nobody: refused, not run as the queue
    with pytest.raises(InvalidJob):
        producer.build("service:aria_fake.look", {}, registry=reg)


def test_issue_token_cannot_be_enqueued_by_anyone():
    """Issue 16: a user's job called aria_security.issue_token and got an admin token back."""
    body = {"subject": "me", "claims": {"roles": ["admin"]}}
    for who in (Principal("u1", ("user",)), Principal("e1", ("editor",)), Principal.operator()):
        with pytest.raises((JobNotAllowed, Forbidden)) as exc:
            producer.build("service:aria_security.issue_token", body, enqueued_by=who)
        assert exc.value.status == 403


def test_own_workers_need_their_declared_permission_or_queue_worker_run_any(reg):
    reg.worker(lambda job: None, name="train", permission="fake:model:train")
    reg.worker(lambda job: None, name="mine", permission="fake:model:train", scope="own")
    assert reg.check_target("plain").describe() == "queue:worker:run@any"
    with pytest.raises(Forbidden):  # a worker that declares nothing: operators only
        producer.build("plain", {}, registry=reg, enqueued_by=CHANGER, gate=GATE)
    producer.build("plain", {}, registry=reg, enqueued_by=Principal.operator(), gate=GATE)
    producer.build("plain", {}, registry=reg, enqueued_by=Principal.internal("aria_shape"), gate=GATE)
    trainer = Gate({**ROLES, "trainer": ("fake:model:train",), "own_trainer": ("fake:model:train@own",)})
    producer.build("train", {}, registry=reg, enqueued_by=Principal("t1", ("trainer",)), gate=trainer)
    with pytest.raises(Forbidden):
        producer.build("train", {}, registry=reg, enqueued_by=Principal("t2", ("own_trainer",)), gate=trainer)
    producer.build("mine", {}, registry=reg, enqueued_by=Principal("t2", ("own_trainer",)), gate=trainer)
    with pytest.raises(InvalidJob):
        reg.worker(lambda job: None, name="badperm", permission="train")
    with pytest.raises(InvalidJob):
        reg.worker(lambda job: None, name="badscope", permission="a:b:c", scope="everyone")


class Refusing:
    """A transport whose service refuses the caller, as the target's own Gate does."""

    name = "aria_fake"

    async def call(self, method, caller, **kwargs):
        from aria_actors.runtime.local import LocalClient

        return await LocalClient(FakeService(None)).call(method, caller, **kwargs)


async def test_at_run_time_the_target_decides_with_the_enqueuers_rights():
    reg = fake_registry(service_client=lambda name: Refusing())
    look = reg.get("service:aria_fake.change")
    # a user role holds no fake:* right: the job (enqueued before its role changed, say) is
    # discarded at once by the target's refusal, not retried
    job = Job(id=7, worker=look.name, args={}, enqueued_by=Principal("u1", ("user",)).to_dict())
    with pytest.raises(Discard, match="refused the job's enqueuer 'u1'"):
        await look.fn(job)
    admin = Job(id=8, worker=look.name, args={}, enqueued_by=Principal("a1", ("admin",)).to_dict())
    assert await look.fn(admin) == "changed"
    with pytest.raises(Discard, match="no recorded enqueuer"):
        await look.fn(Job(id=9, worker=look.name, args={}))


def test_job_records_and_shows_its_enqueuer():
    who = Principal("u1", ("user",), tenant="t", session="sid-secret")
    job = Job(id=1, worker="w", args={}, enqueued_by=who.to_dict())
    assert job.caller == who
    assert job.owner() == {"owner": "u1", "tenant": "t"}
    assert job.to_dict()["enqueued_by"] == {"subject": "u1", "roles": ["user"], "tenant": "t", "kind": "user"}
    assert Job(id=2, worker="w", args={}).caller is None
    row = {"id": 3, "worker": "w", "args": "{}", "state": "available", "enqueued_by": json.dumps(who.to_dict())}
    assert Job.from_record(row).caller == who
    assert set(job.redacted()) == {"id", "worker", "queue", "state", "conflict", "redacted"}


def test_nul_characters_are_refused_before_postgres_sees_them(reg):
    with pytest.raises(ArgsNotSerializable):
        producer.build("plain", {"a": "x\x00y"}, registry=reg)
    with pytest.raises(ArgsNotSerializable):
        producer.build("plain", {"k\x00": 1}, registry=reg)
    with pytest.raises(ArgsNotSerializable):
        producer.build("plain", {}, meta={"a": "\x00"}, registry=reg)
    producer.build("plain", {"a": "a literal \\u0000 is text"}, registry=reg)
    with pytest.raises(InvalidJob):
        producer.build("plain", {}, registry=reg, queue="q\x00")
    with pytest.raises(InvalidJob):
        producer.build("plain", {}, registry=reg, tags=["a\x00"])
    with pytest.raises(InvalidJob):
        producer.build("plain", {}, registry=reg, schedule_in=1e300)


def test_service_job_modules_are_the_other_services_jobs_files():
    import pathlib

    from aria_actors.queue.dispatch import service_job_modules

    root = pathlib.Path(__file__).resolve().parents[3] / "aria_actors"
    on_disk = sorted(f"aria_actors.{p.parent.name}.jobs" for p in root.glob("*/jobs.py")
                     if p.parent.name != "queue")
    assert sorted(service_job_modules()) == on_disk
    assert "aria_actors.queue.jobs" not in service_job_modules()


@pytest.mark.parametrize("worker,args,role", [
    ("service:aria_storage.gc", {}, "editor"),            # editors hold storage:*:* in-tenant, not @any
    ("service:aria_storage.sync", {"target": "t"}, "user"),
    ("service:aria_engine.plan", {"body": {"domain": "d", "problem": "p"}}, "viewer"),
    ("service:aria_engine.plan", {"body": {"domain": "d", "problem": "p"}}, "service"),
    ("service:aria_shape.generate", {"template": "fantasy"}, "user"),
])
def test_the_real_job_targets_refuse_enqueuers_without_their_permission(worker, args, role):
    """The job door of the services' own declarations (read from their typed clients)."""
    caller = Principal(f"{role}-1", (role,), tenant="t1", kind="service" if role == "service" else "user")
    with pytest.raises(Forbidden):
        producer.build(worker, args, registry=Registry(), enqueued_by=caller, gate=Gate(DEFAULT_ROLES))
    allowed = producer.build(worker, args, registry=Registry(), enqueued_by=Principal.operator(),
                             gate=Gate(DEFAULT_ROLES))
    assert allowed.worker == worker


def test_a_cron_entry_that_can_never_be_a_job_is_refused_at_start_and_skipped_later(caplog) -> None:
    bad = CronEntry("* * * * *", "service:aria_engine.list_domains", {}, "bad")
    reg = Registry()

    @reg.worker(name="fine", queue="cron")
    async def fine(job):
        return None

    good = CronEntry("* * * * *", "fine", {}, "good")
    with pytest.raises(InvalidCron) as caught:
        Cron([good, bad], registry=reg).check()
    assert "'bad'" in caught.value.message and "ARIA_QUEUE_CRON" in caught.value.message
    Cron([good], registry=reg).check()
    jobs = Cron([bad, good], registry=reg).due(datetime.now(UTC))
    assert [j.worker for j in jobs] == ["fine"]
    assert "cron entry bad skipped" in caplog.text
