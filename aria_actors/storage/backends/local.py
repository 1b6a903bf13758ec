"""A chunk store in a local directory, in casync's layout.

Uses ``os`` directly rather than fsspec's local filesystem: the hot path (exists, write temp,
rename) is three syscalls, and atomic rename is what makes concurrent writers safe.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import uuid
from collections.abc import Iterator

from aria_actors.storage.atomic import publish_on_success
from aria_actors.storage.store import SUFFIX, BlobStore, ChunkInfo, is_chunk_id

try:  # syncfs(2): Linux only; elsewhere flush() falls back to sync(2)
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    _LIBC.syncfs.argtypes = [ctypes.c_int]
except (OSError, AttributeError):
    _LIBC = None


class LocalStore(BlobStore):
    def __init__(self, root: str | os.PathLike[str], level: int = 3) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.url = self.root
        self.level = level
        self._dirs: set[str] = set()  # prefix folders known to exist (saves a mkdir per chunk)
        os.makedirs(self.root, exist_ok=True)

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def _read(self, rel: str) -> bytes | None:
        try:
            with open(self._abs(rel), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def _exists(self, rel: str) -> bool:
        return os.path.exists(self._abs(rel))

    def flush(self) -> None:
        # One syncfs of the store's file system per version, not an fsync per chunk: a version of
        # N new chunks would cost N synchronous disk flushes.
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _LIBC is None:
                os.sync()
            elif _LIBC.syncfs(fd) != 0:
                err = ctypes.get_errno()
                if err not in (errno.ENOSYS, errno.EINVAL):  # EIO: a write-back failed, say so
                    raise OSError(err, f"syncing the chunk store {self.root}: {os.strerror(err)}")
                os.sync()
        finally:
            os.close(fd)

    def _touch(self, rel: str) -> None:
        # The chunk may have been removed by a concurrent gc between exists and touch.
        with contextlib.suppress(FileNotFoundError):
            os.utime(self._abs(rel))

    def _write(self, rel: str, blob: bytes) -> None:
        path = self._abs(rel)
        directory = os.path.dirname(path)
        if directory not in self._dirs:
            os.makedirs(directory, exist_ok=True)
            self._dirs.add(directory)
        tmp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
        try:
            # 0644, not mkstemp's 0600: chunks are meant to be served (HTTP/CDN, other users).
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:  # the prefix folder was removed (by hand) since we cached it
            self._dirs.discard(directory)
            os.makedirs(directory, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with publish_on_success(fd, tmp, path), memoryview(blob) as view:
            written = 0
            while written < len(view):
                written += os.write(fd, view[written:])

    def _list(self) -> Iterator[ChunkInfo]:
        for prefix in sorted(os.listdir(self.root)):
            folder = os.path.join(self.root, prefix)
            if len(prefix) != 4 or not os.path.isdir(folder):
                continue
            with os.scandir(folder) as it:
                for entry in it:
                    name = entry.name
                    if name.endswith(SUFFIX) and is_chunk_id(name[: -len(SUFFIX)]):
                        st = entry.stat()
                        yield ChunkInfo(name[: -len(SUFFIX)], st.st_size, st.st_mtime)

    def _remove(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._abs(rel))
