"""SFTP chunk store through fsspec's SFTP filesystem (paramiko).

``SFTPStore("sftp://user@host:port/abs/path", key_filename=..., known_hosts=...)``. Chunks are
written under a temporary name and renamed, so readers never see half a chunk; a dedupe hit
refreshes the chunk's modification time (``utime``), which keeps gc's grace period meaningful.
One SSH connection per thread: paramiko's SFTP client deadlocks when threads share a channel.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any
from urllib.parse import unquote, urlparse

from aria_actors.storage.backends.fsspec_store import FsspecStore


class SFTPStore(FsspecStore):
    atomic_rename = True

    def __init__(self, url: str, *, key_filename: str | None = None, password: str | None = None,
                 level: int = 3, **ssh_options: Any) -> None:
        # heavy: fsspec's SFTP filesystem loads paramiko (~0.2 s); only sftp:// stores need it
        from fsspec.implementations.sftp import SFTPFileSystem

        parsed = urlparse(url)
        options: dict[str, Any] = {"port": parsed.port or 22, "username": parsed.username,
                                   "skip_instance_cache": True, **ssh_options}
        if key_filename:
            options["key_filename"] = key_filename
        if password or parsed.password:
            options["password"] = password or unquote(parsed.password or "")
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._connect = lambda: SFTPFileSystem(parsed.hostname, **options)
        super().__init__(None, parsed.path or "/", url, level=level)
        self.fs.makedirs(self.root, exist_ok=True)

    @property  # type: ignore[override]
    def fs(self) -> Any:
        fs = getattr(self._local, "fs", None)
        if fs is None:
            fs = self._local.fs = self._connect()
            with self._lock:
                self._all.append(fs)
        return fs

    @fs.setter
    def fs(self, value: Any) -> None:
        """The base class assigns ``fs``; connections are made per thread instead."""

    def _touch(self, rel: str) -> None:
        with contextlib.suppress(OSError):
            self.fs.ftp.utime(self._abs(rel), None)

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for fs in conns:
            with contextlib.suppress(Exception):
                fs.client.close()
        self._local = threading.local()
