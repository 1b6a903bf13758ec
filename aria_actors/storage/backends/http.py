"""Read-only chunk store over HTTP(S), for distribution through a CDN or any static file server.

``HTTPStore("https://cdn.example.com/store")`` reads ``<url>/<4 hex>/<id>.cacnk``. A 404 is a
missing chunk (the router moves on); other failures are :class:`StoreUnavailable`. Writes,
listing and pruning raise :class:`StoreReadOnly`: fill the origin store and let the CDN serve it.
"""

from __future__ import annotations

from typing import Any

from aria_actors.storage.backends.fsspec_store import FsspecStore


class HTTPStore(FsspecStore):
    def __init__(self, url: str, *, level: int = 3, **client_options: Any) -> None:
        # heavy: fsspec's HTTP filesystem loads aiohttp (~0.17 s); only http(s):// stores need it
        from fsspec.implementations.http import HTTPFileSystem

        fs = HTTPFileSystem(skip_instance_cache=True, simple_links=False, **client_options)
        super().__init__(fs, url.rstrip("/"), url.rstrip("/"), writable=False, level=level)

    def _exists(self, rel: str) -> bool:
        # HTTPFileSystem.exists swallows every error as "absent"; a failing CDN must not look
        # like a missing chunk, so probe with a real request.
        return self._read(rel) is not None
