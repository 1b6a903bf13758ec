"""aria_tune's built feature (hyperparameters) through the gateway of a running `aria up` (the
shared one): studies stored in PostgreSQL, trials run as aria_queue jobs (`service:aria_tune.run_trial`)
sampled by Optuna's TPE over the stored trials, failures recorded and the study going on, bad
input refused, a viewer refused writes, the CLI, and a kill -9 of aria_tune mid-study that loses
no completed trial and runs none twice.

The test objectives `faulty`, `stepwise` and `slow` are configured into the shared Aria by
tests/fixtures/aria_up.py (ARIA_TUNE_OBJECTIVES) from tests/unit/tune/fixture_objectives.py.
Studies are the e2e operator's (tenant-less); names carry a run id so a rerun on the same
`aria up` meets no earlier study."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from aria_actors.sdk import AriaClient
from aria_actors.tune.objectives import BRANIN_MIN, branin
from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem as _problem
from tests.fixtures.operator import until

RUN = uuid.uuid4().hex[:6]
PASSWORD = "e2e tune passphrase"
# Branin with TPE (seeded; 10 random start-up trials), 150 trials, 2 at a time. Two bounds, from a
# simulation of this study (the service's own sampling code, completion order shuffled, 60 runs):
# - the best value within 0.5 of the minimum 0.397887: the worst run reached 0.601. (At 100 trials
#   1 run of 110 missed it, at 1.61: too close to a flaky test.) Alone it could pass by luck:
#   150 uniform draws get that close about 3 times in 4.
# - at least 30 of the 150 trials below 5.0: uniform draws land there with p = 0.0842 (2e5
#   draws), so a sampler that ignores the history passes with P(Bin(150, 0.0842) >= 30) = 7e-6;
#   TPE put at least 56 of 150 there (median 77).
# With the multivariate TPE (the sampler's default since it follows Optuna's), 30 more simulated
# runs: the best within 0.067 of the minimum in every run (median 0.010), at least 56 below 5.0.
BRANIN_TRIALS, BRANIN_CLOSE, LOW, LOW_COUNT = 150, 0.5, 5.0, 30


def _finished(http: httpx.Client, name: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        try:
            r = http.get(f"/v1/tune/studies/{name}")
        except httpx.TransportError:
            return None
        if r.status_code != 200:  # 503 while a killed aria_tune restarts
            return None
        study = r.json()
        return study if study["status"] != "running" else None

    return check


def test_a_branin_study_runs_as_queue_jobs_and_finds_the_minimum(http: httpx.Client) -> None:
    objectives = http.get("/v1/tune/objectives")
    assert objectives.status_code == 200, objectives.text
    assert {"branin", "hartmann6", "faulty"} <= {o["name"] for o in objectives.json()}
    name = f"branin-{RUN}"
    made = http.post("/v1/tune/studies", json={"name": name, "objective": "branin", "budget": BRANIN_TRIALS,
                                                "parallelism": 2, "sampler": {"name": "tpe", "seed": 17}})
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "created" and made.json()["space"]["x2"]["high"] == 15.0
    t0 = time.monotonic()
    started = http.post(f"/v1/tune/studies/{name}/optimize", json={})
    assert started.status_code == 202, started.text
    assert started.json()["enqueued"] == 2 and started.json()["status"] == "running"
    study = until(_finished(http, name), "completed Branin study", timeout=600)
    took = time.monotonic() - t0
    assert study["status"] == "completed", study
    assert study["trials"] == {"running": 0, "complete": BRANIN_TRIALS, "pruned": 0, "failed": 0,
                               "total": BRANIN_TRIALS}
    trials = http.get(f"/v1/tune/studies/{name}/trials").json()["trials"]
    assert [t["number"] for t in trials] == list(range(BRANIN_TRIALS))
    assert all(t["attempts"] == 1 and t["value"] == pytest.approx(branin(t["params"])) for t in trials)
    best = study["best"]
    low = sum(t["value"] < LOW for t in trials)
    print(f"branin: best {best['value']:.4f} (trial {best['number']}), {low}/{BRANIN_TRIALS} below {LOW}, "
          f"{took:.1f} s for {BRANIN_TRIALS} trials ({took / BRANIN_TRIALS * 1000:.0f} ms a trial, 2 at a time)")
    assert best["value"] <= BRANIN_MIN + BRANIN_CLOSE, best
    assert low >= LOW_COUNT, low
    assert best["value"] == min(t["value"] for t in trials) and study["optimum"] == BRANIN_MIN
    listed = http.get("/v1/tune/studies", params={"limit": 1000})
    assert listed.status_code == 200
    mine = next(s for s in listed.json() if s["name"] == name)
    assert mine["trials"] == BRANIN_TRIALS and mine["best_value"] == best["value"]
    complete = http.get(f"/v1/tune/studies/{name}/trials", params={"state": "complete", "after": 90, "limit": 5})
    assert [t["number"] for t in complete.json()["trials"]] == [90, 91, 92, 93, 94]
    # spent: a completed study continues only with a larger budget
    _problem(http.post(f"/v1/tune/studies/{name}/optimize", json={}), 409, "tune-study-state")


def test_trials_that_raise_or_return_nan_fail_and_the_study_goes_on(aria: AriaClient) -> None:
    name = f"faulty-{RUN}"
    aria.tune.create_study(name, "faulty", budget=16, parallelism=2, sampler={"name": "random", "seed": 3})
    aria.tune.optimize(name)
    study = until(lambda: (s := aria.tune.get_study(name))["status"] != "running" and s, "faulty study done",
                  timeout=300.0)
    trials = aria.tune.list_trials(name)["trials"]
    raised = [t for t in trials if t["params"]["x"] > 0.8]
    nan = [t for t in trials if t["params"]["x"] < 0.2]
    assert study["status"] == "completed" and study["trials"]["total"] == 16
    assert raised and nan, [t["params"] for t in trials]
    assert all(t["state"] == "failed" and "raised ValueError" in t["error"] for t in raised)
    assert all(t["state"] == "failed" and "not a finite number" in t["error"] for t in nan)
    assert study["trials"]["failed"] == len(raised) + len(nan)
    assert study["trials"]["complete"] == 16 - len(raised) - len(nan)


def test_the_median_rule_prunes_trials_that_report_steps(aria: AriaClient) -> None:
    name = f"steps-{RUN}"
    aria.tune.create_study(name, "stepwise", budget=20, parallelism=2,
                           sampler={"name": "tpe", "seed": 5, "n_startup_trials": 5},
                           pruner={"name": "median", "n_startup_trials": 3, "n_warmup_steps": 1})
    aria.tune.optimize(name)
    study = until(lambda: (s := aria.tune.get_study(name))["status"] != "running" and s, "stepwise study done",
                  timeout=300.0)
    trials = aria.tune.list_trials(name)["trials"]
    pruned = [t for t in trials if t["state"] == "pruned"]
    assert study["trials"]["total"] == 20 and study["trials"]["failed"] == 0
    # pruned after the warm-up step; one may be pruned at its last step (the median it is compared
    # with depends on which other trials have reached that step, which the machine's load decides)
    assert pruned and all(2 <= len(t["intermediate"]) <= 5 for t in pruned), pruned
    assert any(len(t["intermediate"]) < 5 for t in pruned), pruned
    assert all(len(t["intermediate"]) == 5 for t in trials if t["state"] == "complete")


def test_bad_input_is_a_4xx_naming_the_field(http: httpx.Client) -> None:
    def create(**body: Any) -> httpx.Response:
        return http.post("/v1/tune/studies", json={"name": f"bad-{RUN}", "objective": "branin", **body})

    for space, field in (({}, "space"),
                         ({"x1": {"type": "float", "low": 3, "high": 3}, "x2": {"type": "float", "low": 0, "high": 1}},
                          "space.x1.high"),
                         ({"x1": {"type": "float", "low": 0, "high": 1, "log": True},
                           "x2": {"type": "float", "low": 0, "high": 1}}, "space.x1.low"),
                         ({"x1": {"type": "float", "low": -5, "high": 10}}, "space.x2"),
                         ({"x1": {"type": "categorical", "choices": [str(i) for i in range(100)]},
                           "x2": {"type": "float", "low": 0, "high": 1}}, "space.x1.choices")):
        body = _problem(create(space=space), 400, "tune-invalid-space")
        assert body["field"] == field, body
    many = {f"p{i}": {"type": "float", "low": 0, "high": 1} for i in range(40)}
    assert _problem(http.post("/v1/tune/studies", json={"name": f"bad-{RUN}", "objective": "faulty",
                                                        "space": many}), 400, "tune-invalid-space")["field"] == "space"
    body = _problem(create(objective="no-such-objective"), 400, "tune-unknown-objective")
    assert body["field"] == "objective" and "branin" in body["known"]
    _problem(create(objective="python:os:system"), 400, "tune-unknown-objective")
    assert _problem(create(budget=0), 400, "tune-invalid-study")["field"] == "budget"
    assert _problem(create(sampler={"name": "cmaes"}), 400, "tune-invalid-study")["field"] == "sampler.name"
    _problem(create(name="has space"), 422, "validation")
    _problem(create(colour="red"), 422, "validation")
    assert http.get("/v1/tune/studies", params={"limit": 1000}).json() is not None
    assert all(s["name"] != f"bad-{RUN}" for s in http.get("/v1/tune/studies", params={"limit": 1000}).json())
    unknown = f"unknown-{RUN}"
    _problem(http.get(f"/v1/tune/studies/{unknown}"), 404, "tune-unknown-study")
    _problem(http.get(f"/v1/tune/studies/{unknown}/trials"), 404, "tune-unknown-study")
    _problem(http.post(f"/v1/tune/studies/{unknown}/optimize", json={}), 404, "tune-unknown-study")
    _problem(http.post(f"/v1/tune/studies/{unknown}/stop"), 404, "tune-unknown-study")
    _problem(http.delete(f"/v1/tune/studies/{unknown}"), 404, "tune-unknown-study")


def test_a_viewer_reads_studies_but_may_not_write(shared_aria: RunningAria, aria: AriaClient,
                                                  http: httpx.Client) -> None:
    name = f"viewed-{RUN}"
    assert http.post("/v1/tune/studies", json={"name": name, "objective": "hartmann6", "budget": 3}).status_code == 201
    user = f"tune-viewer-{RUN}"
    aria.auth.create_user(user, PASSWORD, roles=["viewer"])
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        assert anon.post("/v1/tune/studies", json={"name": "x", "objective": "branin"}).status_code == 401
        token = anon.post("/v1/auth/login", json={"username": user, "password": PASSWORD}).raise_for_status()
        viewer = {"authorization": f"Bearer {token.json()['access_token']}"}
        assert anon.get("/v1/tune/studies", headers=viewer).status_code == 200
        assert anon.get("/v1/tune/objectives", headers=viewer).status_code == 200
        for response in (anon.post("/v1/tune/studies", json={"name": f"v-{RUN}", "objective": "branin"},
                                   headers=viewer),
                         anon.post(f"/v1/tune/studies/{name}/optimize", json={}, headers=viewer),
                         anon.post(f"/v1/tune/studies/{name}/stop", headers=viewer),
                         anon.delete(f"/v1/tune/studies/{name}", headers=viewer)):
            _problem(response, 403, "forbidden")
    assert aria.tune.get_study(name)["status"] == "created"
    assert http.delete(f"/v1/tune/studies/{name}").json() == {"deleted": name}


def test_the_cli_creates_runs_shows_and_removes_a_study(shared_aria: RunningAria) -> None:
    env = {"ARIA_TOKEN": shared_aria.token()}
    name = f"cli-{RUN}"

    def tune(*args: str) -> Any:
        return shared_aria.aria("tune", *args, env=env)

    objectives = tune("objectives")
    assert objectives.returncode == 0 and "hartmann6" in objectives.stdout, objectives.stderr
    space = '{"x": {"type": "float", "low": 0, "high": 1}}'
    made = tune("study", "create", name, "--objective", "stepwise", "--space", space, "--budget", "6",
                "--parallelism", "2", "--seed", "3", "--pruner", "none")
    assert made.returncode == 0 and f"{name}  created" in made.stdout, made.stdout + made.stderr
    ran = tune("study", "optimize", name, "--wait", "--timeout", "300")
    assert ran.returncode == 0 and "completed" in ran.stdout and "6/6 trials" in ran.stdout, ran.stdout + ran.stderr
    shown = tune("study", "show", name)
    assert shown.returncode == 0 and '"status": "completed"' in shown.stdout, shown.stderr
    listed = tune("study", "ls")
    assert listed.returncode == 0 and name in listed.stdout
    trials = tune("study", "trials", name, "--state", "complete")
    assert trials.returncode == 0 and len([line for line in trials.stdout.splitlines() if "complete" in line]) == 6
    stopped = tune("study", "stop", name)
    assert stopped.returncode == 0 and "completed" in stopped.stdout
    assert tune("study", "rm", name).returncode == 0
    gone = tune("study", "show", name)
    assert gone.returncode == 1 and "no study" in gone.stderr and "Traceback" not in gone.stderr
    bad = tune("study", "create", f"bad-{RUN}", "--objective", "branin", "--space", "{not json")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    refused = tune("study", "create", f"bad-{RUN}", "--objective", "branin", "--space", "{}")
    assert refused.returncode == 1 and "space" in refused.stderr


@pytest.mark.long  # a kill -9 and the actor's restart (~30 s): in .ci/run, not the default run
def test_a_kill_9_of_aria_tune_mid_study_loses_no_trial_and_runs_none_twice(
        shared_aria: RunningAria, aria: AriaClient, http: httpx.Client) -> None:
    """`slow` trials take a second each, two at a time: the actor is killed with trials in flight.
    The queue retries their jobs against the restarted actor, which re-runs them from their stored
    params; trials completed before the kill keep their record (value, finish time, one attempt)."""
    name = f"crash-{RUN}"
    aria.tune.create_study(name, "slow", budget=16, parallelism=2, sampler={"name": "random", "seed": 9},
                           pruner="none")
    pid = shared_aria.service_pid("aria_tune")
    aria.tune.optimize(name)
    until(lambda: aria.tune.get_study(name)["trials"]["complete"] >= 4, "4 complete trials before the kill", 120)
    before = {t["number"]: t for t in aria.tune.list_trials(name)["trials"]}
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    study = until(_finished(http, name), "the study completed after the kill", timeout=420)
    print(f"crash: the study completed {time.monotonic() - killed_at:.1f} s after the kill")
    trials = {t["number"]: t for t in aria.tune.list_trials(name)["trials"]}
    assert study["status"] == "completed" and sorted(trials) == list(range(16))
    assert study["trials"]["total"] == 16 and study["trials"]["running"] == 0
    for number, old in before.items():
        if old["state"] == "complete":  # kept exactly as recorded, never run again
            new = trials[number]
            assert (new["state"], new["value"], new["finished_at"], new["attempts"]) == (
                old["state"], old["value"], old["finished_at"], 1), (old, new)
    in_flight = [n for n, t in before.items() if t["state"] == "running"]
    assert in_flight, "no trial was in flight at the kill"
    for number in in_flight:  # re-run from the same params (or failed, if their job gave up)
        assert trials[number]["params"] == before[number]["params"]
        assert trials[number]["state"] in ("complete", "failed"), trials[number]
    rerun = [n for n, t in trials.items() if t["attempts"] > 1]
    print(f"crash: trials running at the kill {in_flight}, run again {rerun}")
    assert rerun and set(rerun) <= set(in_flight) | {n for n in trials if n not in before}, (rerun, in_flight)
    assert all(t["attempts"] <= 3 for t in trials.values())  # trial_attempts: the queue's retries, no more
