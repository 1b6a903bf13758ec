"""aria_workflow's built features through the gateway of a running `aria up` (the shared one):
documents validated with the place named and published as versions, runs that map in parallel and
branch while calling other services as their starter, signals, pause/resume/cancel, the dead
letter with an operator's edit, retry and skip, migration and rollback, the timeline, statistics
and metrics, and the built-in create-character workflow across aria_shape, aria_storage,
aria_interpret and aria_engine, from the SDK and from `aria workflow start --wait`.

Names carry a run id so a rerun on the same `aria up` does not meet an earlier run's workflows.
The caller is the e2e operator (tenant-less admin): its documents are stored with the shared
definitions, next to the Python workflows."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aria_actors.runtime.errors import AriaError
from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria

RUN = uuid.uuid4().hex[:6]
ENDED = ("completed", "failed", "cancelled", "dead")


@pytest.fixture(scope="module")
def aria(shared_aria: RunningAria) -> Iterator[AriaClient]:
    with AriaClient(shared_aria.url, token=shared_aria.token(), timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def http(shared_aria: RunningAria) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {shared_aria.token()}"}
    with httpx.Client(base_url=shared_aria.url, headers=headers, timeout=120) as client:
        yield client


def _problem(response: httpx.Response, status: int, type_suffix: str) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith(type_suffix), body
    return body


def _status(error: AriaError) -> int:
    return int(getattr(error, "http_status", error.status))


def _until(aria: AriaClient, run_id: str, states: tuple[str, ...], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = aria.workflow.run(run_id)
        if run["state"] in states:
            return run
        assert time.monotonic() < deadline, f"run {run_id} stayed {run['state']} (waiting for {states}): {run}"
        time.sleep(0.2)


def waiter(name: str, after: Any = "${steps.approve.output}") -> dict[str, Any]:
    """Waits for signal ``approved``, then answers its payload (or ``after``)."""
    return {"name": name, "steps": [
        {"id": "approve", "signal": {"name": "approved", "timeout_s": 600}},
        {"id": "after", "needs": ["approve"], "set": {"value": after}},
    ], "output": "${steps.after.output}"}


# -- definitions ------------------------------------------------------------------------------------
def test_documents_are_validated_with_the_place_named_and_published(aria: AriaClient, http: httpx.Client) -> None:
    cyclic = {"name": f"cyclic-{RUN}", "steps": [{"id": "a", "needs": ["b"], "set": {"value": 1}},
                                                {"id": "b", "needs": ["a"], "set": {"value": 2}}]}
    bad = _problem(http.post("/v1/workflow/definitions/validate", json={"document": cyclic}), 422,
                   "workflow-invalid-definition")
    assert bad["problem"] == "cycle" and bad["where"].startswith("steps["), bad
    bad = _problem(http.post("/v1/workflow/definitions", json={"document": cyclic}), 422,
                   "workflow-invalid-definition")
    assert bad["problem"] == "cycle"
    nowhere = {"name": f"nowhere-{RUN}", "steps": [
        {"id": "a", "call": {"service": "aria_nowhere", "method": "x", "args": {}}}]}
    bad = _problem(http.post("/v1/workflow/definitions", json={"document": nowhere}), 422,
                   "workflow-invalid-definition")
    assert (bad["problem"], bad["where"]) == ("unknown-service", "steps[0].call.service")
    typed = {"name": f"typed-{RUN}", "steps": [
        {"id": "find", "call": {"service": "aria_storage", "method": "search", "args": {"limit": "many"}}}]}
    bad = _problem(http.post("/v1/workflow/definitions", json={"document": typed}), 422,
                   "workflow-invalid-definition")
    assert (bad["problem"], bad["where"]) == ("type-mismatch", "steps[0].call.args.limit")
    assert _problem(http.post("/v1/workflow/definitions", json={"document": "name: [unclosed"}), 422,
                    "workflow-invalid-definition")["problem"] == "syntax"
    _problem(http.post("/v1/workflow/definitions", json={"document": cyclic, "tenant": "x"}), 422, "validation")

    text = (f"name: hello-{RUN}\ninput: {{who: string}}\nsteps:\n  - id: greet\n"
            "    set: {value: 'hi ${input.who}'}\noutput: ${steps.greet.output}\n")
    assert aria.workflow.validate(text) == {"valid": True, "name": f"hello-{RUN}", "steps": ["greet"]}
    assert f"hello-{RUN}" not in {d["name"] for d in aria.workflow.definitions()}  # validating stores nothing
    published = aria.workflow.publish(text)
    assert published["version"] == 1 and published["steps"] == ["greet"]
    listed = {d["name"]: d for d in aria.workflow.definitions()}
    assert listed[f"hello-{RUN}"]["current"] == 1
    assert {"create-character", "retrain-and-promote"} <= set(listed)
    catalog = aria.workflow.catalog()
    assert "search" in catalog["services"]["aria_storage"] and "aria_workflow" not in catalog["services"]
    assert catalog["services"]["aria_storage"]["search"]["params"]["limit"]["required"] is False
    run = aria.workflow.start_run(f"hello-{RUN}", {"who": "Wyn"})
    assert _until(aria, run["run_id"], ENDED)["output"] == "hi Wyn"
    with pytest.raises(AriaError) as refused:
        aria.workflow.start_run(f"hello-{RUN}", {"who": 3})
    assert _status(refused.value) == 422 and refused.value.type == "workflow-invalid-input"


# -- runs: parallel map, branches, other services -------------------------------------------------------
def store_all(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "input": {"items": "array", "threshold": "integer"},
        "steps": [
            {"id": "save", "map": {"over": "${input.items}", "concurrency": 2, "do": {"call": {
                "service": "aria_storage", "method": "search",
                "args": {"name_prefix": f"users/operator/wf-{RUN}/" + "${item}", "limit": 5}}}}},
            {"id": "count", "needs": ["save"], "set": {"value": "${input.threshold}"}},
            {"id": "decide", "needs": ["count"], "branch": [
                {"when": {"ref": "input.threshold", "op": ">", "value": 1}, "goto": ["big"]},
                {"else": ["small"]}]},
            {"id": "big", "needs": ["decide"], "set": {"value": "big"}},
            {"id": "small", "needs": ["decide"], "set": {"value": "small"}},
            {"id": "done", "needs": ["big", "small"], "join": "any",
             "set": {"value": {"big": "${steps.big.output}", "small": "${steps.small.output}",
                               "found": "${steps.save.output}"}}},
        ],
        "output": "${steps.done.output}",
    }


def test_a_document_run_maps_in_parallel_and_branches(aria: AriaClient, http: httpx.Client) -> None:
    name = f"store-all-{RUN}"
    assert aria.workflow.validate(store_all(name))["steps"] == ["save", "count", "decide", "big", "small", "done"]
    aria.workflow.publish(store_all(name))
    big = aria.workflow.start_run(name, {"items": ["a", "b", "c"], "threshold": 2})
    small = http.post("/v1/workflow/runs", json={"name": name, "input": {"items": ["d"], "threshold": 0}})
    assert small.status_code == 202, small.text
    done = _until(aria, big["run_id"], ENDED)
    assert done["state"] == "completed", done
    assert done["output"] == {"big": "big", "small": None, "found": [[], [], []]}
    keys = {s["key"]: s["state"] for s in done["steps"]}
    assert {keys.get(k) for k in ("save[0]", "save[1]", "save[2]")} == {"completed"}, keys
    other = _until(aria, small.json()["run_id"], ENDED)
    assert other["output"] == {"big": None, "small": "small", "found": [[]]}, other
    listed = aria.workflow.runs(name=name, state="completed")
    assert {r["id"] for r in listed} == {big["run_id"], small.json()["run_id"]}
    _problem(http.post("/v1/workflow/runs", json={"name": name, "input": {"items": "x", "threshold": 2}}), 422,
             "workflow-invalid-input")
    _problem(http.get("/v1/workflow/runs", params={"state": "bogus"}), 422, "validation")
    _problem(http.get(f"/v1/workflow/runs/{uuid.uuid4()}"), 404, "workflow-unknown-run")


# -- signals, pause, resume, cancel ---------------------------------------------------------------------
def test_signals_reach_a_waiting_run_and_a_finished_run_refuses_them(aria: AriaClient, http: httpx.Client) -> None:
    name = f"waiter-{RUN}"
    aria.workflow.publish(waiter(name))
    first = aria.workflow.start_run(name, idempotency_key=f"order-{RUN}")
    again = aria.workflow.start_run(name, idempotency_key=f"order-{RUN}")
    assert again["run_id"] == first["run_id"] and again["created"] is False
    run_id = first["run_id"]
    assert _until(aria, run_id, ("waiting", *ENDED))["state"] == "waiting"
    sent = http.post(f"/v1/workflow/runs/{run_id}/signals/approved", json={"payload": {"by": "boss"}})
    assert sent.status_code == 200, sent.text
    done = _until(aria, run_id, ENDED)
    assert done["state"] == "completed" and done["output"] == {"by": "boss"}, done
    late = _problem(http.post(f"/v1/workflow/runs/{run_id}/signals/approved", json={"payload": 1}), 409,
                    "workflow-run-state")
    assert late["state"] == "completed"
    _problem(http.post(f"/v1/workflow/runs/{run_id}/signals/9-not-a-name", json={}), 422, "validation")


def test_pause_resume_and_cancel(aria: AriaClient, http: httpx.Client) -> None:
    name = f"held-{RUN}"
    aria.workflow.publish(waiter(name))
    run_id = aria.workflow.start_run(name)["run_id"]
    _until(aria, run_id, ("waiting",))
    assert aria.workflow.pause(run_id)["requested"] == "pause"
    assert _until(aria, run_id, ("paused", *ENDED))["state"] == "paused"
    _problem(http.post(f"/v1/workflow/runs/{run_id}/pause"), 409, "workflow-run-state")
    assert aria.workflow.resume(run_id)["state"] == "running"
    _problem(http.post(f"/v1/workflow/runs/{run_id}/resume"), 409, "workflow-run-state")
    _until(aria, run_id, ("waiting",))
    aria.workflow.signal(run_id, "approved", 7)
    assert _until(aria, run_id, ENDED)["output"] == 7

    other = aria.workflow.start_run(name)["run_id"]
    _until(aria, other, ("waiting",))
    assert http.post(f"/v1/workflow/runs/{other}/cancel", params={"compensate": "true"}).status_code == 200
    cancelled = _until(aria, other, ENDED)
    assert cancelled["state"] == "cancelled" and cancelled["error"]["type"] == "Cancelled", cancelled
    _problem(http.post(f"/v1/workflow/runs/{other}/cancel"), 409, "workflow-run-state")
    paused = aria.workflow.start_run(name)["run_id"]  # a paused run is cancelled at once
    _until(aria, paused, ("waiting",))
    aria.workflow.pause(paused)
    _until(aria, paused, ("paused",))
    assert aria.workflow.cancel(paused) == {"run_id": paused, "state": "cancelled"}
    kinds = [e["kind"] for e in aria.workflow.history(paused)["events"]]
    assert "pause-requested" in kinds and "cancel-requested" in kinds and kinds[-1] == "cancelled", kinds


# -- dead letter, edits, retry, skip ------------------------------------------------------------------------
def broken(name: str) -> dict[str, Any]:
    return {"name": name, "steps": [
        {"id": "first", "call": {"service": "aria_storage", "method": "search",
                                 "args": {"name_prefix": f"users/operator/b-{RUN}", "limit": 1}}},
        {"id": "read", "needs": ["first"],
         "call": {"service": "aria_storage", "method": "info", "args": {"name": f"users/operator/missing-{RUN}"}}},
        {"id": "last", "needs": ["read"], "set": {"value": "${steps.read.output}"}},
    ], "output": "${steps.last.output}"}


def test_dead_letter_edit_retry_and_skip(aria: AriaClient, http: httpx.Client) -> None:
    name = f"broken-{RUN}"
    aria.workflow.publish(broken(name))
    run_id = aria.workflow.start_run(name)["run_id"]
    dead = _until(aria, run_id, ENDED)
    assert dead["state"] == "dead" and dead["error"]["step"] == "read", dead
    assert run_id in {r["id"] for r in aria.workflow.runs(name=name, state="dead")}
    assert aria.workflow.retry(run_id)["retried_steps"] == ["read"]
    assert _until(aria, run_id, ENDED)["state"] == "dead"  # the asset still does not exist

    # an operator replaces the failing step of this run only, then retries it
    already = {"id": "first", "set": {"value": 2}}
    _problem(http.post(f"/v1/workflow/runs/{run_id}/edit", json={"replace": [already]}), 409,
             "workflow-run-state")  # recorded: only pending steps are replaced
    edited = aria.workflow.edit(run_id, replace=[{"id": "read", "needs": ["first"], "set": {"value": "patched"}}])
    assert edited["steps"] == ["first", "read", "last"]
    aria.workflow.retry(run_id)
    done = _until(aria, run_id, ENDED)
    assert done["state"] == "completed" and done["output"] == "patched", done
    kinds = [e["kind"] for e in aria.workflow.history(run_id)["events"]]
    assert {"dead-letter", "edited", "retried"} <= set(kinds), kinds
    assert aria.workflow.definition(name)["document"]["steps"][1]["call"]["method"] == "info"  # untouched
    assert [s["key"] for s in done["steps"]] == ["first"]  # read is a pure step now: not recorded

    second = aria.workflow.start_run(name)["run_id"]
    assert _until(aria, second, ENDED)["state"] == "dead"
    assert http.post(f"/v1/workflow/runs/{second}/skip", json={"output": {"name": "stand-in"}}).json()[
        "skipped_step"] == "read"
    assert _until(aria, second, ENDED)["output"] == {"name": "stand-in"}
    _problem(http.post(f"/v1/workflow/runs/{second}/retry"), 409, "workflow-run-state")
    _problem(http.post(f"/v1/workflow/runs/{second}/edit", json={"add": [{"id": "x", "set": {"value": 1}}]}), 409,
             "workflow-run-state")


# -- versions, migration, rollback --------------------------------------------------------------------------
def test_versions_migration_and_rollback(aria: AriaClient, http: httpx.Client) -> None:
    name = f"versioned-{RUN}"
    assert aria.workflow.publish(waiter(name))["version"] == 1
    old = aria.workflow.start_run(name)["run_id"]
    assert aria.workflow.publish(waiter(name, {"v2": "${steps.approve.output}"}))["version"] == 2
    newer = aria.workflow.start_run(name)
    assert newer["version"] == 2
    assert aria.workflow.run(old)["version"] == 1  # a running instance keeps its version
    _until(aria, old, ("waiting",))
    aria.workflow.pause(old)
    _until(aria, old, ("paused",))
    assert aria.workflow.migrate(old, 2) == {"run_id": old, "version": 2, "previous": 1}
    aria.workflow.resume(old)
    _until(aria, old, ("waiting",))
    aria.workflow.signal(old, "approved", "yes")
    assert _until(aria, old, ENDED)["output"] == {"v2": "yes"}
    _problem(http.post(f"/v1/workflow/runs/{newer['run_id']}/migrate", json={"version": 9}), 404,
             "workflow-unknown-version")

    assert aria.workflow.rollback(name) == {"name": name, "current": 1, "previous": 2}
    rolled = aria.workflow.start_run(name)
    assert rolled["version"] == 1
    for run_id in (newer["run_id"], rolled["run_id"]):  # nothing left waiting on the shared Aria
        aria.workflow.cancel(run_id)
    versions = aria.workflow.versions(name)
    assert versions["current"] == 1 and [v["version"] for v in versions["versions"]] == [1, 2]
    assert [r["action"] for r in versions["releases"]][:3] == ["rollback", "publish", "publish"]
    assert aria.workflow.definition(name, 2)["document"]["steps"][1]["set"]["value"] == {
        "v2": "${steps.approve.output}"}
    assert http.post(f"/v1/workflow/definitions/{name}/rollback", json={"version": 2}).json()["current"] == 2
    _problem(http.get(f"/v1/workflow/definitions/{name}", params={"version": 7}), 404, "workflow-unknown-version")
    _problem(http.get("/v1/workflow/definitions/no-such-workflow"), 404, "workflow-unknown")


# -- the timeline, statistics, metrics ------------------------------------------------------------------------
def test_stats_history_and_metrics(aria: AriaClient, http: httpx.Client) -> None:
    name = f"timed-{RUN}"
    aria.workflow.publish({"name": name, "steps": [
        {"id": "wait", "sleep": {"seconds": 0.5}},
        {"id": "find", "needs": ["wait"], "call": {"service": "aria_storage", "method": "search",
                                                   "args": {"name_prefix": f"users/operator/t-{RUN}", "limit": 1}}},
    ], "output": "${steps.find.output}"})
    runs = [aria.workflow.start_run(name)["run_id"] for _ in range(3)]
    for run_id in runs:
        assert _until(aria, run_id, ENDED)["state"] == "completed"
    timeline = aria.workflow.history(runs[0])
    kinds = [e["kind"] for e in timeline["events"]]
    assert kinds[0] == "started" and kinds[-1] == "completed", kinds
    assert kinds.count("step-started") == kinds.count("step-completed") == 2
    ats = [e["at"] for e in timeline["events"]]
    assert ats == sorted(ats)

    stats = http.get("/v1/workflow/stats", params={"name": name, "since_s": 3600}).json()
    mine = stats["workflows"][name]
    assert mine["runs"] == 3 and mine["by_state"] == {"completed": 3} and mine["failure_rate"] == 0.0, mine
    assert mine["durations_s"]["completed"]["p50"] >= 0.5
    steps = {s["step"]: s for s in stats["steps"] if s["workflow"] == name}
    assert steps["aria_storage.search"]["count"] == 3, stats["steps"]
    everything = aria.workflow.stats()
    assert {name, f"broken-{RUN}"} <= set(everything["workflows"])
    assert everything["workflows"][f"broken-{RUN}"]["by_state"]["completed"] == 2

    text = aria.workflow.metrics().decode()
    started = [line for line in text.splitlines() if line.startswith("aria_workflow_runs_started_total")
               and f'workflow="{name}"' in line]
    assert started and float(started[0].rsplit(" ", 1)[1]) >= 3, text[:2000]
    assert "aria_workflow_step_seconds_bucket" in text
    response = http.get("/v1/workflow/metrics")
    assert response.headers["content-type"].startswith("text/plain")


# -- the create-character workflow, from the SDK and the CLI ------------------------------------------------
def test_create_character_runs_across_services(aria: AriaClient) -> None:
    started = aria.workflow.start_run("create-character", {"template": "fantasy", "name": "Wyn", "seed": 3})
    assert started["version"] == 1
    run = _until(aria, started["run_id"], ENDED, timeout=300)
    assert run["state"] == "completed", run
    out = run["output"]
    assert out["character_id"] and out["name"] == "Wyn", out
    assert out["plan"], out  # aria_engine found a plan for its first goals
    assert len(out["goals"]) == 2 and out["plan_cost"] is not None
    portrait = aria.storage.get(out["portrait"]["name"], out["portrait"]["version"])
    assert b"<svg" in portrait[:500], portrait[:200]
    assert out["portrait"]["name"] == f"users/operator/characters/{out['character_id']}/portrait.svg"
    indexed = aria.interpret.get_character(out["character_id"])
    assert indexed["character_id"] == out["character_id"] and indexed["traits"] == out["traits"]
    steps = {s["name"] for s in run["steps"]}
    assert {"aria_shape.create_character", "aria_shape.portrait", "store-portrait", "index-character",
            "goal-problem", "aria_engine.goap"} <= steps, steps


def test_the_cli_publishes_starts_and_waits(shared_aria: RunningAria, aria: AriaClient, tmp_path) -> None:
    name = f"cli-{RUN}"
    doc = tmp_path / "sop.yaml"
    doc.write_text(f"name: {name}\ninput: {{n: integer}}\nsteps:\n  - id: twice\n    set: {{value: '${{input.n}}'}}\n"
                   "output: {n: '${steps.twice.output}'}\n")
    published = shared_aria.aria("workflow", "publish", str(doc))
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["version"] == 1
    started = shared_aria.aria("workflow", "start", name, "--input", '{"n": 4}', "--wait")
    assert started.returncode == 0, started.stdout + started.stderr
    shown = json.loads(started.stdout.split("\n", 1)[1])
    assert shown["state"] == "completed" and shown["output"] == {"n": 4}, shown
    assert shown["id"] in {r["id"] for r in aria.workflow.runs(name=name)}

    character = shared_aria.aria("workflow", "start", "create-character", "--input",
                                 '{"template": "fantasy", "name": "Cli", "seed": 4}', "--wait", timeout=600)
    assert character.returncode == 0, character.stdout + character.stderr
    made = json.loads(character.stdout.split("\n", 1)[1])
    assert made["output"]["character_id"] and made["output"]["plan"], made
    refused = shared_aria.aria("workflow", "start", name, "--input", '{"n": "four"}')
    assert refused.returncode == 1 and "Invalid workflow input" in refused.stderr, refused.stderr
