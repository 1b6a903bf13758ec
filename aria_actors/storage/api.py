"""HTTP surface of aria_storage under ``/v1/storage`` (thin: validate, call the service).

Routes::

    PUT    /assets/{name}                  body = the asset bytes (streamed to the service in 8 MiB
                                           parts); ?content_type&tags=a,b; metadata as JSON in the
                                           X-Aria-Metadata header -> version info
    GET    /assets/{name}                  versions of the asset
    GET    /assets/{name}/content          ?version; streamed in 8 MiB windows; honours
                                           `Range: bytes=a-b` (206) fetching only those chunks
    GET    /assets/{name}/index            the version's .caibx
    GET    /assets/{name}/versions/{v}     one version's info
    DELETE /assets/{name}/versions/{v}
    POST   /search                         {metadata, tags, name_prefix, content_type, latest_only}
    POST   /lifecycle                      {name, keep_last, older_than_s, dry_run}; without
                                           keep_last/older_than_s: apply the stored rules
    GET|POST|DELETE /lifecycle/rules       stored rules by name prefix
    POST   /gc | /verify | /sync ; GET /stats
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.http import service_client
from aria_actors.runtime.service import ServiceClient

router = APIRouter(prefix="/v1/storage", tags=["storage"])
Client = Depends(service_client("aria_storage"))
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
PART = 8 * 1024 * 1024


@router.put("/assets/{name:path}")
async def put_asset(name: str, request: Request, content_type: str | None = Query(None),
                    tags: str = Query("", description="comma-separated"),
                    x_aria_metadata: str | None = Header(None),
                    client: ServiceClient = Client) -> dict[str, Any]:
    try:
        metadata = json.loads(x_aria_metadata) if x_aria_metadata else {}
    except json.JSONDecodeError as exc:
        raise BadRequest(f"X-Aria-Metadata is not JSON: {exc}", field="X-Aria-Metadata") from exc
    if not isinstance(metadata, dict):
        raise BadRequest("X-Aria-Metadata must be a JSON object", field="X-Aria-Metadata")
    ctype = content_type or request.headers.get("content-type") or "application/octet-stream"
    # Streamed to the service in parts of at most PART bytes: no whole asset in gateway memory.
    upload = await client.call("upload_begin")
    try:
        buf = bytearray()
        async for piece in request.stream():
            buf += piece
            if len(buf) >= PART:
                await client.call("upload_part", upload, bytes(buf))
                buf.clear()
        if buf:
            await client.call("upload_part", upload, bytes(buf))
    except BaseException:
        await client.call("upload_abort", upload)
        raise
    return await client.call("upload_commit", upload, name, content_type=ctype, metadata=metadata,
                             tags=[t for t in tags.split(",") if t])


@router.get("/assets/{name:path}/content")
async def get_content(name: str, version: int | None = Query(None, ge=1),
                      range_: str | None = Header(None, alias="Range"),
                      client: ServiceClient = Client) -> Response:
    info = await client.call("info", name, version)
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{info["name"]}@{info["version"]}"'}
    if range_:
        m = _RANGE.match(range_.strip())
        size = info["size"]
        if not m or (not m.group(1) and not m.group(2)):
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        if m.group(1):
            start = int(m.group(1))
            end = int(m.group(2)) + 1 if m.group(2) else size
        else:  # suffix range: the last N bytes
            start, end = max(size - int(m.group(2)), 0), size
        end = min(end, size)
        if start >= size or start >= end:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        data = await client.call("read_range", name, start, end, info["version"])
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        return Response(data, status_code=206, media_type=info["content_type"], headers=headers)
    size, version = info["size"], info["version"]

    async def body():
        for offset in range(0, size, PART):  # one window at a time: bounded gateway memory
            yield await client.call("read_range", name, offset, min(offset + PART, size), version)

    headers["Content-Length"] = str(size)
    return StreamingResponse(body(), media_type=info["content_type"], headers=headers)


@router.get("/assets/{name:path}/index")
async def get_index(name: str, version: int | None = Query(None, ge=1),
                    client: ServiceClient = Client) -> Response:
    return Response(await client.call("index", name, version), media_type="application/octet-stream")


@router.get("/assets/{name:path}/versions/{version}")
async def get_version(name: str, version: int, client: ServiceClient = Client) -> dict[str, Any]:
    return await client.call("info", name, version)


@router.delete("/assets/{name:path}/versions/{version}", status_code=204)
async def delete_version(name: str, version: int, client: ServiceClient = Client) -> Response:
    await client.call("delete_version", name, version)
    return Response(status_code=204)


@router.get("/assets/{name:path}")
async def list_versions(name: str, client: ServiceClient = Client) -> list[dict[str, Any]]:
    return await client.call("versions", name)


class SearchRequest(BaseModel):
    model_config = {"extra": "forbid"}
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    name_prefix: str | None = None
    content_type: str | None = None
    latest_only: bool = False
    limit: int = Field(100, ge=1, le=1000)


@router.post("/search")
async def search(req: SearchRequest, client: ServiceClient = Client) -> list[dict[str, Any]]:
    return await client.call("search", **req.model_dump())


class LifecycleRequest(BaseModel):
    model_config = {"extra": "forbid"}
    name: str | None = None
    keep_last: int | None = Field(None, ge=1)
    older_than_s: float | None = Field(None, ge=0)
    dry_run: bool = False


@router.post("/lifecycle")
async def lifecycle(req: LifecycleRequest, client: ServiceClient = Client) -> dict[str, list[int]]:
    return await client.call("apply_lifecycle", **req.model_dump())


class RuleRequest(BaseModel):
    model_config = {"extra": "forbid"}
    name_prefix: str = Field("", max_length=512, description='"" applies to every asset')
    keep_last: int | None = Field(None, ge=1)
    older_than_s: float | None = Field(None, ge=0)


@router.get("/lifecycle/rules")
async def lifecycle_rules(client: ServiceClient = Client) -> list[dict[str, Any]]:
    return await client.call("lifecycle_rules")


@router.post("/lifecycle/rules")
async def set_lifecycle_rule(req: RuleRequest, client: ServiceClient = Client) -> dict[str, Any]:
    return await client.call("set_lifecycle_rule", req.name_prefix, keep_last=req.keep_last,
                             older_than_s=req.older_than_s)


@router.delete("/lifecycle/rules", status_code=204)
async def delete_lifecycle_rule(name_prefix: str = Query(""), client: ServiceClient = Client) -> Response:
    await client.call("delete_lifecycle_rule", name_prefix)
    return Response(status_code=204)


class GcRequest(BaseModel):
    model_config = {"extra": "forbid"}
    grace_s: float | None = Field(None, ge=0)
    dry_run: bool = False


@router.post("/gc")
async def gc(req: GcRequest, client: ServiceClient = Client) -> dict[str, Any]:
    return await client.call("gc", req.grace_s, req.dry_run)


@router.post("/verify")
async def verify(quarantine: bool = Query(False), client: ServiceClient = Client) -> dict[str, Any]:
    return await client.call("verify", quarantine)


class SyncRequest(BaseModel):
    model_config = {"extra": "forbid"}
    destination: str = Field(min_length=1)
    source: str | None = None


@router.post("/sync")
async def sync(req: SyncRequest, client: ServiceClient = Client) -> dict[str, Any]:
    return await client.call("sync", req.destination, req.source)


@router.get("/stats")
async def stats(client: ServiceClient = Client) -> dict[str, Any]:
    return await client.call("stats")
