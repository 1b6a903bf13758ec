"""aria_tune's auto-tuner through the gateway of a running `aria up` (the shared one: windows of
4 s, settle 1 s, the automatic mode on for queues named autotune-auto-*; tests/fixtures/aria_up.py).

A queue of the test's own has its concurrency deliberately mis-set to 1 while jobs that wait on
I/O (`tests.tune.io_wait`, 0.1 s of sleep: tests/unit/tune/fixture_workers.py) arrive at 20 a
second (scheduled 50 ms apart): one slot completes at most 10 a second, so jobs pile up. The
auto-tuner finds the queue, raises its concurrency, measures the throughput better, and keeps the
change; an operator's decrease measures worse and is rolled back to the old value. Bad input,
the CLI, and the automatic mode on a queue of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem as _problem
from tests.fixtures.operator import until
from tests.unit.tune.fixture_workers import IO_WAIT

RUN = uuid.uuid4().hex[:6]
KNOB = "queue.concurrency"
ARRIVALS_PER_S, SLEEP_S, WORKLOAD_S = 20, 0.1, 150
DECIDED = {"kept", "rolled_back", "rejected", "failed"}


def _queue_row(http: httpx.Client, name: str) -> dict[str, Any] | None:
    r = http.get("/v1/queue/queues")
    assert r.status_code == 200, r.text[:500]
    return next((q for q in r.json() if q["name"] == name), None)


@pytest.fixture
def busy_queue(http: httpx.Client, request: pytest.FixtureRequest) -> Iterator[str]:
    """A queue of this test's own at concurrency 1 (one worker actor) under a steady workload of
    I/O-bound jobs; the jobs left are cancelled and the actor stopped after the test."""
    name = f"{request.param}-{RUN}"
    r = http.post(f"/v1/queue/queues/{name}/scale", json={"replicas": 1, "concurrency": 1})
    assert r.status_code == 200, r.text[:500]
    until(lambda: (_queue_row(http, name) or {}).get("executors") == 1, f"a live executor of {name}")
    jobs = [{"worker": IO_WAIT, "args": {"seconds": SLEEP_S}, "queue": name, "max_attempts": 1,
             "schedule_in": i / ARRIVALS_PER_S} for i in range(ARRIVALS_PER_S * WORKLOAD_S)]
    made = http.post("/v1/queue/jobs/bulk", json={"jobs": jobs})
    assert made.status_code == 201, made.text[:500]
    ids = [j["id"] for j in made.json()]
    try:
        yield name
    finally:
        http.post("/v1/queue/jobs/cancel", json={"ids": ids})
        http.post(f"/v1/queue/queues/{name}/scale", json={"replicas": 0})


def _decided(http: httpx.Client, change_id: int) -> dict[str, Any] | None:
    r = http.get(f"/v1/tune/autotune/changes/{change_id}")
    assert r.status_code == 200, r.text[:500]
    return r.json() if r.json()["status"] in DECIDED else None


def _said(change: dict[str, Any]) -> str:
    b, a = change["before"], change["after"]
    return (f"{change['knob']} {change['target']} {change['old_value']} -> {change['new_value']}: {change['status']}; "
            f"throughput {b['throughput']} -> {a['throughput']} jobs/s, oldest wait trend {b['wait_trend']} -> "
            f"{a['wait_trend']} s/s, mean wait {b['wait_mean_s']} -> {a['wait_mean_s']} s")


# The loop step by step with an operator's approvals (~25 s): in .ci/run's long stage; the default
# run has the automatic mode below and tests/integration/tune/test_autotune_queue.py's loop.
@pytest.mark.long
@pytest.mark.parametrize("busy_queue", ["autotune-manual"], indirect=True)
def test_a_mis_set_queue_is_found_raised_and_kept_and_a_worse_change_rolled_back(
        http: httpx.Client, busy_queue: str, shared_aria: RunningAria) -> None:
    queue = busy_queue

    def found() -> dict[str, Any] | None:  # scanned until the backlog shows with its one slot busy
        r = http.post("/v1/tune/autotune/scan")
        assert r.status_code == 200, r.text[:500]
        return next((c for c in r.json()["proposed"] if c["target"] == queue), None)

    proposal = until(found, f"a proposal for the saturated queue {queue}", timeout=300)
    assert (proposal["knob"], proposal["old_value"], proposal["new_value"]) == (KNOB, 1, 2), proposal
    assert proposal["status"] == "proposed" and proposal["source"] == "scan" and "saturated" in proposal["reason"]
    assert _queue_row(http, queue)["concurrency"] == 1  # a proposal changes nothing
    applied = http.post(f"/v1/tune/autotune/changes/{proposal['id']}/apply")
    assert applied.status_code == 202, applied.text[:500]
    assert applied.json()["status"] == "measuring" and applied.json()["approved_by"] == "operator"
    _problem(http.post(f"/v1/tune/autotune/changes/{proposal['id']}/apply"), 409, "tune-change-conflict")
    _problem(http.post("/v1/tune/autotune/proposals", json={"knob": KNOB, "target": queue, "value": 3}),
             409, "tune-change-conflict")
    kept = until(lambda: _decided(http, proposal["id"]), "the raise measured and decided", timeout=300)
    print(f"autotune raise: {_said(kept)}")
    assert kept["status"] == "kept", kept
    assert kept["after"]["throughput"] > kept["before"]["throughput"] * 1.1
    assert _queue_row(http, queue)["concurrency"] == 2

    # An operator's decrease measures worse: rolled back to the old value.
    worse = http.post("/v1/tune/autotune/proposals",
                      json={"knob": KNOB, "target": queue, "value": 1, "reason": "e2e: a change that must lose"})
    assert worse.status_code == 201, worse.text[:500]
    change = worse.json()
    assert (change["old_value"], change["new_value"], change["source"]) == (2, 1, "operator")
    assert http.post(f"/v1/tune/autotune/changes/{change['id']}/apply").status_code == 202
    back = until(lambda: _decided(http, change["id"]), "the decrease measured and decided", timeout=300)
    print(f"autotune decrease: {_said(back)}")
    assert back["status"] == "rolled_back", back
    assert back["after"]["throughput"] < back["before"]["throughput"]
    assert _queue_row(http, queue)["concurrency"] == 2  # the old value again

    listed = http.get("/v1/tune/autotune/changes", params={"target": queue})
    assert listed.status_code == 200
    assert [(c["id"], c["status"]) for c in listed.json()] == [(change["id"], "rolled_back"),
                                                               (proposal["id"], "kept")]
    env = {"ARIA_TOKEN": shared_aria.token()}
    cli = shared_aria.aria("tune", "autotune", "ls", "--target", queue, env=env)
    assert cli.returncode == 0, cli.stderr
    assert "rolled_back" in cli.stdout and "kept" in cli.stdout
    knobs = shared_aria.aria("tune", "autotune", "knobs", env=env)
    assert knobs.returncode == 0 and KNOB in knobs.stdout and queue in knobs.stdout, knobs.stdout + knobs.stderr
    bad = shared_aria.aria("tune", "autotune", "propose", KNOB, queue, "0", env=env)
    assert bad.returncode == 1 and "value" in (bad.stdout + bad.stderr)


def test_bad_input_is_refused_naming_the_field_or_the_change(http: httpx.Client) -> None:
    def propose(**body: Any) -> httpx.Response:
        return http.post("/v1/tune/autotune/proposals", json={"knob": KNOB, "target": "default", "value": 2, **body})

    _problem(propose(knob="queue.nope"), 404, "tune-unknown-knob")
    _problem(propose(target=f"no-such-queue-{RUN}"), 404, "tune-unknown-target")
    assert _problem(propose(value=0), 400, "bad-request")["field"] == "value"
    assert _problem(propose(value=100_000), 400, "bad-request")["field"] == "value"
    assert _problem(propose(target=""), 400, "bad-request")["field"] == "target"
    _problem(http.post("/v1/tune/autotune/proposals", json={}), 422, "validation")
    _problem(http.get("/v1/tune/autotune/changes/987654321"), 404, "tune-unknown-change")
    _problem(http.post("/v1/tune/autotune/changes/987654321/apply"), 404, "tune-unknown-change")
    _problem(http.post("/v1/tune/autotune/changes/987654321/reject", json={}), 404, "tune-unknown-change")
    _problem(http.get("/v1/tune/autotune/changes", params={"status": "maybe"}), 422, "validation")
    knobs = http.get("/v1/tune/autotune/knobs")
    assert knobs.status_code == 200 and knobs.json()["auto"] is True
    (queue_knob,) = [k for k in knobs.json()["knobs"] if k["name"] == KNOB]
    assert queue_knob["allowed"] and queue_knob["limits"]["min"] == 1
    assert any(t["target"] == "default" for t in queue_knob["targets"])


@pytest.mark.parametrize("busy_queue", ["autotune-auto"], indirect=True)
def test_the_automatic_mode_raises_its_own_mis_set_queue_and_keeps_it(http: httpx.Client, busy_queue: str) -> None:
    queue = busy_queue

    def decided() -> dict[str, Any] | None:
        r = http.get("/v1/tune/autotune/changes", params={"target": queue})
        assert r.status_code == 200, r.text[:500]
        return next((c for c in r.json() if c["status"] in DECIDED), None)

    change = until(decided, f"an automatic change of {queue} decided", timeout=300)
    print(f"autotune automatic: {_said(change)}")
    assert change["source"] == "auto" and change["approved_by"] == "aria_tune (automatic)"
    assert change["status"] == "kept" and change["new_value"] > change["old_value"] == 1, change
    assert _queue_row(http, queue)["concurrency"] == change["new_value"]
