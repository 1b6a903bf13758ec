"""HTTP clients of the gateway. Problem+json errors come back as the same AriaError classes."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import httpx

from aria_actors.runtime.errors import PROBLEM_BASE, AriaError, ServiceUnavailable, error_class_for
from aria_actors.sdk.models import Health, ServiceInfo, ServicesStatus
from aria_actors.sdk.section import Req, request_kwargs
from aria_actors.sdk.sections import (
    SECTIONS,
    AuthAPI,
    DataAPI,
    DebuggerAPI,
    EngineAPI,
    InterfaceAPI,
    InterpretAPI,
    MonitorAPI,
    QueueAPI,
    SecurityAPI,
    ShapeAPI,
    StorageAPI,
    TuneAPI,
    WorkflowAPI,
)


class Unreachable(ServiceUnavailable):
    """The Aria gateway did not answer; check the URL and that `aria up` is running."""

    type = "unreachable"


def _auth_headers(token: str | None) -> dict[str, str]:
    """Bearer header from ``token``, else ``$ARIA_TOKEN`` (`aria env` / `aria token` print one)."""
    token = token or os.environ.get("ARIA_TOKEN")
    return {"authorization": f"Bearer {token}"} if token else {}


def _raise_for_problem(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        doc = response.json()
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):  # not a problem document
        doc = {}
    slug = str(doc.get("type", "")).removeprefix(PROBLEM_BASE) or "internal"
    cls = error_class_for(slug)
    detail = doc.get("detail") or f"HTTP {response.status_code} from {response.request.url}"
    extra = {k: v for k, v in doc.items() if k not in ("type", "title", "detail", "status")}
    error = cls(detail, **extra)
    error.http_status = response.status_code  # type: ignore[attr-defined]
    error.remote_title = doc.get("title") or error.title  # type: ignore[attr-defined]
    raise error


def _answer(response: httpx.Response, req: Req) -> Any:
    """A section call's result: the decoded JSON (None when empty), or the bytes when ``raw``."""
    if response.status_code not in req.accept:
        _raise_for_problem(response)
    if req.raw:
        return response.content
    return response.json() if response.content else None


class _Sections:
    """One typed section per built service (made in ``__init__`` from ``SECTIONS``)."""

    security: SecurityAPI
    data: DataAPI
    auth: AuthAPI
    storage: StorageAPI
    queue: QueueAPI
    shape: ShapeAPI
    engine: EngineAPI
    interpret: InterpretAPI
    workflow: WorkflowAPI
    interface: InterfaceAPI
    monitor: MonitorAPI
    debugger: DebuggerAPI
    tune: TuneAPI


class AriaClient(_Sections):
    """Synchronous client: ``AriaClient("http://127.0.0.1:8000").services()``.

    Each built service has a typed section: ``aria.engine.plan(...)``, ``aria.storage.put(...)``.
    """

    def __init__(self, url: str = "http://127.0.0.1:8000", timeout: float = 10.0,
                 token: str | None = None, http: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        # `http` lets tests put a FastAPI TestClient (an httpx.Client) under the SDK.
        self._http = http or httpx.Client(base_url=self.url, timeout=timeout, headers=_auth_headers(token))
        for name, section in SECTIONS.items():
            setattr(self, name, section(self._send))

    def _send(self, method: str, path: str, req: Req) -> Any:
        try:
            response = self._http.request(method, path, **request_kwargs(req))
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach Aria at {self.url}: {exc}", url=self.url) from None
        return _answer(response, req)

    @classmethod
    def from_cluster(cls, namespace: str = "aria", **kwargs: Any) -> AriaClient:
        """The client of the Aria running in the Ray cluster this process is connected to.

        For Ray jobs: ``ray.init()`` first, then this asks the boot actor where the gateway is.
        """
        import ray  # ray: the SDK is Ray-free over HTTP; only from_cluster, in a Ray driver, needs Ray

        from aria_actors.runtime.boot import BOOT_ACTOR

        try:
            boot = ray.get_actor(BOOT_ACTOR, namespace=namespace)
        except ValueError:
            raise Unreachable(f"no {BOOT_ACTOR} in Ray namespace {namespace!r}; is Aria up?") from None
        return cls(ray.get(boot.endpoints.remote())["gateway_url"], **kwargs)

    def get_json(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def request(self, method: str, path: str, **kw: Any) -> Any:
        """Any gateway route: the decoded JSON body (None when empty); problems raise AriaErrors."""
        try:
            response = self._http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach Aria at {self.url}: {exc}", url=self.url) from None
        _raise_for_problem(response)
        return response.json() if response.content else None

    def health(self) -> Health:
        try:
            response = self._http.get("/health")
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach Aria at {self.url}: {exc}", url=self.url) from None
        if response.status_code == 503 and "json" in response.headers.get("content-type", ""):
            return Health.model_validate(response.json())  # the gateway answers; the system is not up
        _raise_for_problem(response)
        return Health.model_validate(response.json())

    def services(self) -> ServicesStatus:
        return ServicesStatus.model_validate(self.get_json("/v1/services"))

    def service(self, name: str) -> ServiceInfo:
        return ServiceInfo.model_validate(self.get_json(f"/v1/services/{quote(name, safe='')}"))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AriaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncAriaClient(_Sections):
    """Asynchronous twin of :class:`AriaClient`: the same sections, each method awaitable."""

    def __init__(self, url: str = "http://127.0.0.1:8000", timeout: float = 10.0,
                 token: str | None = None, transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = _auth_headers(token)
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout, headers=headers,
                                       transport=transport)
        for name, section in SECTIONS.items():
            setattr(self, name, section(self._send))

    async def _send(self, method: str, path: str, req: Req) -> Any:
        try:
            response = await self._http.request(method, path, **request_kwargs(req))
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach Aria at {self.url}: {exc}", url=self.url) from None
        return _answer(response, req)

    async def get_json(self, path: str, **params: Any) -> Any:
        try:
            response = await self._http.get(path, params=params or None)
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach Aria at {self.url}: {exc}", url=self.url) from None
        _raise_for_problem(response)
        return response.json()

    async def services(self) -> ServicesStatus:
        return ServicesStatus.model_validate(await self.get_json("/v1/services"))

    async def service(self, name: str) -> ServiceInfo:
        return ServiceInfo.model_validate(await self.get_json(f"/v1/services/{quote(name, safe='')}"))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncAriaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = ["AriaClient", "AriaError", "AsyncAriaClient", "Unreachable"]
