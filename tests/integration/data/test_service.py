"""DataService against real PostgreSQL: URL mode, embedded mode, the HTTP router and the CLI."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from aria_actors.data.api import router
from aria_actors.data.cli import app as cli_app
from aria_actors.data.client import DataClient
from aria_actors.data.service import DataService
from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import bind
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status
from aria_actors.runtime.testing import api_app
from tests.fixtures.ports import free_port as _free_port

QUEUE = Principal.internal("aria_queue")  # what another service's start-up calls aria_data as


async def test_url_mode_health_migrations_and_router(fresh_database: str, tmp_path: Path) -> None:
    svc = DataService(AriaSettings(home=tmp_path, database_url=fresh_database))
    assert (await svc.health()).status == Status.STARTING
    await svc.start(Deps())
    try:
        h = await svc.health()
        assert h.status == Status.READY, h
        d = h.details
        assert d["dsn_source"] == "ARIA_DATABASE_URL" and not d["embedded"]
        assert d["server_connections"] >= 1 and d["pool"]["size"] >= 1
        assert "aria_data.schema_migrations" in {t["name"] for t in d["table_sizes"]}
        assert d["migrations_not_applied"] == [] and d["migration_errors"] == {}
        data = bind(DataClient, LocalClient(svc))
        assert await data.dsn(QUEUE) == fresh_database
        assert await data.migrate(QUEUE, "aria_queue") == []  # applied at start already
        states = await data.migrate_status(QUEUE, ["aria_data"])
        assert [(s["version"], s["state"]) for s in states] == [(1, "applied"), (2, "applied"),
                                                                   (3, "applied"), (4, "applied")]
        assert d["partition_maintenance"]["created"] == []
        assert (await data.maintain_partitions(Principal.operator()))["dropped"] == []
        with pytest.raises(Forbidden):  # a service token reads and writes, but gets no credentials
            await data.dsn(Principal("svc-client", ("service",), kind="service"))

        app = api_app(router, clients={"aria_data": LocalClient(svc)})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as http:
            r = await http.get("/v1/data/health")
            assert r.status_code == 200 and r.json()["status"] == "ready"
            r = await http.get("/v1/data/migrations", params={"service": "aria_queue"})
            assert r.status_code == 200 and all(m["service"] == "aria_queue" for m in r.json())
            r = await http.post("/v1/data/migrations/aria_queue")
            assert r.json() == {"service": "aria_queue", "applied": []}
            r = await http.get("/v1/data/advice", params={"min_rows": 1})
            assert r.status_code == 200 and isinstance(r.json(), list)
            r = await http.get("/v1/data/advice", params={"min_rows": 0})
            assert r.status_code == 422
            r = await http.post("/v1/data/migrations/Bad-Name")
            assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
            r = await http.post("/v1/data/partitions/maintain")
            assert r.status_code == 200 and r.json()["dropped"] == [] and r.json()["at"] > 0
            r = await http.post("/v1/data/backups")
            assert r.status_code == 201, r.text
            made = r.json()
            assert made["size_bytes"] > 0 and made["tables"] >= 1
            assert Path(made["path"]).parent == tmp_path / "backups"
            assert [b["name"] for b in (await http.get("/v1/data/backups")).json()] == [made["name"]]
        viewer = api_app(router, clients={"aria_data": LocalClient(svc)},
                         caller=Principal("v1", ("viewer",), tenant="t1"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=viewer), base_url="http://t") as http:
            assert (await http.post("/v1/data/backups")).status_code == 403
            assert (await http.get("/v1/data/backups")).status_code == 403
            assert (await http.post("/v1/data/partitions/maintain")).status_code == 403
    finally:
        await svc.stop()
    await svc.stop()
    assert (await svc.health()).status == Status.FAILED


@pytest.fixture
async def embedded_service() -> AsyncIterator[DataService]:
    """A DataService on its own embedded server (a short home: the server's socket lives there)."""
    home = Path(f"/tmp/aria-data-svc-{uuid.uuid4().hex[:8]}")
    svc = DataService(AriaSettings(home=home, database_url=""))
    try:
        yield svc
    finally:
        await svc.stop()
        shutil.rmtree(home, ignore_errors=True)


async def test_embedded_mode_starts_and_stops_its_server(embedded_service: DataService) -> None:
    svc = embedded_service
    home = svc.settings.home
    await svc.start(Deps())
    embedded = svc.embedded
    assert embedded is not None and embedded.is_running()
    assert embedded.pgdata == home / "postgres" / "data"
    h = await svc.health()
    assert h.status == Status.READY and h.details["embedded_pid"] == embedded.pid()
    # The server dies under a running service: health says so, and after the server is
    # back (crash recovery) the same pool serves again.
    os.kill(embedded.pid(), signal.SIGKILL)
    while embedded.is_running() or embedded._orphans():  # backends notice within moments
        await asyncio.sleep(0.01)
    assert (await svc.health()).status == Status.FAILED
    await asyncio.to_thread(embedded.start)
    assert (await svc.health()).status == Status.READY
    await svc.stop()
    assert not embedded.is_running()


async def test_prepare_starts_the_embedded_server_that_start_then_uses(embedded_service: DataService) -> None:
    svc = embedded_service
    await svc.prepare()  # initdb and start while the services below would still boot
    early = svc.embedded
    assert early is not None
    await svc.start(Deps())
    assert svc.embedded is early and early.is_running()
    assert (await svc.health()).details["embedded_pid"] == early.pid()
    await svc.stop()
    assert not early.is_running()


async def test_a_prepared_service_that_never_starts_stops_its_server(embedded_service: DataService) -> None:
    svc = embedded_service
    await svc.prepare()
    early = svc.embedded
    await svc.stop()  # e.g. its dependency failed: the runtime stops it unstarted
    assert early is not None and not early.is_running()


def test_cli_migrate_backup_restore(fresh_database: str, postgres_dsn: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("ARIA_HOME", str(tmp_path))
    monkeypatch.setenv("ARIA_DATABASE_URL", fresh_database)
    r = runner.invoke(cli_app, ["migrate", "status", "-s", "data"])
    assert r.exit_code == 0 and "pending" in r.stdout
    r = runner.invoke(cli_app, ["migrate", "up", "-s", "data"])
    assert r.exit_code == 0 and "applied aria_data 0001_foundation" in r.stdout
    r = runner.invoke(cli_app, ["migrate", "down", "-s", "data", "--to", "0"])
    assert r.exit_code == 0 and "reverted aria_data 0001_foundation" in r.stdout
    assert "reverted aria_data 0002_archival" in r.stdout
    assert "reverted aria_data 0003_drop_outbox" in r.stdout
    assert runner.invoke(cli_app, ["migrate", "up"]).exit_code == 0
    dump = tmp_path / "b.dump"
    r = runner.invoke(cli_app, ["backup", str(dump)])
    assert r.exit_code == 0 and dump.stat().st_size > 0, r.output
    r = runner.invoke(cli_app, ["restore", str(dump)])
    assert r.exit_code == 1 and "empty database" in r.output

    r = runner.invoke(cli_app, ["migrate", "down"])
    assert r.exit_code == 2  # --service is required

    monkeypatch.setenv("ARIA_DATABASE_URL", "postgresql://u:s3cret@127.0.0.1:1/x")
    r = runner.invoke(cli_app, ["migrate", "status"])
    assert r.exit_code == 1 and "ARIA_DATABASE_URL" in r.output and "s3cret" not in r.output


async def test_cli_through_the_gateway(fresh_database: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`aria data health|migrations|advice|archive|backup|backups` against the router on a real port."""
    svc = DataService(AriaSettings(home=tmp_path, database_url=fresh_database))
    await svc.start(Deps())
    app = api_app(router, clients={"aria_data": LocalClient(svc)})
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    monkeypatch.setenv("ARIA_HOST", "127.0.0.1")
    monkeypatch.setenv("ARIA_PORT", str(port))
    runner = CliRunner()

    async def cli(*args: str):
        r = await asyncio.to_thread(runner.invoke, cli_app, list(args), env=dict(os.environ))
        assert r.exit_code == 0, r.output
        return r.stdout

    try:
        assert (await cli("health")).startswith("ready: PostgreSQL answers")
        assert "0001" in await cli("migrations", "--service", "aria_data")
        await cli("advice", "--min-rows", "1")
        assert "created" in await cli("archive")
        out = await cli("backup")
        assert "backup written to" in out and str(tmp_path / "backups") in out.replace("\n", "")
        (dump,) = (tmp_path / "backups").glob("aria-*.dump")
        assert dump.name in (await cli("backups")).replace("\n", "")
    finally:
        server.should_exit = True
        await task
        await svc.stop()


