from __future__ import annotations

import os

import pytest

from aria_actors.storage.atomic import publish_on_success


def _open(path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)


def test_success_replaces_the_old_file(tmp_path) -> None:
    final, tmp = tmp_path / "f", tmp_path / ".tmp-f"
    final.write_bytes(b"old")
    fd = _open(tmp)
    with publish_on_success(fd, str(tmp), str(final), fsync=True):
        os.write(fd, b"new")
    assert final.read_bytes() == b"new" and not tmp.exists()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path) -> None:
    final, tmp = tmp_path / "f", tmp_path / ".tmp-f"
    final.write_bytes(b"old")
    fd = _open(tmp)
    with pytest.raises(RuntimeError, match="disk full"), publish_on_success(fd, str(tmp), str(final)):
        os.write(fd, b"half")
        raise RuntimeError("disk full")
    assert final.read_bytes() == b"old" and not tmp.exists()
    with pytest.raises(OSError):
        os.fstat(fd)  # closed


def test_local_store_flush_syncs_its_file_system(tmp_path, monkeypatch) -> None:
    """A durable put syncs the store's file system once (syncfs), not each chunk."""
    from aria_actors.storage.backends import local

    calls: list[int] = []

    class Libc:
        @staticmethod
        def syncfs(fd: int) -> int:
            calls.append(fd)
            return 0

    monkeypatch.setattr(local, "_LIBC", Libc)
    local.LocalStore(tmp_path / "store").flush()
    assert len(calls) == 1


def test_local_store_flush_calls_the_real_syncfs(tmp_path) -> None:
    from aria_actors.storage.backends import local

    assert local._LIBC is not None  # Linux: syncfs exists
    local.LocalStore(tmp_path / "store").flush()
