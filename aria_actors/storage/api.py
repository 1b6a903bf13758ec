"""HTTP surface of aria_storage under ``/v1/storage`` (thin: validate, call the service as the caller).

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
    POST   /gc | /verify ; GET /stats
    POST   /sync                           {"target": "<name>"}: one of the operator's sync targets
    GET    /sync/targets                   their names

Each route declares the RPC method it fronts (``permits``); the service checks the caller again,
and checks ownership of the asset where the permission is ``@own`` (and the names a caller may
write: ``storage.names``).

Text that Postgres cannot store, or that has no business in a name, is a 422 here, before the
service runs: control characters in names, tags, content types and prefixes (``pattern``), and NUL,
lone surrogates or NaN at any depth of metadata (``X-Aria-Metadata`` or a search's ``metadata``).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal
from aria_actors.storage.client import StorageClient
from aria_actors.storage.config import SYNC_TARGET_NAME
from aria_actors.storage.names import TEXT_PATTERN, json_problem

router = ServiceRouter(prefix="/v1/storage", tags=["storage"])
Client = Annotated[StorageClient, Depends(service_client(StorageClient))]
AssetName = Annotated[str, Path(min_length=1, max_length=512, pattern=TEXT_PATTERN)]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
Tag = Annotated[str, Field(min_length=1, max_length=128, pattern=TEXT_PATTERN)]
ContentType = Annotated[str, Field(min_length=1, max_length=255, pattern=TEXT_PATTERN)]
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
PART = 8 * 1024 * 1024
MAX_METADATA = 64 * 1024  # bytes of X-Aria-Metadata
MAX_TAGS = 64


def _invalid(loc: tuple[str, ...], msg: str) -> RequestValidationError:
    """A 422 like FastAPI's own, for what is checked after parsing (a JSON header, a raw header)."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg}])


def _metadata(header: str | None) -> dict[str, Any]:
    if not header:
        return {}
    if len(header) > MAX_METADATA:
        raise BadRequest(f"X-Aria-Metadata is longer than {MAX_METADATA} bytes", field="X-Aria-Metadata")
    try:
        metadata = json.loads(header)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"X-Aria-Metadata is not JSON: {exc}", field="X-Aria-Metadata") from exc
    if not isinstance(metadata, dict):
        raise BadRequest("X-Aria-Metadata must be a JSON object", field="X-Aria-Metadata")
    problem = json_problem(metadata)
    if problem:
        raise _invalid(("header", "X-Aria-Metadata"), problem)
    return metadata


def _tags(text: str) -> list[str]:
    tags = [t for t in text.split(",") if t]
    if len(tags) > MAX_TAGS or any(len(t) > 128 for t in tags):
        raise BadRequest(f"at most {MAX_TAGS} tags of at most 128 characters", field="tags")
    return tags


@router.put("/assets/{name:path}", summary="Store the body as the next version of an asset")
async def put_asset(client: Client, name: AssetName, request: Request,
                    content_type: str | None = Query(None, max_length=255, pattern=TEXT_PATTERN),
                    tags: str = Query("", max_length=8192, pattern=TEXT_PATTERN,
                                      description="comma-separated"),
                    x_aria_metadata: str | None = Header(None),
                    caller: Principal = permits(StorageClient.upload_commit)) -> dict[str, Any]:
    metadata = _metadata(x_aria_metadata)
    tag_list = _tags(tags)
    ctype = content_type or request.headers.get("content-type") or "application/octet-stream"
    if len(ctype) > 255:
        raise BadRequest("content type is longer than 255 characters", field="content_type")
    if not re.fullmatch(TEXT_PATTERN, ctype):  # a header's obs-text (0x80-0x9f) reads as C1 controls
        raise _invalid(("header", "content-type"), "must not contain control characters")
    # Streamed to the service in parts of at most PART bytes: no whole asset in gateway memory.
    upload = await client.upload_begin(caller)
    try:
        buf = bytearray()
        async for piece in request.stream():
            buf += piece
            if len(buf) >= PART:
                await client.upload_part(caller, upload, bytes(buf))
                buf.clear()
        if buf:
            await client.upload_part(caller, upload, bytes(buf))
    except BaseException:
        await client.upload_abort(caller, upload)
        raise
    return await client.upload_commit(caller, upload, name, content_type=ctype, metadata=metadata,
                                      tags=tag_list)


@router.get("/assets/{name:path}/content", summary="An asset's bytes (Range requests: 206)")
async def get_content(client: Client, name: AssetName,
                      version: int | None = Query(None, ge=1, le=2**31 - 1),
                      range_: str | None = Header(None, alias="Range", max_length=100),
                      caller: Principal = permits(StorageClient.read_range)) -> Response:
    info = await client.info(caller, name, version)
    # Header values are latin-1: the name is percent-encoded so any asset name makes a valid ETag.
    etag = quote(f"{info['name']}@{info['version']}", safe="/@")
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{etag}"'}
    # A content type stored before types were checked may not fit a header either.
    media_type = info["content_type"] if str(info["content_type"]).isascii() else "application/octet-stream"
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
        data = await client.read_range(caller, name, start, end, info["version"])
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        return Response(data, status_code=206, media_type=media_type, headers=headers)
    size, version = info["size"], info["version"]

    async def body():
        for offset in range(0, size, PART):  # one window at a time: bounded gateway memory
            yield await client.read_range(caller, name, offset, min(offset + PART, size), version)

    headers["Content-Length"] = str(size)
    return StreamingResponse(body(), media_type=media_type, headers=headers)


@router.get("/assets/{name:path}/index", summary="A version's .caibx index (desync/casync)")
async def get_index(client: Client, name: AssetName, version: int | None = Query(None, ge=1, le=2**31 - 1),
                    caller: Principal = permits(StorageClient.index)) -> Response:
    return Response(await client.index(caller, name, version), media_type="application/octet-stream")


@router.get("/assets/{name:path}/versions/{version}", summary="One version's info")
async def get_version(client: Client, name: AssetName, version: Version,
                      caller: Principal = permits(StorageClient.info)) -> dict[str, Any]:
    return await client.info(caller, name, version)


@router.delete("/assets/{name:path}/versions/{version}", status_code=204,
               summary="Delete a version (its owner, or storage:asset:delete beyond @own)")
async def delete_version(client: Client, name: AssetName, version: Version,
                         caller: Principal = permits(StorageClient.delete_version)) -> Response:
    await client.delete_version(caller, name, version)
    return Response(status_code=204)


@router.get("/assets/{name:path}", summary="The versions of an asset")
async def list_versions(client: Client, name: AssetName,
                        caller: Principal = permits(StorageClient.versions)) -> list[dict[str, Any]]:
    return await client.versions(caller, name)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, Any] | None = Field(None, description="Containment: versions whose metadata "
                                            "includes these keys and values.")
    tags: list[Tag] | None = Field(None, max_length=MAX_TAGS)
    name_prefix: str | None = Field(None, max_length=512, pattern=TEXT_PATTERN)
    content_type: ContentType | None = None
    latest_only: bool = False
    limit: int = Field(100, ge=1, le=1000)

    @field_validator("metadata")
    @classmethod
    def _storable(cls, metadata: dict[str, Any] | None) -> dict[str, Any] | None:
        problem = json_problem(metadata)
        if problem:
            raise ValueError(problem)
        return metadata


@router.post("/search", summary="Versions by metadata, tags, name prefix, content type")
async def search(client: Client, req: SearchRequest,
                 caller: Principal = permits(StorageClient.search)) -> list[dict[str, Any]]:
    return await client.search(caller, **req.model_dump())


class LifecycleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=512, pattern=TEXT_PATTERN)
    keep_last: int | None = Field(None, ge=1, le=2**31 - 1)
    older_than_s: float | None = Field(None, ge=0, le=1e10)
    dry_run: bool = False


@router.post("/lifecycle", summary="Delete old versions by count/age, or by the stored rules")
async def lifecycle(client: Client, req: LifecycleRequest,
                    caller: Principal = permits(StorageClient.apply_lifecycle)) -> dict[str, list[int]]:
    return await client.apply_lifecycle(caller, **req.model_dump())


class RuleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_prefix: str = Field("", max_length=512, pattern=TEXT_PATTERN,
                             description='"" applies to every asset')
    keep_last: int | None = Field(None, ge=1, le=2**31 - 1)
    older_than_s: float | None = Field(None, ge=0, le=1e10)


@router.get("/lifecycle/rules", summary="Stored lifecycle rules")
async def lifecycle_rules(client: Client,
                          caller: Principal = permits(StorageClient.lifecycle_rules)) -> list[dict[str, Any]]:
    return await client.lifecycle_rules(caller)


@router.post("/lifecycle/rules", summary="Store a lifecycle rule for a name prefix")
async def set_lifecycle_rule(client: Client, req: RuleRequest,
                             caller: Principal = permits(StorageClient.set_lifecycle_rule)) -> dict[str, Any]:
    return await client.set_lifecycle_rule(caller, req.name_prefix, keep_last=req.keep_last,
                                           older_than_s=req.older_than_s)


@router.delete("/lifecycle/rules", status_code=204, summary="Delete the lifecycle rule of a name prefix")
async def delete_lifecycle_rule(client: Client,
                                name_prefix: str = Query("", max_length=512, pattern=TEXT_PATTERN),
                                caller: Principal = permits(StorageClient.delete_lifecycle_rule)) -> Response:
    await client.delete_lifecycle_rule(caller, name_prefix)
    return Response(status_code=204)


class GcRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_s: float | None = Field(None, ge=0, le=1e10)
    dry_run: bool = False


@router.post("/gc", summary="Remove chunks no version uses (operator)")
async def gc(client: Client, req: GcRequest, caller: Principal = permits(StorageClient.gc)) -> dict[str, Any]:
    return await client.gc(caller, req.grace_s, req.dry_run)


@router.post("/verify", summary="Re-hash every chunk of the store (operator)")
async def verify(client: Client, quarantine: bool = Query(False),
                 caller: Principal = permits(StorageClient.verify)) -> dict[str, Any]:
    return await client.verify(caller, quarantine)


class SyncRequest(BaseModel):
    """A sync names one of the operator's configured targets; paths and URLs are refused here."""

    model_config = ConfigDict(extra="forbid")

    target: str = Field(pattern=f"^{SYNC_TARGET_NAME.pattern}$",
                        description="Name of a configured sync target (GET /v1/storage/sync/targets).")


@router.post("/sync", summary="Copy live chunks to a configured sync target (operator)")
async def sync(client: Client, req: SyncRequest, caller: Principal = permits(StorageClient.sync)) -> dict[str, Any]:
    return await client.sync(caller, req.target)


@router.get("/sync/targets", summary="Names of the configured sync targets")
async def sync_targets(client: Client, caller: Principal = permits(StorageClient.sync_targets)) -> list[str]:
    return await client.sync_targets(caller)


@router.get("/stats", summary="Logical and stored bytes, dedupe and compression ratios")
async def stats(client: Client, caller: Principal = permits(StorageClient.stats)) -> dict[str, Any]:
    return await client.stats(caller)
