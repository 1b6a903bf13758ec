"""REST surface of aria_tune's cache proposals under ``/v1/tune/caches`` (cacheopt.py says what the
answers mean); thin: validates, then calls the service.

``GET /v1/tune/caches``: every service's caches with counters, hit-ratio curve and proposed size.
``GET /v1/tune/caches/{name}``: one, with a finer curve (404 for an unknown name).
``POST /v1/tune/caches/{name}/resize {size}``: administrators; audited; a cache resizable at
runtime only (409 naming the setting otherwise).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal
from aria_actors.tune.cacheopt import CACHE_NAME, MAX_SIZE
from aria_actors.tune.client import TuneClient

router = ServiceRouter(prefix="/v1/tune", tags=["tune"])
Client = Annotated[TuneClient, Depends(service_client(TuneClient))]
CacheName = Annotated[str, Path(pattern=CACHE_NAME, description="A cache's name (GET /v1/tune/caches).")]


class ResizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(ge=1, le=MAX_SIZE, description="The new capacity, in the cache's unit.")


@router.get("/caches", summary="Every service's caches: hit ratios, LRU curves and proposed sizes")
async def list_caches(client: Client, caller: Principal = permits(TuneClient.list_caches)) -> dict[str, Any]:
    return await client.list_caches(caller)


@router.get("/caches/{name}", summary="One cache's hit ratios, finer curve and proposed size")
async def get_cache(name: CacheName, client: Client,
                    caller: Principal = permits(TuneClient.get_cache)) -> dict[str, Any]:
    return await client.get_cache(caller, name)


@router.post("/caches/{name}/resize", summary="Set a cache's capacity in its process (administrators; audited)")
async def resize_cache(name: CacheName, req: ResizeRequest, client: Client,
                       caller: Principal = permits(TuneClient.resize_cache)) -> dict[str, Any]:
    return await client.resize_cache(caller, name, req.size)
