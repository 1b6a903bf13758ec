"""aria_tune's resource proposals through the gateway of the shared `aria up` (aria_monitor collecting
every second): every service's use against its reservation with a proposed reservation, from REST,
the SDK and `aria tune resources`; proposals recorded with their evidence and decided once by an
administrator; unknown services and proposals (404), bad windows (400), and a viewer and an editor
refused (403)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from aria_actors.runtime.registry import all_specs
from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem as _problem
from tests.fixtures.operator import until as _until

RUN = uuid.uuid4().hex[:6]
PASSWORD = "e2e resources passphrase"
SPECS = {s.name: s for s in all_specs()}
WINDOW = 120  # the shared stack collects every second: 120 one-second samples at most


def _every_service_measured(http: httpx.Client) -> dict[str, Any] | None:
    r = http.get("/v1/tune/resources", params={"window_s": WINDOW})
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    return body if all(s["verdict"] != "no-data" for s in body["services"]) else None


def test_every_running_service_has_use_reservation_and_a_proposal(http: httpx.Client, aria: AriaClient) -> None:
    body = _until(lambda: _every_service_measured(http), "a proposal for every service")
    assert body["window_s"] == WINDOW and body["step_s"] >= 0.5
    assert "Ray cannot change" in body["applied"]
    rule = body["rule"]
    rows = {s["service"]: s for s in body["services"]}
    assert set(rows) == set(SPECS)
    for name, s in rows.items():
        spec = SPECS[name]
        assert s["running"], name
        assert s["reservation"] == {"cpus": spec.num_cpus, "gpus": spec.num_gpus, "memory_bytes": None}, name
        cpu, mem = s["use"]["cpu_cores"], s["use"]["memory_bytes"]
        assert cpu["samples"] >= rule["min_samples"] and len(s["samples"]["cpu_cores"]) == cpu["samples"], name
        assert 0 <= cpu["mean"] <= cpu["peak"] and 0 <= cpu["percentile"] <= cpu["peak"] + 1e-9, (name, cpu)
        assert 0 < mem["percentile"] <= mem["peak"], (name, mem)
        proposal = s["proposal"]
        assert s["verdict"] in ("under-reserved", "over-reserved", "fit"), (name, s["verdict"])
        assert rule["cpu_floor"] <= proposal["cpus"] <= body["node"]["cpus"], (name, proposal)
        assert proposal["memory_bytes"] >= mem["peak"] and proposal["memory_bytes"] % rule["memory_step_bytes"] == 0
        assert proposal["applied_live"] is False
        change = proposal["changes"][0]
        assert change["key"] == f"SPEC.num_cpus in aria_actors/{name.removeprefix('aria_')}/spec.py", change
        # today's specs reserve 0 CPUs: any use is above the reservation
        assert (s["verdict"] == "under-reserved") == (cpu["percentile"] > spec.num_cpus), (name, s)
    assert any("[queue] worker_num_cpus" in (c["key"] or "") for c in rows["aria_queue"]["proposal"]["changes"])
    one = http.get("/v1/tune/resources/aria_data", params={"window_s": WINDOW})
    assert one.status_code == 200, one.text[:500]
    assert [s["service"] for s in one.json()["services"]] == ["aria_data"]
    sdk = aria.tune.resources(WINDOW)
    assert {s["service"] for s in sdk["services"]} == set(SPECS)
    for s in body["services"]:  # the measured figures (-s shows them)
        cpu, p = s["use"]["cpu_cores"], s["proposal"]
        print(f"{s['service']}: {cpu['samples']} samples, cpu mean {cpu['mean']:.4f} p95 {cpu['percentile']:.4f} "
              f"peak {cpu['peak']:.4f} cores, memory peak {s['use']['memory_bytes']['peak'] / 2**20:.0f} MiB "
              f"-> {s['verdict']} {p['cpus']:g} cpus, {p['memory_bytes'] / 2**20:.0f} MiB {','.join(s['flags'])}")


def test_proposals_are_recorded_with_evidence_and_decided_once(http: httpx.Client, aria: AriaClient) -> None:
    _until(lambda: _every_service_measured(http), "a proposal for every service")
    r = http.post("/v1/tune/resources/proposals", json={"window_s": WINDOW, "service": "aria_queue"})
    assert r.status_code == 201, r.text[:500]
    made = r.json()["proposals"]
    assert [p["service"] for p in made] == ["aria_queue"]
    p = made[0]
    assert p["status"] == "proposed" and p["proposed_by"] and p["decided_at"] is None
    evidence = p["evidence"]
    assert evidence["window_s"] == WINDOW and evidence["percentile"] == 95
    assert len(evidence["samples"]["cpu_cores"]) == evidence["use"]["cpu_cores"]["samples"] >= 5
    listed = http.get("/v1/tune/resources/proposals", params={"service": "aria_queue", "status": "proposed"})
    assert listed.status_code == 200 and p["id"] in [x["id"] for x in listed.json()]
    got = http.get(f"/v1/tune/resources/proposals/{p['id']}")
    assert got.status_code == 200 and got.json()["evidence"] == evidence
    decided = http.post(f"/v1/tune/resources/proposals/{p['id']}/decision",
                        json={"decision": "rejected", "note": f"e2e {RUN}"})
    assert decided.status_code == 200, decided.text[:500]
    assert decided.json()["status"] == "rejected" and decided.json()["decision_note"] == f"e2e {RUN}"
    again = http.post(f"/v1/tune/resources/proposals/{p['id']}/decision", json={"decision": "accepted"})
    _problem(again, 409, "tune-proposal-decided")
    # the decision is in aria_security's audit log, as aria_tune's event with the administrator as subject
    events = aria.security.audit(100, op="tune.resources.decide")
    assert any(f"proposal={p['id']} " in (e.get("target") or "") and e.get("actor") == "svc:aria_tune"
               for e in events), events[:5]
    sdk = aria.tune.propose_resources(WINDOW, "aria_data")
    assert [x["service"] for x in sdk["proposals"]] == ["aria_data"]
    assert aria.tune.resource_proposal(sdk["proposals"][0]["id"])["service"] == "aria_data"


def test_bad_input_is_a_clear_problem(http: httpx.Client) -> None:
    r = http.get("/v1/tune/resources/aria_nope")
    _problem(r, 404, "tune-unknown-service")
    _problem(http.post("/v1/tune/resources/proposals", json={"service": "aria_nope"}), 404, "tune-unknown-service")
    for window in (5, 30 * 86400):
        r = http.get("/v1/tune/resources", params={"window_s": window})
        body = _problem(r, 400, "bad-request")
        assert body.get("field") == "window_s" or "window_s" in r.text, r.text
    _problem(http.post("/v1/tune/resources/proposals", json={"window_s": 1}), 400, "bad-request")
    _problem(http.get("/v1/tune/resources", params={"window_s": "an hour"}), 422, "validation")
    _problem(http.get("/v1/tune/resources/proposals/987654321"), 404, "tune-unknown-proposal")
    _problem(http.post("/v1/tune/resources/proposals/1/decision", json={"decision": "maybe"}), 422, "validation")
    _problem(http.post("/v1/tune/resources/proposals", json={"window_s": 600, "extra": 1}), 422, "validation")


def test_viewers_and_editors_are_refused(shared_aria: RunningAria, aria: AriaClient) -> None:
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        assert anon.get("/v1/tune/resources").status_code == 401
        for role in ("viewer", "editor"):
            user = f"res-{role}-{RUN}"
            aria.auth.create_user(user, PASSWORD, roles=[role])
            token = anon.post("/v1/auth/login", json={"username": user, "password": PASSWORD}).raise_for_status()
            headers = {"authorization": f"Bearer {token.json()['access_token']}"}
            assert anon.get("/v1/tune/resources", headers=headers).status_code == 403, role
            assert anon.post("/v1/tune/resources/proposals", json={}, headers=headers).status_code == 403, role
            r = anon.post("/v1/tune/resources/proposals/1/decision", json={"decision": "accepted"}, headers=headers)
            assert r.status_code == 403, role


def test_the_cli_prints_use_and_proposals(shared_aria: RunningAria, http: httpx.Client) -> None:
    _until(lambda: _every_service_measured(http), "a proposal for every service")
    env = {"ARIA_TOKEN": shared_aria.token()}
    shown = shared_aria.aria("tune", "resources", "show", "--minutes", "2", env=env)
    assert shown.returncode == 0, shown.stderr
    assert all(name in shown.stdout for name in SPECS) and "Ray cannot change" in shown.stdout
    one = shared_aria.aria("tune", "resources", "show", "aria_data", "--minutes", "2", "--json", env=env)
    assert one.returncode == 0, one.stderr
    assert [s["service"] for s in json.loads(one.stdout)["services"]] == ["aria_data"]
    made = shared_aria.aria("tune", "resources", "propose", "--service", "aria_monitor", "--minutes", "2", env=env)
    assert made.returncode == 0 and "aria_monitor" in made.stdout, made.stderr
    listed = shared_aria.aria("tune", "resources", "proposals", "--service", "aria_monitor", env=env)
    assert listed.returncode == 0 and "aria_monitor" in listed.stdout and "proposed" in listed.stdout, listed.stderr
    pid = made.stdout.split()[0].lstrip("#")
    decided = shared_aria.aria("tune", "resources", "decide", pid, "accepted", "--note", "cli", env=env)
    assert decided.returncode == 0 and "accepted" in decided.stdout, decided.stderr
    unknown = shared_aria.aria("tune", "resources", "show", "aria_nope", env=env)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
