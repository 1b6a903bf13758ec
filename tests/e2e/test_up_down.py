"""README command 1 end to end: `aria up --detach`, every way in, then `aria down`.

The ways in are tried on the shared `aria up` of the default run; the tests that need an Aria of
their own (a Ray job, a model's Serve deployment, a training and restart, `aria down` leaving no
process) are `long`, in .ci/run, on this module's own `aria up` on embedded defaults."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from aria_actors.cli.localcluster import marked_pids
from aria_actors.runtime.errors import NotFound
from aria_actors.runtime.registry import all_specs
from aria_actors.sdk import AriaClient, Unreachable
from tests.fixtures.network import wide_listeners
from tests.fixtures.paths import REPO

SERVICE_NAMES = {s.name for s in all_specs()}


def test_services_lists_all_fourteen_with_honest_status(shared_aria) -> None:
    body = httpx.get(f"{shared_aria.url}/v1/services").json()
    assert {s["name"] for s in body["services"]} == SERVICE_NAMES
    for svc in body["services"]:
        assert svc["status"] != "failed", (svc["name"], svc["last_error"])
        if svc["status"] == "not_implemented":
            assert svc["missing"], svc["name"]
        if not svc["capabilities"]:
            assert svc["status"] != "ready", svc["name"]


def test_cli_status_shows_the_same(shared_aria) -> None:
    out = shared_aria.aria("status", "--json", check=True).stdout
    for name in SERVICE_NAMES:
        assert name in out
    table = shared_aria.aria("status").stdout
    rows = {line.split("│")[2].strip(): line.split("│")[4].strip() for line in table.splitlines()
            if line.count("│") >= 8 and line.split("│")[2].strip() in SERVICE_NAMES}
    assert set(rows) == SERVICE_NAMES, table
    # each row shows a whole status word, the JSON's (a status may move on between the two calls:
    # compared where both are settled)
    settled = ("ready", "not_implemented", "degraded")
    statuses = {s["name"]: s["status"] for s in json.loads(out)["services"]}
    assert all(rows[n] == s for n, s in statuses.items() if s in settled and rows[n] in settled), table
    assert rows["aria_coordinate"] in (*settled, "starting", "pending", "failed", "stopped"), table


def test_sdk_reads_health_services_and_one_service(shared_aria) -> None:
    with AriaClient(shared_aria.url) as client:
        assert client.health().gateway == "up"
        assert len(client.services().services) == 14
        assert client.service("aria_coordinate").status == "ready"
        with pytest.raises(NotFound, match="nope"):
            client.service("nope")


def test_unknown_service_is_404_problem_json(shared_aria) -> None:
    resp = httpx.get(f"{shared_aria.url}/v1/services/nope")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["type"].endswith("/not-found")


def test_second_up_is_refused(shared_aria) -> None:
    again = shared_aria.aria("up", "--detach")
    assert again.returncode == 1
    assert "already running" in again.stderr


def test_metrics_and_docs(shared_aria) -> None:
    assert "aria_service_status" in httpx.get(f"{shared_aria.url}/metrics").text
    assert httpx.get(f"{shared_aria.url}/docs").status_code == 200


@pytest.mark.long  # a Ray job with its own runtime env (~40 s): in .ci/run
def test_ray_job_submit_of_the_example(running_aria) -> None:
    env = {**running_aria.env, **running_aria.ray_env()}
    ray_bin = str(Path(sys.executable).with_name("ray"))
    job = subprocess.run([ray_bin, "job", "submit", "--working-dir", "examples", "--", "python", "hello_job.py"],
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert "hello from a Ray job: Aria answered" in job.stdout


def test_sdk_says_unreachable_clearly() -> None:
    with AriaClient("http://127.0.0.1:9", timeout=2) as client, pytest.raises(Unreachable, match="cannot reach"):
        client.services()


def test_service_routes_need_the_operator_token(shared_aria) -> None:
    url = f"{shared_aria.url}/v1/data/health"
    refused = httpx.get(url)
    assert refused.status_code == 401 and refused.json()["type"].endswith("/invalid-token")
    token = shared_aria.aria("token", check=True).stdout.strip()
    allowed = httpx.get(url, headers={"authorization": f"Bearer {token}"})
    assert allowed.status_code == 200, allowed.text


def test_a_user_made_with_the_cli_logs_in_and_reaches_the_gateway(shared_aria) -> None:
    # Through the running system: aria_auth's actor on aria_data's PostgreSQL, tokens signed by
    # aria_security's OpenBao, verified by the gateway.
    password = {"ARIA_NEW_PASSWORD": "e2e long passphrase", "ARIA_PASSWORD": "e2e long passphrase"}
    added = shared_aria.aria("auth", "users", "add", "e2e-alice", "--role", "user", env=password)
    assert added.returncode == 0, added.stderr
    out = shared_aria.aria("auth", "login", "e2e-alice", env={**password, "ARIA_TOKEN": ""})
    assert out.returncode == 0, out.stderr
    tokens = json.loads(out.stdout)
    with AriaClient(shared_aria.url, token=tokens["access_token"]) as client:
        assert client.get_json("/v1/auth/me")["username"] == "e2e-alice"
        assert client.service("aria_auth").status == "ready"
    wrong = shared_aria.aria("auth", "login", "e2e-alice", env={"ARIA_PASSWORD": "not the password"})
    assert wrong.returncode == 1 and "Invalid credentials" in wrong.stderr
    made = shared_aria.aria("auth", "clients", "add", "e2e-etl")
    assert made.returncode == 0, made.stderr
    client = json.loads(made.stdout)
    issued = httpx.post(f"{shared_aria.url}/v1/auth/token", data={"grant_type": "client_credentials"},
                        auth=(client["client_id"], client["client_secret"]))
    assert issued.status_code == 200, issued.text
    assert httpx.get(f"{shared_aria.url}/v1/queue/queues",
                     headers={"authorization": f"Bearer {issued.json()['access_token']}"}).status_code == 200


@pytest.mark.long  # a Serve deployment of a model (~35 s): in .ci/run
def test_shape_generates_through_its_serve_deployment(running_aria) -> None:
    # Nothing of the model runs after boot; the first generation deploys aria_shape's inference
    # application (a replica and its engine process), which `aria down` below must remove too.
    token = running_aria.aria("token", check=True).stdout.strip()
    out = running_aria.aria("shape", "generate", "fantasy", "--seed", "3", "--token", token)
    assert out.returncode == 0, out.stderr
    character = json.loads(out.stdout)["character"]
    assert character["traits"] and character["description"].strip()  # text from the model
    # The boot actor's health loop (every 2 s) carries the state the deployment reached.
    deadline = time.monotonic() + 60
    with AriaClient(running_aria.url, token=token) as client:
        while True:
            inference = client.service("aria_shape").details.get("inference", {})
            state = inference.get("versions", {}).get("base", {}).get("state", "")
            if state.startswith("running") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert inference["backend"] == "serve" and state.startswith("running"), inference


@pytest.mark.long  # a training run in the queue and an actor restart (~40 s): in .ci/run
def test_shape_trains_through_the_queue_and_its_promotion_outlives_the_actor(running_aria) -> None:
    # GRPO as an aria_queue job: the CLI enqueues it and waits, a queue worker actor trains, and
    # aria_shape registers the version from the job's result. The promotion is stored, so the
    # new aria_shape actor that `aria restart` makes serves it still.
    token = running_aria.aria("token", check=True).stdout.strip()
    out = running_aria.aria("shape", "train", "v-e2e", "--steps", "1", "--set", "max_completion_length=8",
                            "--token", token)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("v-e2e: held-out reward"), out.stdout
    with AriaClient(running_aria.url, token=token) as client:
        models = client.get_json("/v1/shape/models")
        assert [m["id"] for m in models] == ["v-e2e"] and models[0]["metrics"]["steps"] == 1
        assert running_aria.aria("shape", "promote", "v-e2e", "--token", token).returncode == 0
        before = client.service("aria_shape")
        restarted = running_aria.aria("restart", "aria_shape")
        assert restarted.returncode == 0, restarted.stderr
        after = client.service("aria_shape")
    assert after.pid != before.pid and after.status == "ready"
    assert after.details["inference"]["served_version"] == "v-e2e", after.details


def test_ray_listens_on_loopback_only(shared_aria) -> None:
    """Nothing `aria up` starts listens beyond 127.0.0.1 by default, except the one port Ray Serve
    2.60 hard-codes: each replica's inter-deployment gRPC server on [::]:0 (serve/_private/replica.py)."""
    pids = set(marked_pids(f"ARIA_HOME={shared_aria.home}"))
    pids |= set(marked_pids(f"RAY_AUTH_TOKEN_PATH={shared_aria.home / 'ray' / 'auth_token'}"))
    wide = wide_listeners(pids)
    assert pids and wide == []


@pytest.mark.long  # stops its own `aria up` (~35 s with the start): in .ci/run
def test_down_leaves_no_process_behind(running_aria) -> None:
    # Last in this module on purpose: it stops this module's Aria (see the fixture's scope).
    down = running_aria.aria("down")
    assert down.returncode == 0, down.stderr
    token = running_aria.home / "ray" / "auth_token"
    assert marked_pids(f"RAY_AUTH_TOKEN_PATH={token}") == []
    # Ray's dashboard and runtime-env agents do not carry the token path, but do carry ARIA_HOME.
    assert marked_pids(f"ARIA_HOME={running_aria.home}") == []
    assert subprocess.run(["pgrep", "-f", str(running_aria.home)], capture_output=True).stdout == b""
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{running_aria.url}/health", timeout=2)
