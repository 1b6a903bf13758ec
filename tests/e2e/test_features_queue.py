"""aria_queue's built features through the gateway of a running `aria up` (the shared one, whose
crontab plans once a minute): jobs that call other services, priorities, retries and the dead
letters, cron, scaling, metrics and health."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import CRON_ENTRY, RunningAria

PLAN = "service:aria_engine.plan"
GOOD = {"body": {"domain": "gtpyhop-blocksworld-gtohp", "problem": "BW_rand_11"}}
BAD = {"body": {"domain": "no-such-domain", "problem": "x"}}
FINISHED = {"completed", "discarded", "cancelled"}


@pytest.fixture(scope="module")
def aria(shared_aria: RunningAria) -> Iterator[AriaClient]:
    with AriaClient(shared_aria.url, token=shared_aria.token(), timeout=60) as client:
        yield client


def _queue(aria: AriaClient, concurrency: int = 1) -> str:
    """A queue of this test's own, with one worker actor."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    assert aria.queue.scale(name, replicas=1, concurrency=concurrency)["executors"] == 1
    return name


def _wait(aria: AriaClient, ids: list[int], states: set[str] = FINISHED, within_s: float = 120) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within_s
    while True:
        jobs = [aria.queue.get_job(i) for i in ids]
        if all(j["state"] in states for j in jobs) or time.monotonic() > deadline:
            return jobs
        time.sleep(0.2)


def test_a_job_calls_another_service_as_its_enqueuer_and_keeps_the_result(aria: AriaClient) -> None:
    queue = _queue(aria, concurrency=2)
    one = aria.queue.enqueue(PLAN, GOOD, queue=queue, tags=["e2e"])
    two, three = aria.queue.enqueue_many([{"worker": PLAN, "args": GOOD, "queue": queue}] * 2)
    jobs = _wait(aria, [one["id"], two["id"], three["id"]])
    assert [j["state"] for j in jobs] == ["completed"] * 3, jobs
    for job in jobs:  # aria_engine planned, as the operator who enqueued
        assert job["result"]["status"] == "found" and job["result"]["plan"]
        assert job["enqueued_by"]["subject"] == "operator"
    listed = aria.queue.list_jobs(queue=queue, state="completed")
    assert {j["id"] for j in listed} == {one["id"], two["id"], three["id"]}


def test_jobs_run_in_priority_order(aria: AriaClient) -> None:
    queue = _queue(aria)  # one at a time: the order they start in is the order they are taken
    assert aria.queue.pause(queue)["paused"] is True
    made = [aria.queue.enqueue(PLAN, GOOD, queue=queue, priority=p) for p in (3, 0, 9, 1)]
    aria.queue.resume(queue)  # paused till all four wait: the first enqueued does not run first
    jobs = _wait(aria, [j["id"] for j in made])
    assert {j["state"] for j in jobs} == {"completed"}
    started = sorted(jobs, key=lambda j: j["attempted_at"])
    assert [j["priority"] for j in started] == [0, 1, 3, 9]


def test_a_failed_job_is_retried_then_dead_lettered_and_retried_by_hand(aria: AriaClient) -> None:
    queue = _queue(aria)
    again = aria.queue.enqueue(PLAN, BAD, queue=queue, max_attempts=3)
    (retrying,) = _wait(aria, [again["id"]], {"retryable", *FINISHED})
    assert retrying["state"] == "retryable" and retrying["attempt"] == 1  # backing off, not lost
    assert retrying["scheduled_at"] > retrying["attempted_at"]
    assert "no-such-domain" in retrying["errors"][0]["error"]
    aria.queue.cancel([again["id"]])

    once = aria.queue.enqueue(PLAN, BAD, queue=queue, max_attempts=1)
    (dead,) = _wait(aria, [once["id"]])
    assert dead["state"] == "discarded" and len(dead["errors"]) == 1
    assert once["id"] in {j["id"] for j in aria.queue.list_jobs(state="discarded", queue=queue)}
    assert aria.queue.retry([once["id"]])["retried"] == [once["id"]]  # back from the dead letters
    (rerun,) = _wait(aria, [once["id"]], {"discarded"})  # and failing again, once more
    assert rerun["attempt"] == 2 and len(rerun["errors"]) == 2


def test_cron_enqueues_each_slot_once_on_the_leader(aria: AriaClient) -> None:
    cron = aria.queue.cron()
    (entry,) = [e for e in cron["entries"] if e["name"] == CRON_ENTRY]
    assert cron["leader"] is True and entry["next_slot"] > entry["last_slot"]
    # The leader enqueues the current slot at once (within its catch-up): it is there, run or
    # running, or its minute just began.
    deadline = time.monotonic() + 90
    while True:
        jobs = [j for j in aria.queue.list_jobs(worker=PLAN, limit=1000) if j["meta"].get("cron") == CRON_ENTRY]
        done = [j for j in jobs if j["state"] == "completed"]
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert done, jobs
    slots = [j["meta"]["cron_slot"] for j in jobs]
    assert len(slots) == len(set(slots))  # one job per slot
    assert done[-1]["result"]["status"] == "found" and "cron" in done[-1]["tags"]


def test_scaling_a_queue_changes_its_worker_actors(aria: AriaClient) -> None:
    queue = _queue(aria)
    scaled = aria.queue.scale(queue, replicas=2, concurrency=3)
    assert (scaled["replicas"], scaled["concurrency"], scaled["executors"]) == (2, 3, 2)
    (row,) = [q for q in aria.queue.queues() if q["name"] == queue]
    assert (row["replicas"], row["executors"]) == (2, 2)
    job = aria.queue.enqueue(PLAN, GOOD, queue=queue)
    assert _wait(aria, [job["id"]])[0]["state"] == "completed"
    assert aria.queue.scale(queue, replicas=0)["executors"] == 0


def test_metrics_and_health_count_the_jobs_of_a_queue(aria: AriaClient) -> None:
    queue = _queue(aria)
    ids = [j["id"] for j in aria.queue.enqueue_many([{"worker": PLAN, "args": GOOD, "queue": queue}] * 2)]
    failed = aria.queue.enqueue(PLAN, BAD, queue=queue, max_attempts=1)["id"]
    _wait(aria, [*ids, failed])
    text = aria.queue.metrics().decode()
    assert f'aria_queue_jobs{{queue="{queue}",state="completed"}} 2.0' in text
    assert f'aria_queue_jobs{{queue="{queue}",state="discarded"}} 1.0' in text
    assert f'aria_queue_wait_seconds_count{{queue="{queue}"}}' in text
    health = aria.queue.health()
    assert health["status"] == "ready" and health["details"]["leader"] is True
    assert health["details"]["queues"][queue]["executors"] == 1
    aria.queue.pause(queue)
    assert aria.queue.health()["details"]["queues"][queue]["paused"] is True
