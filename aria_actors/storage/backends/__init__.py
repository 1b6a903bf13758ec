"""Store backends, one module each, and :func:`open_store` that picks one from a URL.

``/path`` or ``file:///path`` -> local, ``s3://bucket/prefix`` -> S3, ``sftp://user@host/path`` ->
SFTP, ``http(s)://host/path`` -> read-only HTTP. Options (endpoint, keys) go in ``options``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from aria_actors.storage.backends.http import HTTPStore
from aria_actors.storage.backends.local import LocalStore
from aria_actors.storage.backends.s3 import S3Store
from aria_actors.storage.backends.sftp import SFTPStore
from aria_actors.storage.errors import StoreUnavailable
from aria_actors.storage.store import BlobStore


def open_store(url: str, **options: Any) -> BlobStore:
    scheme = urlparse(url).scheme
    if scheme in ("", "file"):
        return LocalStore(url.removeprefix("file://"), **options)
    if scheme == "s3":
        return S3Store(url, **options)
    if scheme == "sftp":
        return SFTPStore(url, **options)
    if scheme in ("http", "https"):
        return HTTPStore(url, **options)

    raise StoreUnavailable(f"no store backend for {url!r} (use a path, s3://, sftp:// or https://)",
                           store=url)
