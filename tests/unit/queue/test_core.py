"""Ray-free, server-free parts of aria_queue: registry, validation, unique keys, backoff, cron,
metrics, SQL files."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from aria_actors.queue import producer
from aria_actors.queue.config import QueueSettings
from aria_actors.queue.errors import ArgsNotSerializable, InvalidCron, InvalidJob, UnknownWorker
from aria_actors.queue.jobs import Job, JobState, Snooze, default_backoff
from aria_actors.queue.metrics import BUCKETS, Histogram, Latency, exposition
from aria_actors.queue.plugins import Cron, CronEntry
from aria_actors.queue.registry import Registry, Unique
from aria_actors.queue.sql import load, migration_files


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
    assert [p.name for p in migration_files()] == ["0001_jobs.sql"]
    assert [p.name for p in migration_files("down")] == ["0001_jobs.down.sql"]


def test_settings_validate(monkeypatch):
    monkeypatch.setenv("ARIA_QUEUE_QUEUES", '{"default": 5, "mail": 2}')
    s = QueueSettings()
    assert s.queues == {"default": 5, "mail": 2}
    with pytest.raises(ValueError):
        QueueSettings(queues={"bad name!": 1})
    with pytest.raises(ValueError):
        QueueSettings(nope=1)


async def test_service_workers_dispatch_to_the_named_service():
    calls = []

    class Client:
        def __init__(self, name):
            self.name = name

        async def call(self, method, **kwargs):
            calls.append((self.name, method, kwargs))
            return "done"

    reg = Registry(services={"aria_storage"}, service_client=Client)
    spec = reg.get("service:aria_storage.reindex")
    reg.check_target(spec.name)
    assert await spec.fn(Job(id=1, worker=spec.name, args={"full": True})) == "done"
    assert calls == [("aria_storage", "reindex", {"full": True})]
    for bad in ("service:aria_storage._secret", "service:storage.x", "service:aria_storage"):
        with pytest.raises(UnknownWorker):
            reg.get(bad)
    with pytest.raises(UnknownWorker):
        Registry(services=set()).check_target("service:aria_storage.reindex")
    new = producer.build("service:aria_storage.reindex", {"full": True}, registry=reg)
    assert new.worker == "service:aria_storage.reindex"
    Registry().check_target("service:aria_storage.reindex")  # the runtime registry knows it
    with pytest.raises(UnknownWorker):
        Registry().check_target("service:aria_nothing.reindex")


def test_service_job_modules_are_the_other_services_jobs_files():
    import pathlib

    from aria_actors.queue.dispatch import service_job_modules

    root = pathlib.Path(__file__).resolve().parents[3] / "aria_actors"
    on_disk = sorted(f"aria_actors.{p.parent.name}.jobs" for p in root.glob("*/jobs.py")
                     if p.parent.name != "queue")
    assert sorted(service_job_modules()) == on_disk
    assert "aria_actors.queue.jobs" not in service_job_modules()
