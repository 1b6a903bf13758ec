"""Typed client of aria_storage: its declared RPC surface (generated from the service).

Callers get one with ``deps.of(StorageClient)``, ``Depends(service_client(StorageClient))`` or
``bind(StorageClient, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py storage
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("aria_storage")
class StorageClient:
    @rpc("storage:store:lifecycle", scope="any", job=True, feature="lifecycle")
    async def apply_lifecycle(
        self,
        caller: Principal,
        *,
        name: str | None = None,
        keep_last: int | None = None,
        older_than_s: float | None = None,
        dry_run: bool = False,
    ) -> dict[str, list[int]]:
        """Delete old versions of ``name`` (default every asset) by count and/or age, or by stored rules."""

    @rpc("storage:store:lifecycle", scope="any", feature="lifecycle")
    async def delete_lifecycle_rule(self, caller: Principal, name_prefix: str) -> None:
        ...

    @rpc("storage:asset:delete", scope="own", feature="versions")
    async def delete_version(self, caller: Principal, name: str, version: int) -> None:
        """Forget a version: one the caller uploaded itself, or any with storage:asset:delete beyond..."""

    @rpc("storage:store:path", scope="any", feature="desync-dedupe")
    async def extract(
        self,
        caller: Principal,
        name: str,
        out: str,
        *,
        version: int | None = None,
        seed: str | None = None,
    ) -> dict[str, Any]:
        """Write a version to ``out`` (on the service's node), reusing chunks found in ``seed``."""

    @rpc("storage:store:gc", scope="any", job=True, feature="gc")
    async def gc(
        self,
        caller: Principal,
        grace_s: float | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        ...

    @rpc("storage:asset:read", features=("cas", "cdn"))
    async def get(self, caller: Principal, name: str, version: int | None = None) -> bytes:
        ...

    @rpc("storage:asset:read", feature="desync-dedupe")
    async def index(self, caller: Principal, name: str, version: int | None = None) -> bytes:
        """The version's ``.caibx`` (for desync/casync clients)."""

    @rpc("storage:asset:read", feature="versions")
    async def info(self, caller: Principal, name: str, version: int | None = None) -> dict[str, Any]:
        ...

    @rpc("storage:store:read", feature="lifecycle")
    async def lifecycle_rules(self, caller: Principal) -> list[dict[str, Any]]:
        ...

    @rpc(
        "storage:asset:write",
        scope="own",
        features=("cas", "desync-dedupe", "compression", "versions", "s3", "sftp"),
    )
    async def put(
        self,
        caller: Principal,
        name: str,
        data: bytes | None = None,
        *,
        path: str | None = None,
        content_type: str = 'application/octet-stream',
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Store ``data`` (or the file at ``path``) as the next version of ``name``."""

    @rpc("storage:asset:read", features=("cas", "cdn", "s3", "sftp"))
    async def read_range(
        self,
        caller: Principal,
        name: str,
        start: int,
        end: int,
        version: int | None = None,
    ) -> bytes:
        """Bytes ``[start, end)`` of a version, fetching only the chunks that overlap them."""

    @rpc("storage:asset:list", feature="metadata-search")
    async def search(
        self,
        caller: Principal,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        name_prefix: str | None = None,
        content_type: str | None = None,
        latest_only: bool = False,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        ...

    @rpc("storage:store:lifecycle", scope="any", feature="lifecycle")
    async def set_lifecycle_rule(
        self,
        caller: Principal,
        name_prefix: str,
        *,
        keep_last: int | None = None,
        older_than_s: float | None = None,
    ) -> dict[str, Any]:
        """Store a rule for assets whose name starts with ``name_prefix`` ("" = all)."""

    @rpc("storage:store:read", features=("desync-dedupe", "compression"))
    async def stats(self, caller: Principal) -> dict[str, Any]:
        ...

    @rpc("storage:store:sync", scope="any", job=True, features=("sync", "s3", "sftp"))
    async def sync(self, caller: Principal, target: str) -> dict[str, Any]:
        """Copy the live chunks that the configured sync target named ``target`` lacks."""

    @rpc("storage:store:read", feature="sync")
    async def sync_targets(self, caller: Principal) -> list[str]:
        """The names ``sync`` accepts (the operator's ``ARIA_STORAGE_SYNC_TARGETS``)."""

    @rpc("storage:asset:write", scope="own")
    async def upload_abort(self, caller: Principal, upload_id: str) -> None:
        """Drop this caller's upload; an unknown, finished or another caller's id is left alone."""

    @rpc("storage:asset:write", scope="own")
    async def upload_begin(self, caller: Principal) -> str:
        """Start a streamed upload; returns its id for upload_part / upload_commit (this caller's only)."""

    @rpc(
        "storage:asset:write",
        scope="own",
        features=("cas", "desync-dedupe", "compression", "versions", "s3", "sftp"),
    )
    async def upload_commit(
        self,
        caller: Principal,
        upload_id: str,
        name: str,
        *,
        content_type: str = 'application/octet-stream',
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Chunk the uploaded file into the store as the next version of ``name`` (as ``put``)."""

    @rpc("storage:asset:write", scope="own")
    async def upload_part(self, caller: Principal, upload_id: str, data: bytes) -> int:
        """Append ``data``; returns the upload's size so far."""

    @rpc("storage:store:verify", scope="any", job=True, feature="cas")
    async def verify(self, caller: Principal, quarantine: bool = False) -> dict[str, Any]:
        ...

    @rpc("storage:asset:list", feature="versions")
    async def versions(self, caller: Principal, name: str) -> list[dict[str, Any]]:
        ...
