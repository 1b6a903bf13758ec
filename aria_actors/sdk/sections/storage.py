"""``aria.storage``: versioned, deduplicated assets (``/v1/storage``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import aria_actors.storage.errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.sdk.section import Req, Section, route
from aria_actors.sdk.sections._util import body

ASSET = "/v1/storage/assets/{name:path}"


class StorageAPI(Section):
    @route("PUT", ASSET)
    def put(self, name: str, data: bytes | Iterable[bytes], *, content_type: str | None = None,
            tags: Iterable[str] = (), metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Store ``data`` (bytes, or an iterable of bytes sent as it is read) as the asset's next
        version; returns its version info."""
        headers = {"x-aria-metadata": json.dumps(metadata)} if metadata else None
        return Req(path={"name": name}, content=data, headers=headers,
                   params={"content_type": content_type, "tags": ",".join(tags) or None})

    @route("GET", ASSET + "/content")
    def get(self, name: str, version: int | None = None) -> bytes:
        """The bytes of the latest (or the given) version."""
        return Req(path={"name": name}, params={"version": version}, raw=True)

    @route("GET", ASSET + "/content")
    def read_range(self, name: str, start: int, end: int, version: int | None = None) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive) of the latest (or the given) version."""
        if not 0 <= start < end:
            raise ValueError(f"need 0 <= start < end, got {start}, {end}")
        return Req(path={"name": name}, params={"version": version},
                   headers={"range": f"bytes={start}-{end - 1}"}, raw=True)

    @route("GET", ASSET + "/index")
    def index(self, name: str, version: int | None = None) -> bytes:
        """The version's chunk index (a .caibx)."""
        return Req(path={"name": name}, params={"version": version}, raw=True)

    @route("GET", ASSET + "/versions/{version}")
    def info(self, name: str, version: int) -> dict[str, Any]:
        """One version's info."""
        return Req(path={"name": name, "version": version})

    @route("DELETE", ASSET + "/versions/{version}")
    def delete_version(self, name: str, version: int) -> None:
        return Req(path={"name": name, "version": version})

    @route("GET", ASSET)
    def versions(self, name: str) -> list[dict[str, Any]]:
        """Every version of the asset."""
        return Req(path={"name": name})

    @route("POST", "/v1/storage/search")
    def search(self, *, metadata: dict[str, Any] | None = None, tags: list[str] | None = None,
               name_prefix: str | None = None, content_type: str | None = None,
               latest_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        """Versions matching every filter given."""
        return Req(json=body(metadata=metadata, tags=tags, name_prefix=name_prefix,
                             content_type=content_type, latest_only=latest_only, limit=limit))

    @route("POST", "/v1/storage/lifecycle")
    def apply_lifecycle(self, name: str | None = None, *, keep_last: int | None = None,
                        older_than_s: float | None = None, dry_run: bool = False) -> dict[str, list[int]]:
        """Prune old versions; without ``keep_last``/``older_than_s``: by the stored rules."""
        return Req(json=body(name=name, keep_last=keep_last, older_than_s=older_than_s, dry_run=dry_run))

    @route("GET", "/v1/storage/lifecycle/rules")
    def lifecycle_rules(self) -> list[dict[str, Any]]:
        return Req()

    @route("POST", "/v1/storage/lifecycle/rules")
    def set_lifecycle_rule(self, name_prefix: str = "", *, keep_last: int | None = None,
                           older_than_s: float | None = None) -> dict[str, Any]:
        """The rule for assets under ``name_prefix`` (``""``: every asset)."""
        return Req(json=body(name_prefix=name_prefix, keep_last=keep_last, older_than_s=older_than_s))

    @route("DELETE", "/v1/storage/lifecycle/rules")
    def delete_lifecycle_rule(self, name_prefix: str = "") -> None:
        return Req(params={"name_prefix": name_prefix})

    @route("POST", "/v1/storage/gc")
    def gc(self, grace_s: float | None = None, dry_run: bool = False) -> dict[str, Any]:
        """Collect chunks no version uses (older than ``grace_s``)."""
        return Req(json=body(grace_s=grace_s, dry_run=dry_run))

    @route("POST", "/v1/storage/verify")
    def verify(self, quarantine: bool = False) -> dict[str, Any]:
        """Check every chunk against its hash (``quarantine`` moves bad ones aside)."""
        return Req(params={"quarantine": quarantine})

    @route("POST", "/v1/storage/sync")
    def sync(self, target: str) -> dict[str, Any]:
        """Copy live chunks to ``target``, one of the configured sync targets (:meth:`sync_targets`)."""
        return Req(json={"target": target})

    @route("GET", "/v1/storage/sync/targets")
    def sync_targets(self) -> list[str]:
        """Names of the configured sync targets."""
        return Req()

    @route("GET", "/v1/storage/stats")
    def stats(self) -> dict[str, Any]:
        return Req()
