"""In-process gateway apps for the feature tests: a real supervisor over small services (one of
which failed to start), routes that call them through the gateway's transport, and a client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from aria_actors.coordinate.config import CoordinateSettings
from aria_actors.coordinate.gateway import create_app
from aria_actors.coordinate.testing import LocalDirectory
from aria_actors.runtime.http import ServiceRouter, transport
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.supervisor import Supervisor
from aria_actors.runtime.testing import LocalLauncher
from tests.fixtures.services import diamond, spec

ME = Principal.internal("t_gateway")


def calls_router(prefix: str = "/v1/t") -> ServiceRouter:
    """Routes of the test services, as a service router would have them (``/v1/t/...``)."""
    router = ServiceRouter(prefix=prefix, tags=["t"])

    @router.get("/{service}/pid", summary="The pid of a test service")
    async def pid(service: str, request: Request) -> dict[str, Any]:
        return {"pid": await transport(request, service).call("pid", ME)}

    @router.get("/slow", summary="Answers after a while")
    async def slow(seconds: float = 10.0) -> dict[str, Any]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @router.get("/stream", summary="A stream slower than the deadline")
    async def stream(chunks: int = 3, gap: float = 0.05) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for i in range(chunks):
                await asyncio.sleep(gap)
                yield f"chunk{i};".encode()

        return StreamingResponse(body(), media_type="text/plain")

    @router.get("/boom", summary="A bug")
    async def boom() -> dict[str, Any]:
        raise RuntimeError("a bug in a handler")

    return router


class FlakyDirectory(LocalDirectory):
    """A LocalDirectory whose boot actor can be made unreachable (``reachable = False``)."""

    reachable = True

    async def status(self) -> dict[str, Any]:
        if not self.reachable:
            from aria_actors.runtime.errors import ServiceUnavailable  # local: only this double needs it

            raise ServiceUnavailable("the boot actor is restarting; retry shortly")
        return await super().status()

    async def service(self, name: str) -> dict[str, Any]:
        await self.status()  # unreachable -> the same error
        return await super().service(name)


async def directory() -> FlakyDirectory:
    sup = Supervisor([*diamond(), spec("t_broken", 1, cls="FailingStartService")], LocalLauncher())
    await sup.boot()
    return FlakyDirectory(sup)


def build(directory: LocalDirectory, require_auth: bool = False, **settings: Any) -> FastAPI:
    app = create_app(directory, require_auth=require_auth, settings=CoordinateSettings(**settings))
    app.include_router(calls_router())
    app.state.routes_changed()
    return app


@asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport_ = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport_, base_url="http://t") as http:
        yield http
