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

    from aria_actors.runtime.http import install_problem_handlers
    from aria_actors.runtime.local import LocalClient
    from aria_actors.runtime.service import Deps
    from aria_actors.runtime.settings import AriaSettings
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

    app = FastAPI(lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(router)
    app.state.clients = {"aria_shape": LocalClient(svc)}

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


def test_errors_are_one_red_line_and_exit_1(gateway, monkeypatch) -> None:
    from aria_actors.shape.cli import app

    monkeypatch.setenv("ARIA_PORT", str(gateway))
    r = CliRunner().invoke(app, ["generate", "nope"])
    assert r.exit_code == 1 and "Unknown template" in r.output
    # Records need aria_data, which this in-process service does not have.
    r = CliRunner().invoke(app, ["models"])
    assert r.exit_code == 1 and "Service unavailable" in r.output
    assert CliRunner().invoke(app, ["train", "v1", "--set", "oops"]).exit_code == 2
