"""The declared RPC surface: typed clients match their services, undeclared methods are unreachable."""

from __future__ import annotations

import importlib
import importlib.util
import inspect

import pytest

from aria_actors.runtime.errors import BadRequest, Forbidden, NotFound, Unauthorized
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import SERVICE_MODULES, all_specs, load_service_class
from aria_actors.runtime.rpc import LIFECYCLE, Gate, client_methods, invoke, rpc, service_of, surface
from aria_actors.runtime.service import Service
from aria_actors.runtime.spec import Health, ServiceSpec, Status


def _with_clients() -> list[str]:
    return [m for m in SERVICE_MODULES if importlib.util.find_spec(f"aria_actors.{m}.client") is not None]


def _client_class(module: str) -> type:
    mod = importlib.import_module(f"aria_actors.{module}.client")
    [cls] = [c for c in vars(mod).values() if isinstance(c, type) and hasattr(c, "__aria_service__")]
    return cls


@pytest.mark.parametrize("module", _with_clients())
def test_typed_client_mirrors_the_declared_surface(module: str) -> None:
    proto = _client_class(module)
    service_cls = load_service_class(next(s for s in all_specs() if s.name == service_of(proto)))
    declared = surface(service_cls)
    assert client_methods(proto) == set(declared), "re-run scripts/gen_client.py " + module
    # the client carries the same declarations (what the gateway and the queue read)
    assert dict(surface(proto)) == dict(declared), "re-run scripts/gen_client.py " + module
    for name in declared:
        want = inspect.signature(getattr(service_cls, name))
        got = inspect.signature(getattr(proto, name))
        assert [(p.name, p.kind, p.default, str(p.annotation)) for p in want.parameters.values()] == \
            [(p.name, p.kind, p.default, str(p.annotation)) for p in got.parameters.values()], name
        assert str(want.return_annotation) == str(got.return_annotation), name


def test_every_service_with_a_router_has_a_typed_client() -> None:
    routers = [m for m in SERVICE_MODULES if importlib.util.find_spec(f"aria_actors.{m}.api") is not None]
    assert set(routers) <= set(_with_clients())


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_no_lifecycle_method_is_declared(spec: ServiceSpec) -> None:
    declared = surface(load_service_class(spec))
    assert not set(declared) & LIFECYCLE
    for name, decl in declared.items():
        assert decl.public or decl.permission is None or decl.permission.count(":") == 2, name


SPEC = ServiceSpec(name="aria_fake", layer=1)


class Fake(Service):
    SPEC = SPEC

    async def health(self) -> Health:
        return Health(Status.READY)

    @rpc("storage:asset:write", scope="own")
    async def put(self, caller: Principal, name: str) -> str:
        return f"{caller.subject}:{name}"

    @rpc("storage:store:gc", scope="any")
    async def gc(self, caller: Principal) -> str:
        return "collected"

    @rpc(public=True)
    async def hello(self, caller: Principal) -> str:
        return "hi"

    async def undeclared(self, caller: Principal) -> str:
        return "should never run"


USER = Principal("u1", ("user",))
EDITOR = Principal("e1", ("editor",))
ADMIN = Principal("a1", ("admin",))


async def _call(method: str, *args: object, **kwargs: object) -> object:
    return await invoke(Fake(None), method, args, kwargs, Gate())  # type: ignore[arg-type]


async def test_undeclared_and_lifecycle_methods_are_not_callable() -> None:
    for method in ("undeclared", "start", "stop", "health", "prepare", "_private"):
        with pytest.raises(NotFound):
            await _call(method, ADMIN)


async def test_the_caller_needs_the_declared_permission() -> None:
    assert await _call("put", USER, "a") == "u1:a"  # storage:asset:write@own
    with pytest.raises(Forbidden):
        await _call("put", Principal("v1", ("viewer",)), "a")
    with pytest.raises(Forbidden):  # editor has storage:*:* in its tenant, not @any
        await _call("gc", EDITOR)
    assert await _call("gc", ADMIN) == "collected"
    assert await _call("hello", Principal.anonymous()) == "hi"
    with pytest.raises(Unauthorized):
        await _call("put", Principal.anonymous(), "a")


async def test_a_call_without_a_principal_or_with_wrong_arguments_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        await _call("put", {"sub": "a1", "roles": ["admin"]}, "a")  # claims are not a principal
    with pytest.raises(BadRequest):
        await _call("put", ADMIN, "a", "unexpected")
    with pytest.raises(BadRequest):
        await _call("put", ADMIN, nope=1)


def test_tokens_never_carry_the_internal_role() -> None:
    p = Principal.from_claims({"sub": "x", "roles": ["internal", "user"]})
    assert p.roles == ("user",) and not p.is_internal
    assert Principal.internal("aria_auth").is_internal


def test_rpc_methods_must_take_the_caller_first() -> None:
    with pytest.raises(TypeError):
        rpc("a:b:c")(lambda self, name: None)
    with pytest.raises(TypeError):
        async def start(self: object, caller: Principal) -> None: ...
        rpc("a:b:c")(start)


async def test_a_value_the_database_refuses_is_a_bad_request_not_a_500() -> None:
    import asyncpg

    from aria_actors.runtime.errors import UnstorableValue

    class Stores(Fake):
        @rpc("storage:asset:write", scope="own")
        async def save(self, caller: Principal, name: str) -> None:
            # what asyncpg raises for a NUL in a text parameter (SQLSTATE 22021)
            raise asyncpg.exceptions.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')

        @rpc("storage:asset:write", scope="own")
        async def broken(self, caller: Principal) -> None:
            raise asyncpg.exceptions.UndefinedTableError("relation does not exist")  # a bug: stays a 500

    with pytest.raises(UnstorableValue, match="0x00") as refused:
        await invoke(Stores(None), "save", (USER, "a\x00b"), {}, Gate())  # type: ignore[arg-type]
    assert refused.value.status == 400
    with pytest.raises(asyncpg.exceptions.UndefinedTableError):
        await invoke(Stores(None), "broken", (USER,), {}, Gate())  # type: ignore[arg-type]


async def test_a_lost_server_connection_is_a_503_not_a_500() -> None:
    import asyncpg

    from aria_actors.runtime.errors import ServiceUnavailable

    class Queues(Fake):
        @rpc("queue:job:write", scope="own")
        async def refused(self, caller: Principal) -> None:
            raise ConnectionRefusedError(111, "Connect call failed")  # the pool, while PostgreSQL restarts

        @rpc("queue:job:write", scope="own")
        async def dropped(self, caller: Principal) -> None:
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")

        @rpc("queue:job:write", scope="own")
        async def full(self, caller: Principal) -> None:
            raise asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")

        @rpc("queue:job:write", scope="own")
        async def missing(self, caller: Principal) -> None:
            raise FileNotFoundError("a bug, not an outage: stays a 500")

    for method in ("refused", "dropped"):
        with pytest.raises(ServiceUnavailable, match="lost a connection") as lost:
            await invoke(Queues(None), method, (USER,), {}, Gate())  # type: ignore[arg-type]
        assert lost.value.status == 503
    with pytest.raises(ServiceUnavailable, match="connection limit") as busy:
        await invoke(Queues(None), "full", (USER,), {}, Gate())  # type: ignore[arg-type]
    assert busy.value.status == 503 and busy.value.fields["retry_after_s"] == 5
    with pytest.raises(FileNotFoundError):
        await invoke(Queues(None), "missing", (USER,), {}, Gate())  # type: ignore[arg-type]


async def test_a_write_refused_by_row_level_security_is_a_403_not_a_500() -> None:
    import asyncpg

    from aria_actors.runtime.errors import Forbidden

    class Users(Fake):
        @rpc("queue:job:write", scope="own")
        async def create(self, caller: Principal) -> None:
            raise asyncpg.exceptions.InsufficientPrivilegeError(
                'new row violates row-level security policy for table "users"')

    with pytest.raises(Forbidden) as refused:
        await invoke(Users(None), "create", (USER,), {}, Gate())  # type: ignore[arg-type]
    assert refused.value.status == 403 and "users" not in refused.value.message
