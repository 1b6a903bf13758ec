"""A chunk store on any fsspec filesystem (the base of the S3, SFTP and HTTP backends).

Guarantees and caveats:
- Listing caches are off: a chunk another process wrote is seen at once.
- Writes are atomic per backend: S3 writes a whole object in one PUT; file-system-like backends
  (SFTP) write a temporary name and rename it (``atomic_rename=True``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

from aria_actors.storage.errors import StoreUnavailable
from aria_actors.storage.store import SUFFIX, BlobStore, ChunkInfo, is_chunk_id


def _mtime(info: dict[str, Any]) -> float:
    for key in ("mtime", "LastModified", "last_modified", "modified", "created"):
        value = info.get(key)
        if isinstance(value, dt.datetime):
            return value.timestamp()
        if isinstance(value, int | float):
            return float(value)
    return 0.0


class FsspecStore(BlobStore):
    atomic_rename = False

    def __init__(self, fs: Any, root: str, url: str, *, writable: bool = True, level: int = 3) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.url = url
        self.writable = writable
        self.level = level

    def _abs(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def _read(self, rel: str) -> bytes | None:
        try:
            return self.fs.cat_file(self._abs(rel))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreUnavailable(f"reading {rel} from {self.url}: {exc}", store=self.url) from exc

    def _exists(self, rel: str) -> bool:
        try:
            return bool(self.fs.exists(self._abs(rel)))
        except OSError as exc:
            raise StoreUnavailable(f"probing {rel} in {self.url}: {exc}", store=self.url) from exc

    def _write(self, rel: str, blob: bytes) -> None:
        if not self.writable:
            super()._write(rel, blob)
        path = self._abs(rel)
        if not self.atomic_rename:
            self.fs.pipe_file(path, blob)
            return
        parent = path.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.tmp-{uuid.uuid4().hex}"
        try:
            self.fs.pipe_file(tmp, blob)
            self.fs.mv(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                self.fs.rm_file(tmp)
            raise

    def _list(self) -> Iterator[ChunkInfo]:
        try:
            found = self.fs.find(self.root, detail=True)
        except FileNotFoundError:
            return
        for path, info in sorted(found.items()):
            name = path.rsplit("/", 1)[-1]
            if name.endswith(SUFFIX) and is_chunk_id(name[: -len(SUFFIX)]):
                yield ChunkInfo(name[: -len(SUFFIX)], int(info.get("size") or 0), _mtime(info))

    def _remove(self, rel: str) -> None:
        if not self.writable:
            super()._remove(rel)
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._abs(rel))
