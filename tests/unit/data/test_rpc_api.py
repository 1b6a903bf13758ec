"""aria_data's declared RPC surface and its router: who may call what, and bad input is a 4xx.

The service is not started (no database): a call that passes the permission check then fails with
aria_data's 503 "not started", so the check is visible without a server.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from aria_actors.data.api import router
from aria_actors.data.client import DataClient
from aria_actors.data.errors import DataNotStarted
from aria_actors.data.service import DataService
from aria_actors.runtime.errors import BadRequest, Forbidden, NotFound, Unauthorized
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import bind, surface
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.testing import api_app

CALLERS = {
    "admin": Principal("ada", ("admin",)),
    "operator": Principal("otto", ("operator",)),
    "editor": Principal("eve", ("editor",)),
    "viewer": Principal("vic", ("viewer",)),
    "user": Principal("ursula", ("user",), tenant="t1"),
    "service": Principal("svc-client", ("service",), kind="service"),
    "internal": Principal.internal("aria_queue"),
    "local operator": Principal.operator(),
    "anonymous": Principal.anonymous(),
}
# Who may call each method; everyone else is refused (403, or 401 when anonymous).
ALLOWED = {
    "dsn": {"admin", "operator", "internal", "local operator"},
    "migrate": {"admin", "operator", "internal", "local operator"},
    "maintain_partitions": {"admin", "operator", "internal", "local operator"},
    "backup": {"admin", "operator", "internal", "local operator"},
    "backups": {"admin", "operator", "service", "internal", "local operator"},
    "query_advice": {"admin", "operator", "service", "internal", "local operator"},
    "statement_stats": {"admin", "operator", "service", "internal", "local operator"},
    "explain_statement": {"admin", "operator", "service", "internal", "local operator"},
    "check_index": {"admin", "operator", "internal", "local operator"},
    "probe": {"admin", "operator", "service", "internal", "local operator"},
    "migrate_status": {"admin", "operator", "viewer", "service", "internal", "local operator"},
}
ARGS: dict[str, tuple[Any, ...]] = {"migrate": ("aria_queue",), "migrate_status": (["queue"],),
                                    "explain_statement": ("1",), "check_index": ("1", "s.t", ["k"])}


@pytest.fixture
def svc() -> DataService:
    return DataService(AriaSettings(home="/tmp/aria-unit-unused", database_url=""))


def test_the_table_covers_the_declared_surface() -> None:
    assert set(ALLOWED) == set(surface(DataService))


@pytest.mark.parametrize("method", sorted(ALLOWED))
@pytest.mark.parametrize("who", sorted(CALLERS))
async def test_each_role_is_allowed_or_refused(svc: DataService, method: str, who: str) -> None:
    client = LocalClient(svc)
    caller = CALLERS[who]
    if who not in ALLOWED[method]:
        with pytest.raises(Unauthorized if who == "anonymous" else Forbidden):
            await client.call(method, caller, *ARGS.get(method, ()))
        return
    if method == "probe":  # answers without a database: the service is starting
        assert (await client.call(method, caller))["status"] == "starting"
        return
    with pytest.raises(DataNotStarted) as err:
        await client.call(method, caller, *ARGS.get(method, ()))
    assert err.value.status == 503


@pytest.mark.parametrize("method", ["health", "start", "stop", "prepare", "_resolve_dsn", "_maintain"])
async def test_lifecycle_and_internals_are_not_callable(svc: DataService, method: str) -> None:
    with pytest.raises(NotFound):
        await LocalClient(svc).call(method, Principal.operator())


async def test_a_call_without_a_principal_is_refused(svc: DataService) -> None:
    with pytest.raises(BadRequest):
        await LocalClient(svc).call("dsn")
    with pytest.raises(BadRequest):  # the old signature, migrate(name), no longer binds
        await LocalClient(svc).call("migrate", "aria_queue")


@pytest.mark.parametrize("name", ["../../etc", "Aria_Queue", "a" * 65, "", "aria-queue", 7, None])
async def test_migrate_rejects_names_that_are_not_service_names(svc: DataService, name: object) -> None:
    data = bind(DataClient, LocalClient(svc))
    with pytest.raises(BadRequest):
        await data.migrate(Principal.operator(), name)  # type: ignore[arg-type]
    with pytest.raises(BadRequest):
        await data.migrate_status(Principal.operator(), ["aria_data", name])  # type: ignore[list-item]


@pytest.mark.parametrize("min_rows", [0, -1, 10**9 + 1, "5", True, 1.5])
async def test_query_advice_rejects_bad_min_rows(svc: DataService, min_rows: object) -> None:
    with pytest.raises(BadRequest):
        await bind(DataClient, LocalClient(svc)).query_advice(Principal.operator(), min_rows)  # type: ignore[arg-type]


async def test_migrate_status_rejects_a_non_list(svc: DataService) -> None:
    data = bind(DataClient, LocalClient(svc))
    with pytest.raises(BadRequest):
        await data.migrate_status(Principal.operator(), "aria_data")  # type: ignore[arg-type]
    with pytest.raises(BadRequest):
        await data.migrate_status(Principal.operator(), ["queue"] * 65)


def _http(svc: DataService, who: str) -> TestClient:
    return TestClient(api_app(router, clients={"aria_data": LocalClient(svc)}, caller=CALLERS[who]))


ROUTES = [("get", "/v1/data/health", "probe"), ("get", "/v1/data/migrations", "migrate_status"),
          ("post", "/v1/data/migrations/aria_queue", "migrate"), ("get", "/v1/data/advice", "query_advice")]


@pytest.mark.parametrize(("verb", "path", "method"), ROUTES)
@pytest.mark.parametrize("who", sorted(CALLERS))
def test_routes_carry_their_methods_permission(svc: DataService, verb: str, path: str, method: str,
                                               who: str) -> None:
    r = getattr(_http(svc, who), verb)(path)
    if who not in ALLOWED[method]:
        assert r.status_code == (401 if who == "anonymous" else 403), r.text
        assert r.headers["content-type"] == "application/problem+json"
    elif method == "probe":  # the health document itself, with the status of a starting service
        assert r.status_code == 503 and r.json()["status"] == "starting", r.text
    else:  # through to the service, which is starting
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/data-not-started")


def test_bad_input_is_a_422_problem_and_the_permission_comes_first(svc: DataService) -> None:
    http = _http(svc, "operator")
    for verb, path, params in [("post", "/v1/data/migrations/Bad-Name", None),
                               ("post", "/v1/data/migrations/" + "a" * 65, None),
                               ("get", "/v1/data/migrations", {"service": "../x"}),
                               ("get", "/v1/data/advice", {"min_rows": 0}),
                               ("get", "/v1/data/advice", {"min_rows": "many"})]:
        r = getattr(http, verb)(path, params=params)
        assert r.status_code == 422, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    # A caller without the right learns nothing from validation: refused before it.
    r = _http(svc, "user").post("/v1/data/migrations/Bad-Name")
    assert r.status_code == 403



async def test_one_index_check_at_a_time(svc: DataService, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import contextlib

    from aria_actors.data.config import DataConfig
    from aria_actors.runtime.errors import Conflict

    started, release = asyncio.Event(), asyncio.Event()

    async def slow_check(conn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        started.set()
        await release.wait()
        return {"checked": True}

    class Pool:
        @contextlib.asynccontextmanager
        async def acquire(self) -> Any:
            yield None

    monkeypatch.setattr("aria_actors.data.service.check_index", slow_check)
    svc.db, svc.config = Pool(), DataConfig()  # type: ignore[assignment]
    client, admin = LocalClient(svc), CALLERS["admin"]
    first = asyncio.ensure_future(client.call("check_index", admin, "1", "s.t", ["k"]))
    await started.wait()
    with pytest.raises(Conflict, match="index check is running"):
        await client.call("check_index", admin, "1", "s.t", ["k"])
    release.set()
    assert await first == {"checked": True}
    started.clear()
    release.set()
    assert await client.call("check_index", admin, "1", "s.t", ["k"]) == {"checked": True}  # free again
