"""Typed client of aria_storage: the signatures of its declared RPC methods (generated).

Callers get one with ``deps.of(StorageClient)``, ``Depends(service_client(StorageClient))`` or
``bind(StorageClient, transport)``; every method takes the caller's principal first. Regenerate with
``scripts/gen_client.py storage --write`` after changing the service's surface.
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of


@client_of("aria_storage")
class StorageClient:
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

    async def delete_lifecycle_rule(self, caller: Principal, name_prefix: str) -> None:
        ...

    async def delete_version(self, caller: Principal, name: str, version: int) -> None:
        """Forget a version (needs the asset's ownership, or storage:asset:delete beyond @own)."""

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

    async def gc(
        self,
        caller: Principal,
        grace_s: float | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        ...

    async def get(self, caller: Principal, name: str, version: int | None = None) -> bytes:
        ...

    async def index(self, caller: Principal, name: str, version: int | None = None) -> bytes:
        """The version's ``.caibx`` (for desync/casync clients)."""

    async def info(self, caller: Principal, name: str, version: int | None = None) -> dict[str, Any]:
        ...

    async def lifecycle_rules(self, caller: Principal) -> list[dict[str, Any]]:
        ...

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

    async def read_range(
        self,
        caller: Principal,
        name: str,
        start: int,
        end: int,
        version: int | None = None,
    ) -> bytes:
        """Bytes ``[start, end)`` of a version, fetching only the chunks that overlap them."""

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

    async def set_lifecycle_rule(
        self,
        caller: Principal,
        name_prefix: str,
        *,
        keep_last: int | None = None,
        older_than_s: float | None = None,
    ) -> dict[str, Any]:
        """Store a rule for assets whose name starts with ``name_prefix`` ("" = all)."""

    async def stats(self, caller: Principal) -> dict[str, Any]:
        ...

    async def sync(self, caller: Principal, target: str) -> dict[str, Any]:
        """Copy the live chunks that the configured sync target named ``target`` lacks."""

    async def sync_targets(self, caller: Principal) -> list[str]:
        """The names ``sync`` accepts (the operator's ``ARIA_STORAGE_SYNC_TARGETS``)."""

    async def upload_abort(self, caller: Principal, upload_id: str) -> None:
        """Drop this caller's upload; an unknown, finished or another caller's id is left alone."""

    async def upload_begin(self, caller: Principal) -> str:
        """Start a streamed upload; returns its id for upload_part / upload_commit (this caller's only)."""

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

    async def upload_part(self, caller: Principal, upload_id: str, data: bytes) -> int:
        """Append ``data``; returns the upload's size so far."""

    async def verify(self, caller: Principal, quarantine: bool = False) -> dict[str, Any]:
        ...

    async def versions(self, caller: Principal, name: str) -> list[dict[str, Any]]:
        ...
