"""Write-then-publish for files: readers see the old file or the new one, never a torn one."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def publish_on_success(fd: int, tmp: str, final: str, *, fsync: bool = False) -> Iterator[None]:
    """Own ``fd`` (open on ``tmp``) for the block: then close it and rename ``tmp`` over ``final``.

    If the block (or the publishing) raises, ``fd`` is closed and ``tmp`` removed, so a failed
    write leaves nothing behind and ``final`` untouched.
    """
    closed = False
    try:
        yield
        if fsync:
            os.fsync(fd)
        os.close(fd)
        closed = True
        os.replace(tmp, final)
    except BaseException:
        if not closed:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
