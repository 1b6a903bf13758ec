"""``aria shape`` against a real HTTP server running the router over an in-process service."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    import uvicorn
    from fastapi import FastAPI

    from aria_actors.runtime.local import LocalClient
    from aria_actors.runtime.principal import Principal
    from aria_actors.runtime.service import Deps
    from aria_actors.runtime.settings import AriaSettings
    from aria_actors.runtime.testing import api_app
    from aria_actors.shape.api import router
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.service import ShapeService

    svc = ShapeService(AriaSettings(home=tmp_path_factory.mktemp("shape-cli")), ShapeConfig(pretrain_steps=0))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        await svc.start(Deps())
        await svc.wait_ready()
        yield
        await svc.stop()

    # every request as an editor: what the gateway would have verified from the CLI's token
    app = api_app(router, clients={"aria_shape": LocalClient(svc)}, caller=Principal("ed", ("editor",)))
    app.router.lifespan_context = lifespan

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join()


def test_generate_prints_a_valid_character(gateway, monkeypatch) -> None:
    import json

    from aria_actors.shape.cli import app

    monkeypatch.setenv("ARIA_PORT", str(gateway))
    r = CliRunner().invoke(app, ["generate", "fantasy", "--name", "Ada", "--seed", "2"])
    assert r.exit_code == 0, r.output
    char = json.loads(r.output)["character"]
    assert char["name"] == "Ada" and char["template"] == "fantasy"


def test_templates_lists_and_prints_and_validate_checks_a_character(gateway, monkeypatch, tmp_path) -> None:
    import json

    from aria_actors.shape.cli import app

    monkeypatch.setenv("ARIA_PORT", str(gateway))
    r = CliRunner().invoke(app, ["templates"])
    assert r.exit_code == 0 and "fantasy" in r.output, r.output
    r = CliRunner().invoke(app, ["templates", "fantasy"])
    assert r.exit_code == 0 and json.loads(r.output)["name"] == "fantasy", r.output
    r = CliRunner().invoke(app, ["generate", "fantasy", "--seed", "4"])
    character = json.loads(r.output)["character"]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(character))
    r = CliRunner().invoke(app, ["validate", "fantasy", str(path)])
    assert r.exit_code == 0 and json.loads(r.output)["traits"] == character["traits"], r.output
    r = CliRunner().invoke(app, ["validate", "fantasy", "-"], input=json.dumps({**character, "traits": ["nope"]}))
    assert r.exit_code == 1 and "nope" in r.output, r.output
    assert CliRunner().invoke(app, ["validate", "fantasy", str(tmp_path / "missing.json")]).exit_code == 2


def test_errors_are_one_red_line_and_exit_1(gateway, monkeypatch) -> None:
    from aria_actors.shape.cli import app

    monkeypatch.setenv("ARIA_PORT", str(gateway))
    r = CliRunner().invoke(app, ["generate", "nope"])
    assert r.exit_code == 1 and "Unknown template" in r.output
    # Records need aria_data, which this in-process service does not have.
    r = CliRunner().invoke(app, ["models"])
    assert r.exit_code == 1 and "Service unavailable" in r.output
    assert CliRunner().invoke(app, ["train", "v1", "--set", "oops"]).exit_code == 2
    # The CLI's token here is an editor's: promotion is for operators, and says so in one line.
    r = CliRunner().invoke(app, ["promote", "base"])
    assert r.exit_code == 1 and "Forbidden" in r.output and "shape:model:promote" in r.output


def _job(state: str, attempt: int = 0, **extra):
    return {"job_id": 7, "version": "v1", "state": state, "attempt": attempt, "max_attempts": 5,
            "errors": [], "model": None, **extra}


def _fake_gateway(monkeypatch, answers):
    """gateway_call answering from ``answers`` in order; returns the calls made."""
    from aria_actors.shape import cli

    calls = []

    def call(token, method, path, **kwargs):
        calls.append((method, path, kwargs.get("json")))
        return answers.pop(0)

    monkeypatch.setattr(cli, "gateway_call", call)
    monkeypatch.setattr(cli, "POLL_S", 0)
    return calls


def test_train_enqueues_then_polls_until_the_version_is_registered(monkeypatch) -> None:
    from aria_actors.shape.cli import app

    model = {"id": "v1", "path": "/m/v1", "metrics": {"held_out_reward_before": 0.25,
                                                     "held_out_reward_after": 0.5, "steps": 3}}
    calls = _fake_gateway(monkeypatch, [_job("available"), _job("executing", 1), _job("executing", 1),
                                        _job("completed", 1, model=model)])
    r = CliRunner().invoke(app, ["train", "v1", "--steps", "3", "--set", "learning_rate=0.01"])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[-1] == "v1: held-out reward 0.250 -> 0.500 after 3 steps (/m/v1)"
    assert calls[0] == ("POST", "/v1/shape/train", {"version": "v1", "steps": 3, "prompts_per_step": 4,
                                                    "settings": {"learning_rate": 0.01}, "seed": 0})
    assert [c[:2] for c in calls[1:]] == [("GET", "/v1/shape/train/7")] * 3
    assert "executing (attempt 1/5)" in r.stderr and r.stderr.count("executing") == 1


def test_train_no_wait_prints_the_job_and_a_failed_run_is_one_red_line(monkeypatch) -> None:
    from aria_actors.shape.cli import app

    calls = _fake_gateway(monkeypatch, [_job("available")])
    r = CliRunner().invoke(app, ["train", "v1", "--no-wait"])
    assert r.exit_code == 0 and "training job 7 available" in r.stdout and len(calls) == 1
    failed = _job("discarded", 1, errors=[{"attempt": 1, "at": "t", "error": "invalid GRPO settings"}])
    _fake_gateway(monkeypatch, [_job("available"), failed])
    r = CliRunner().invoke(app, ["train", "v1"])
    assert r.exit_code == 1 and "discarded: invalid GRPO settings" in r.stderr


def test_personality_prints_the_models_profile(gateway, monkeypatch) -> None:
    import json

    from aria_actors.shape.cli import app

    monkeypatch.setenv("ARIA_PORT", str(gateway))
    r = CliRunner().invoke(app, ["personality", "I love parties and talk to everyone.", "--trait", "cheerful"])
    assert r.exit_code == 0, r.output
    assert "extraversion" in r.stdout and "consistency" in r.stdout and "held-out accuracy" in r.stdout
    r = CliRunner().invoke(app, ["personality", "-", "--json"], input="I keep to myself.")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["traits"] is None and out["description"]["sentences"] == 1
    r = CliRunner().invoke(app, ["personality", "   "])
    assert r.exit_code == 1 and "blank" in r.output, r.output
