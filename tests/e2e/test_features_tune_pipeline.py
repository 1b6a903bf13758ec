"""aria_tune's training pipeline optimisation through the gateway of a running `aria up` (the
shared one): a pipeline study of DIN's training settings (batch size, threads, bf16) whose runs are
aria_queue jobs measured in aria_interpret, and the proposal: the fastest run whose validation GAUC
is within the tolerance of the best. Bad input is a 400 naming the field."""

from __future__ import annotations

import uuid

import httpx

from tests.fixtures.operator import assert_problem as _problem
from tests.fixtures.operator import until

RUN = uuid.uuid4().hex[:6]


def test_a_pipeline_study_measures_runs_and_proposes_settings(http: httpx.Client) -> None:
    name = f"pipe-{RUN}"
    bad = http.post("/v1/tune/pipeline-studies", json={"name": name, "tolerance": 0.9})
    assert _problem(bad, 400, "tune-invalid-study")["field"] == "tolerance"
    bad = http.post("/v1/tune/pipeline-studies", json={
        "name": name, "space": {"precision": {"type": "categorical", "choices": ["fp32", "fp8"]}}})
    assert _problem(bad, 400, "tune-invalid-space")["field"] == "space.precision.choices"
    space = {"batch_size": {"type": "categorical", "choices": [512, 1024, 2048]},
             "threads": {"type": "int", "low": 1, "high": 2, "step": 1},
             "precision": {"type": "categorical", "choices": ["fp32", "bf16"]}}
    made = http.post("/v1/tune/pipeline-studies", json={"name": name, "space": space, "budget": 3,
                                                        "tolerance": 0.02, "sampler": {"name": "random", "seed": 4}})
    assert made.status_code == 201, made.text
    assert http.post(f"/v1/tune/studies/{name}/optimize", json={}).status_code == 202

    def done() -> dict | None:
        r = http.get(f"/v1/tune/studies/{name}")
        return r.json() if r.status_code == 200 and r.json()["status"] != "running" else None

    study = until(done, "pipeline study done", timeout=600)
    assert study["status"] == "completed" and study["trials"]["total"] == 3
    got = http.get(f"/v1/tune/studies/{name}/pipeline-proposal")
    assert got.status_code == 200, got.text
    proposal = got.json()
    for r in proposal["runs"]:
        print(f"pipeline run {r['number']}: {r['samples_per_s']:.0f} samples/s, gauc {r['gauc']:.4f}, {r['params']}")
    print(f"proposal: {proposal['proposal']}, speedup {proposal['speedup']}")
    assert len(proposal["runs"]) == study["trials"]["complete"] >= 1
    chosen = proposal["proposal"]
    assert chosen["gauc"] >= proposal["best_gauc"] - 0.02
    assert chosen["samples_per_s"] == max(r["samples_per_s"] for r in proposal["runs"]
                                          if r["gauc"] >= proposal["best_gauc"] - 0.02)
    _problem(http.get(f"/v1/tune/studies/nope-{RUN}/pipeline-proposal"), 404, "tune-unknown-study")
