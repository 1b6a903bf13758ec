"""The declared RPC surface of a service, and the one check every call through it meets.

A service method is callable from outside its process only when it is declared::

    @rpc("storage:asset:write", scope="own", job=True)
    async def put(self, caller: Principal, name: str, data: bytes) -> dict[str, Any]: ...

- ``permission`` is the RBAC action (``service:resource:verb``) the caller needs; ``scope`` says
  which of the role table's scopes can grant it here: ``"tenant"`` (the default: a ``@tenant``
  or ``@any`` permission), ``"own"`` (the caller's own things: ``@own`` grants it too; the method
  then checks the record it touches with :meth:`Gate.require`), ``"any"`` (across tenants: only an
  ``@any`` permission grants it; what admin and operator tools need).
- ``public=True`` needs no permission and no token (a login); ``permission=None`` with
  ``public=False`` admits any authenticated caller (the method decides on the record itself).
- ``job=True`` lets a queue job (``service:<svc>.<method>``) call it, as its enqueuer.
- ``feature="sessions"`` (or ``features=("a", "b")``) names the seed features of the service's
  ``SPEC.features`` the method serves. A feature counts as built only when a method carrying it
  is fronted by a gateway route that the CLI calls (``tests/unit/test_reachability.py``).
- The first argument after ``self`` is always the caller's :class:`Principal`.

Lifecycle methods (``start``, ``stop``, ``prepare``, ``health``) and undeclared methods are never
callable through :func:`invoke`; the check is deny by default.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from aria_actors.runtime.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    UnstorableValue,
)
from aria_actors.runtime.principal import Principal
from aria_actors.security.rbac import Authorizer, default_roles

Scope = Literal["tenant", "own", "any"]
F = TypeVar("F", bound=Callable[..., Any])
P = TypeVar("P")
LIFECYCLE = frozenset({"start", "stop", "prepare", "health", "on_dependency_change"})
_OTHER_TENANT = "\x00another-tenant"  # no tenant is named this: only @any permissions match it
_FEATURE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class RpcSpec:
    name: str
    permission: str | None
    scope: Scope = "tenant"
    job: bool = False
    public: bool = False
    features: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.public:
            return "public"
        if self.permission is None:
            return "authenticated"
        return self.permission + ("" if self.scope == "tenant" else f"@{self.scope}")


def rpc(permission: str | None = None, *, scope: Scope = "tenant", job: bool = False,
        public: bool = False, feature: str | None = None,
        features: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Declare a method part of the service's RPC surface (see the module docstring)."""
    if feature is not None and features:
        raise TypeError("give feature= or features=, not both")
    served = (feature,) if feature is not None else tuple(features)
    for name in served:
        if not isinstance(name, str) or not _FEATURE.fullmatch(name):
            raise TypeError(f"{name!r} is not a feature name (lowercase words joined by '-')")
    if len(set(served)) != len(served):
        raise TypeError(f"features repeat a name: {served}")

    def mark(fn: F) -> F:
        if fn.__name__ in LIFECYCLE or fn.__name__.startswith("_"):
            raise TypeError(f"{fn.__name__} cannot be an RPC method")
        params = list(inspect.signature(fn).parameters)
        if params[:2] != ["self", "caller"]:
            raise TypeError(f"{fn.__qualname__}: an RPC method takes (self, caller: Principal, ...)")
        fn.__aria_rpc__ = RpcSpec(fn.__name__, permission, scope, job, public, served)  # type: ignore[attr-defined]
        return fn

    return mark


def rpc_spec(fn: Any) -> RpcSpec | None:
    return getattr(fn, "__aria_rpc__", None)


@functools.cache
def surface(cls: type) -> Mapping[str, RpcSpec]:
    """Every declared RPC method of a service class, by name."""
    out = {}
    for name in dir(cls):
        spec = rpc_spec(getattr(cls, name, None))
        if spec is not None:
            out[name] = spec
    return out


@functools.cache
def client_methods(proto: type) -> frozenset[str]:
    """The methods a typed-client class declares (its stubs mirror the service's RPC surface)."""
    return frozenset(name for cls in proto.__mro__ if cls is not object
                     for name, member in vars(cls).items()
                     if not name.startswith("_") and inspect.isfunction(member))


@functools.cache
def spec_of(proto: type, method: str) -> RpcSpec:
    """The declaration behind ``proto.method``, read from the typed client (no service import)."""
    declared = surface(proto)
    if method not in declared:
        raise TypeError(f"{proto.__name__}.{method} is not a declared RPC method of {service_of(proto)}")
    return declared[method]


class Gate:
    """Decides whether a caller may use a declared method: aria_security's RBAC, in-process.

    The role table is the one aria_security serves (built-ins plus ``ARIA_SECURITY_ROLES``), so a
    decision needs no round trip and every door (HTTP, another service, a job) gets the same one.
    """

    def __init__(self, roles: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.authorizer = Authorizer(dict(roles) if roles is not None else default_roles())

    def check(self, spec: RpcSpec, caller: Any) -> None:
        """Raise 401/403 unless ``caller`` may call ``spec`` at all."""
        if spec.public:
            return
        if not isinstance(caller, Principal):
            raise BadRequest("the first argument of an RPC call must be the caller's Principal")
        if not caller.authenticated:
            raise Unauthorized("send 'Authorization: Bearer <token>' (POST /v1/auth/login gives one)")
        if spec.permission is None:
            return
        if spec.scope == "any":
            resource = {"tenant": _OTHER_TENANT}
        elif spec.scope == "own":
            resource = {"owner": caller.subject, "tenant": caller.tenant}
        else:
            resource = {"tenant": caller.tenant}
        self.require(caller, spec.permission, resource)

    def allowed(self, caller: Principal, action: str, resource: Mapping[str, Any] | None = None) -> bool:
        return self.authorizer.decide(caller.as_claims(), action, dict(resource or {})).allowed

    def require(self, caller: Principal, action: str, resource: Mapping[str, Any] | None = None) -> None:
        """Raise 403 unless ``caller`` may do ``action`` on ``resource`` (owner, tenant)."""
        if not self.allowed(caller, action, resource):
            raise Forbidden(f"{caller.subject!r} may not {action}", action=action)


_installed: Gate | None = None


def install_gate(gate: Gate) -> None:
    """Make ``gate`` this process's :func:`default_gate` (a service process: built from the
    settings the boot handed it, so every process decides with the same table)."""
    global _installed
    _installed = gate
    default_gate.cache_clear()


@functools.cache
def default_gate() -> Gate:
    """The gate of record-level checks inside services; without one installed, the role table of
    this process's own settings."""
    return _installed or Gate()


async def invoke(service: Any, method: str, args: tuple, kwargs: dict, gate: Gate | None = None) -> Any:
    """Call a declared method as ``args[0]`` (the caller), after the permission check."""
    fn = getattr(type(service), method, None) if not method.startswith("_") else None
    spec = rpc_spec(fn)
    if spec is None:
        raise NotFound(f"{service.spec.name} has no RPC method {method!r}", method=method)
    caller = args[0] if args else None
    (gate or default_gate()).check(spec, caller)
    bound = getattr(service, method)
    func = getattr(bound, "__func__", None)
    try:  # the method's signature, read once per function: this runs on every call
        if func is not None:
            _signature(func).bind(service, *args, **kwargs)
        else:
            inspect.signature(bound).bind(*args, **kwargs)
    except TypeError as exc:
        raise BadRequest(f"{service.spec.name}.{method}: {exc}", method=method) from None
    try:
        result = bound(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:
        mapped = _refused_value(exc) or _lost_server(exc, service.spec.name) or _row_refused(exc)
        if mapped is None:
            raise
        raise mapped from None
    return result


@functools.cache
def _signature(func: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(func)


def _refused_value(exc: Exception) -> UnstorableValue | None:
    """PostgreSQL's data exceptions (SQLSTATE class 22) say a caller's value does not fit its
    column: a 400 whatever service met it, not a 500. Detected without importing asyncpg."""
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is None or not isinstance(exc, asyncpg.exceptions.DataError):
        return None
    first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return UnstorableValue(f"the database refused a value of this request: {first}",
                           sqlstate=getattr(exc, "sqlstate", None))


def _row_refused(exc: Exception) -> Forbidden | None:
    """Row-level security refused a write (insufficient_privilege, 42501): the permission checks
    above it let through what the tenant policy does not. A 403, never a 500."""
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is None or not isinstance(exc, asyncpg.exceptions.InsufficientPrivilegeError):
        return None
    return Forbidden("the database refused this for the caller's tenant", sqlstate="42501")


def _lost_server(exc: Exception, service: str) -> ServiceUnavailable | None:
    """A server the service depends on (its PostgreSQL, OpenBao, a store) refused or dropped the
    connection: a 503 the caller may retry once the supervisor has repaired it, not a 500. Seen
    in tests/chaos: enqueueing while the embedded PostgreSQL restarts answered 500
    (ConnectionRefusedError from the pool). Detected without importing asyncpg."""
    lost: tuple[type[BaseException], ...] = (ConnectionError,)
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is not None:
        e = asyncpg.exceptions
        lost += (e.PostgresConnectionError, e.CannotConnectNowError, e.AdminShutdownError,
                 e.CrashShutdownError)
        # The server at its connection limit (SQLSTATE 53300; seen in the CI fuzz after queues were
        # scaled to many workers, each with its own pool): busy, not broken.
        if isinstance(exc, e.TooManyConnectionsError):
            return ServiceUnavailable(f"{service}'s database is at its connection limit ({str(exc)[:200]}); "
                                      "retry shortly", service=service, retry_after_s=5)
    if not isinstance(exc, lost):
        return None
    return ServiceUnavailable(f"{service} lost a connection it needs ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); retry shortly", service=service)


class _Client:
    """A typed client: ``client.put(caller, ...)`` becomes ``transport.call("put", caller, ...)``."""

    __slots__ = ("_methods", "_proto", "_transport", "name")

    def __init__(self, proto: type, transport: Any) -> None:
        self._proto = proto
        self._transport = transport
        self._methods = client_methods(proto)
        self.name = transport.name

    def __getattr__(self, method: str) -> Any:
        if method not in self._methods:
            raise AttributeError(f"{self._proto.__name__} has no RPC method {method!r}")
        return functools.partial(self._transport.call, method)

    def __repr__(self) -> str:
        return f"<{self._proto.__name__} over {type(self._transport).__name__}>"


def client_of(service: str) -> Callable[[type[P]], type[P]]:
    """Mark a typed-client class as the client of ``service`` (``Deps.of`` and routers find it)."""

    def mark(proto: type[P]) -> type[P]:
        proto.__aria_service__ = service  # type: ignore[attr-defined]
        return proto

    return mark


def bind(proto: type[P], transport: Any) -> P:
    """The typed client ``proto`` over ``transport`` (a Ray or in-process client of its service)."""
    return cast(P, _Client(proto, transport))


def service_of(proto: type) -> str:
    name = getattr(proto, "__aria_service__", None)
    if not name:
        raise TypeError(f"{proto.__name__} is not a typed client (no @client_of)")
    return name
