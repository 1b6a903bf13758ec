"""Making an index streams: RSS stays bounded whatever the file size."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# Peak RSS from VmHWM, not getrusage: Linux keeps ru_maxrss across execve, so a child forked from
# a big test process (torch loaded by other tests) would report the parent's size.
CHILD = textwrap.dedent("""
    import sys
    from aria_actors.storage.backends.local import LocalStore
    from aria_actors.storage.make import make_index
    index = make_index(sys.argv[1], LocalStore(sys.argv[2]))
    assert index.length == int(sys.argv[3]), index.length
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(int(hwm.split()[1]) // 1024)
""")


def _write(path: str, size: int) -> None:
    text = b"".join(b"%06d frame bone=%d weight=0.%04d\n" % (i, i % 97, i % 9973) for i in range(30_000))
    with open(path, "wb") as f:
        done = 0
        while done < size:
            block = os.urandom(4 << 20) if done < size // 2 else text[: 4 << 20]
            block = block[: size - done]
            f.write(block)
            done += len(block)


def _peak_rss_mb(tmp_path, size: int) -> int:
    src = str(tmp_path / "big.bin")
    _write(src, size)
    out = subprocess.run([sys.executable, "-c", CHILD, src, str(tmp_path / "store"), str(size)],
                         check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def test_rss_bounded_on_256_mib(tmp_path):
    assert _peak_rss_mb(tmp_path, 256 << 20) < 300


@pytest.mark.slow
def test_rss_under_300_mb_on_2_gib(tmp_path):
    assert _peak_rss_mb(tmp_path, 2 << 30) < 300
