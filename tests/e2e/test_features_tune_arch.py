"""aria_tune's din objectives and architecture search through the gateway of a running `aria up`
(the shared one): aria_interpret's evaluate-only DIN trials (validation GAUC per epoch, nothing
stored, bad params a 400 naming the field), a small `din` study whose trials run as aria_queue
jobs and report validation GAUC epoch by epoch, and an architecture search whose Pareto front has
no member dominating another. Studies are the e2e operator's; names carry a run id."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem as _problem
from tests.fixtures.operator import until

RUN = uuid.uuid4().hex[:6]
SIGNS = {"maximize": -1.0, "minimize": 1.0}


def _done(http: httpx.Client, name: str) -> Any:
    def check() -> dict[str, Any] | None:
        r = http.get(f"/v1/tune/studies/{name}")
        return r.json() if r.status_code == 200 and r.json()["status"] != "running" else None

    return check


def _dominates(a: list[float], b: list[float], signs: list[float]) -> bool:
    return all(x * s <= y * s for x, y, s in zip(a, b, signs, strict=True)) and \
        any(x * s < y * s for x, y, s in zip(a, b, signs, strict=True))


def test_an_evaluate_only_din_trial_reports_validation_metrics_and_stores_nothing(http: httpx.Client) -> None:
    body = _problem(http.post("/v1/interpret/din/trials", json={"params": {"lr": 5.0}}), 400, "bad-request")
    assert body["field"] == "params.lr", body
    body = _problem(http.post("/v1/interpret/din/trials", json={"params": {"depth": 3}}), 400, "bad-request")
    assert body["field"] == "params.depth", body
    body = _problem(http.post("/v1/interpret/din/trials", json={"params": {}, "epochs": 0}), 400, "bad-request")
    assert body["field"] == "epochs", body
    models = http.get("/v1/interpret/models").json()
    started = http.post("/v1/interpret/din/trials", json={"params": {"lr": 0.003, "item_dim": 8}, "epochs": 1})
    assert started.status_code == 201, started.text
    trial = started.json()["trial"]
    epoch = http.post(f"/v1/interpret/din/trials/{trial}/epoch")
    assert epoch.status_code == 200, epoch.text
    assert epoch.json()["done"] and 0.5 < epoch.json()["valid"]["gauc"] <= 1.0 and "test" not in epoch.json()
    _problem(http.post(f"/v1/interpret/din/trials/{trial}/epoch"), 409, "conflict")  # its budget is spent
    ended = http.delete(f"/v1/interpret/din/trials/{trial}")
    assert ended.status_code == 200, ended.text
    result = ended.json()
    print(f"din trial: valid gauc {result['valid']['gauc']:.4f} on {result['train_rows']} rows, "
          f"{result['parameters']} parameters, scoring {result['latency_ms']:.2f} ms, {result['wall_s']:.1f} s")
    assert result["valid"]["gauc"] == epoch.json()["valid"]["gauc"] and result["latency_ms"] > 0
    _problem(http.post(f"/v1/interpret/din/trials/{trial}/epoch"), 404, "not-found")
    assert http.get("/v1/interpret/models").json() == models  # no model version registered


def test_a_din_study_runs_trials_as_jobs_and_reports_validation_gauc(http: httpx.Client,
                                                                     shared_aria: RunningAria) -> None:
    name = f"din-{RUN}"
    bad = http.post("/v1/tune/studies", json={"name": name, "objective": "din",
                                               "space": {"lr": {"type": "float", "low": 1e-4, "high": 5.0}}})
    assert _problem(bad, 400, "tune-invalid-space")["field"] == "space.lr.high"
    space = {"lr": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True},
             "item_dim": {"type": "int", "low": 4, "high": 16, "step": 1}}
    made = http.post("/v1/tune/studies", json={"name": name, "objective": "din", "space": space, "budget": 4,
                                                "parallelism": 1, "sampler": {"name": "random", "seed": 11},
                                                "pruner": {"name": "median", "n_startup_trials": 2}})
    assert made.status_code == 201, made.text
    assert made.json()["direction"] == "maximize"
    assert http.post(f"/v1/tune/studies/{name}/optimize", json={}).status_code == 202
    study = until(_done(http, name), "din study done", timeout=600)
    trials = http.get(f"/v1/tune/studies/{name}/trials").json()["trials"]
    for t in trials:
        print(f"din trial {t['number']}: {t['state']} {t['value']} {t['params']} steps {t['intermediate']} "
              f"{t['error'] or ''}")
    assert study["status"] == "completed" and study["trials"]["total"] == 4
    complete = [t for t in trials if t["state"] == "complete"]
    assert complete, trials
    assert all(0.5 < t["value"] <= 1.0 and len(t["intermediate"]) >= 1 for t in complete)
    assert all(t["value"] == t["intermediate"][str(len(t["intermediate"]) - 1)] for t in complete)
    assert study["best"]["value"] == max(t["value"] for t in complete)

    # Its winner trained into a candidate version of aria_interpret (a training job run as the
    # caller, with the best trial's params; cancelled here: a full training takes minutes).
    version = f"din-cand-{RUN}"
    _problem(http.post(f"/v1/tune/studies/{name}/candidate", json={"version": version, "trial": 99}),
             409, "tune-study-state")
    _problem(http.post(f"/v1/tune/studies/{name}/candidate", json={"version": "bad id!"}), 422, "validation")
    _problem(http.post(f"/v1/tune/studies/{name}/candidate", json={"version": version, "config": {"lr": 0.1}}),
             400, "bad-request")
    made = shared_aria.aria("tune", "study", "candidate", name, "--version", version, "--set", "epochs=1",
                            "--dataset", "movielens-100k",
                            env={"ARIA_TOKEN": shared_aria.token()})
    assert made.returncode == 0, made.stderr
    assert f"aria_interpret version {version}: training job" in made.stdout and f"--study {name}" in made.stdout
    job_id = int(made.stdout.split("training job ")[1].split(";")[0])
    job = http.get(f"/v1/queue/jobs/{job_id}").json()
    http.post("/v1/queue/jobs/cancel", json={"ids": [job_id]})
    best = study["best"]["params"]
    assert job["args"]["version"] == version and job["args"]["config"]["epochs"] == 1
    assert job["args"]["config"]["lr"] == best["lr"] and job["args"]["config"]["item_dim"] == best["item_dim"]
    _problem(http.post(f"/v1/tune/studies/{name}/candidate",
                       json={"version": version, "dataset": "movielens-100k"}), 409, "conflict")


@pytest.mark.long  # ~15 s; the default run has the qwen3 architecture search below
def test_an_architecture_search_answers_a_pareto_front(http: httpx.Client) -> None:
    name = f"arch-{RUN}"
    bad = http.post("/v1/tune/arch-searches", json={"name": name, "objectives": ["gauc"]})
    assert _problem(bad, 400, "tune-invalid-study")["field"] == "objectives"
    bad = http.post("/v1/tune/arch-searches", json={"name": name, "objectives": ["gauc", "flops"]})
    assert _problem(bad, 400, "tune-invalid-study")["field"] == "objectives[1]"
    space = {"item_dim": {"type": "int", "low": 4, "high": 32, "step": 1},
             "attention_width": {"type": "int", "low": 8, "high": 48, "step": 1},
             "mlp_layers": {"type": "int", "low": 1, "high": 2, "step": 1},
             "mlp_width": {"type": "int", "low": 16, "high": 128, "step": 1}}
    made = http.post("/v1/tune/arch-searches", json={"name": name, "space": space, "budget": 4, "parallelism": 1,
                                                     "sampler": {"name": "tpe", "seed": 3}})
    assert made.status_code == 201, made.text
    assert [o["name"] for o in made.json()["objectives"]] == ["gauc", "parameters", "latency_ms"]
    assert http.post(f"/v1/tune/studies/{name}/optimize", json={}).status_code == 202
    study = until(_done(http, name), "architecture search done", timeout=600)
    assert study["status"] == "completed" and study["trials"]["total"] == 4
    front = http.get(f"/v1/tune/studies/{name}/front")
    assert front.status_code == 200, front.text
    got = front.json()
    for t in got["front"]:
        print(f"front: trial {t['number']} {t['values']} {t['params']}")
    names = [o["name"] for o in got["objectives"]]
    signs = [SIGNS[o["direction"]] for o in got["objectives"]]
    vectors = [[t["values"][n] for n in names] for t in got["front"]]
    assert got["complete"] == study["trials"]["complete"] and vectors, got
    assert not any(_dominates(a, b, signs) for a in vectors for b in vectors)
    _problem(http.get(f"/v1/tune/studies/nope-{RUN}/front"), 404, "tune-unknown-study")
    single = f"single-{RUN}"
    assert http.post("/v1/tune/studies", json={"name": single, "objective": "branin"}).status_code == 201
    _problem(http.get(f"/v1/tune/studies/{single}/front"), 409, "tune-study-state")


def test_a_qwen3_architecture_search_calls_aria_shape_and_answers_a_front(http: httpx.Client) -> None:
    bad = http.post("/v1/shape/arch-trials", json={"params": {"hidden_size": 100, "num_heads": 8}, "steps": 2})
    assert _problem(bad, 400, "bad-request")["field"] == "params.hidden_size"
    one = http.post("/v1/shape/arch-trials", json={"params": {"num_layers": 1, "hidden_size": 32, "num_heads": 2},
                                                   "steps": 5})
    assert one.status_code == 200, one.text
    assert one.json()["parameters"] > 0 and one.json()["loss"] > 0
    name = f"qwen-{RUN}"
    made = http.post("/v1/tune/arch-searches", json={"name": name, "target": "qwen3", "budget": 3,
                                                     "sampler": {"name": "random", "seed": 2}})
    assert made.status_code == 201, made.text
    assert [o["name"] for o in made.json()["objectives"]] == ["loss", "parameters", "latency_ms"]
    assert http.post(f"/v1/tune/studies/{name}/optimize", json={}).status_code == 202
    study = until(_done(http, name), "qwen3 search done", timeout=600)
    trials = http.get(f"/v1/tune/studies/{name}/trials").json()["trials"]
    for t in trials:
        print(f"qwen3 trial {t['number']}: {t['state']} {t['params']} {t['error'] or ''}")
    assert study["status"] == "completed" and study["trials"]["complete"] >= 1
    got = http.get(f"/v1/tune/studies/{name}/front").json()
    for t in got["front"]:
        print(f"qwen3 front: trial {t['number']} {t['values']} {t['params']}")
    signs = [SIGNS[o["direction"]] for o in got["objectives"]]
    vectors = [[t["values"][o["name"]] for o in got["objectives"]] for t in got["front"]]
    assert vectors and not any(_dominates(a, b, signs) for a in vectors for b in vectors)
