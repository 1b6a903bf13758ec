"""Interop with the Debian ``casync`` binary in both directions."""

from __future__ import annotations

import io
import random
import shutil
import subprocess

import pytest

from aria_actors.storage import index as ix
from aria_actors.storage.backends.local import LocalStore
from aria_actors.storage.extract import extract
from aria_actors.storage.make import make_index

pytestmark = pytest.mark.skipif(shutil.which("casync") is None, reason="casync is not installed")


def _blobs() -> dict[str, bytes]:
    rng = random.Random(5)
    text = b"".join(b"line %d: %s\n" % (i, rng.choice([b"alpha", b"beta", b"gamma"]) * rng.randint(1, 9))
                    for i in range(60_000))
    return {"random": rng.randbytes(2_500_000), "structured": text}


@pytest.mark.parametrize("kind", ["random", "structured"])
def test_casync_make_then_aria_extract(tmp_path, kind):
    data = _blobs()[kind]
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    subprocess.run(["casync", "make", f"--store={tmp_path / 'cstore'}", str(tmp_path / "c.caibx"),
                    str(src)], check=True, capture_output=True)
    raw = (tmp_path / "c.caibx").read_bytes()
    index = ix.decode(raw)
    assert ix.encode(index) == raw
    extract(index, LocalStore(tmp_path / "cstore"), tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data
    # Same chunker: Aria finds the same chunks as casync.
    assert [c.id for c in make_index(io.BytesIO(data), None).chunks] == [c.id for c in index.chunks]


@pytest.mark.parametrize("kind", ["random", "structured"])
def test_aria_make_then_casync_extract(tmp_path, kind):
    data = _blobs()[kind]
    index = make_index(io.BytesIO(data), LocalStore(tmp_path / "astore"))
    ix.write_index(tmp_path / "a.caibx", index)
    subprocess.run(["casync", "extract", f"--store={tmp_path / 'astore'}", str(tmp_path / "a.caibx"),
                    str(tmp_path / "out.bin")], check=True, capture_output=True)
    assert (tmp_path / "out.bin").read_bytes() == data


def test_chunk_sizes_other_than_default(tmp_path):
    from aria_actors.storage.chunker import ChunkerParams

    data = _blobs()["random"]
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    subprocess.run(["casync", "make", "--chunk-size=4096:16384:65536", f"--store={tmp_path / 'c'}",
                    str(tmp_path / "c.caibx"), str(src)], check=True, capture_output=True)
    theirs = ix.read_index(tmp_path / "c.caibx")
    ours = make_index(io.BytesIO(data), LocalStore(tmp_path / "a"), ChunkerParams(4096, 16384, 65536))
    assert [c.id for c in ours.chunks] == [c.id for c in theirs.chunks]


def test_caidx_from_casync_decodes_and_extracts_to_the_catar(tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"hello " * 50_000)
    (tree / "sub" / "b.bin").write_bytes(random.Random(3).randbytes(400_000))
    subprocess.run(["casync", "make", f"--store={tmp_path / 'st'}", str(tmp_path / "t.caidx"),
                    str(tree)], check=True, capture_output=True)
    subprocess.run(["casync", "make", str(tmp_path / "t.catar"), str(tree)], check=True,
                   capture_output=True)
    raw = (tmp_path / "t.caidx").read_bytes()
    index = ix.decode(raw, "t.caidx")
    assert ix.encode(index) == raw
    extract(index, LocalStore(tmp_path / "st"), tmp_path / "out.catar")
    assert (tmp_path / "out.catar").read_bytes() == (tmp_path / "t.catar").read_bytes()
