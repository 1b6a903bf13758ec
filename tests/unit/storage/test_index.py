from __future__ import annotations

import pytest

from aria_actors.storage import index as ix
from aria_actors.storage.errors import IndexInvalid


@pytest.mark.parametrize("name", ["index.caibx", "chunker.index"])
def test_reencode_byte_for_byte(shared_testdata, name):
    raw = (shared_testdata / "desync" / name).read_bytes()
    decoded = ix.decode(raw, name)
    assert ix.encode(decoded) == raw


def test_index_caibx_contents(shared_testdata):
    decoded = ix.decode((shared_testdata / "desync" / "index.caibx").read_bytes())
    assert (decoded.min, decoded.avg, decoded.max) == (16384, 65536, 262144)
    assert decoded.feature_flags == ix.CA_FORMAT_SHA512_256 | ix.CA_FORMAT_EXCLUDE_NO_DUMP
    assert [c.hex[:8] for c in decoded.chunks] == ["437884da", "985462e6", "fadff4b3"]
    assert decoded.chunks[0].start == 0
    assert all(a.end == b.start for a, b in zip(decoded.chunks, decoded.chunks[1:], strict=False))


def test_chunker_index_matches_vectors(shared_testdata):
    import json

    d = shared_testdata / "desync"
    decoded = ix.decode((d / "chunker.index").read_bytes())
    expected = json.loads((d / "chunker.expected.json").read_text())["chunks"]
    assert [(c.start, c.size, c.hex) for c in decoded.chunks] == [
        (c["start"], c["size"], c["id"]) for c in expected]


@pytest.fixture
def raw(shared_testdata) -> bytes:
    return (shared_testdata / "desync" / "index.caibx").read_bytes()


@pytest.mark.parametrize("cut", [0, 10, 60, 104, 150, 223])
def test_truncated_index_is_rejected(raw, cut):
    with pytest.raises(IndexInvalid) as err:
        ix.decode(raw[:cut], "t.caibx")
    assert "t.caibx" in err.value.message
    assert "offset" in err.value.fields


@pytest.mark.parametrize(("pos", "what", "reported"), [
    (8, "not a casync index", 0),           # header type
    (56, "chunk table header", 48),         # table type
    (0xD8, "tail", 0xB8),                   # tail marker (the tail record starts at 0xB8)
    (0xD0, "table size", 0xD0),             # table size field
    (0x40, "not after its start", 0x40),    # first chunk's end offset zeroed
])
def test_tampered_index_is_rejected(raw, pos, what, reported):
    bad = bytearray(raw)
    if what == "not after its start":
        bad[pos:pos + 8] = (0).to_bytes(8, "little")
    else:
        bad[pos] ^= 0xFF
    with pytest.raises(IndexInvalid, match=what) as err:
        ix.decode(bytes(bad))
    assert err.value.fields["offset"] == reported


def test_sha256_index_rejected(raw):
    bad = bytearray(raw)
    bad[16:24] = (ix.CA_FORMAT_EXCLUDE_NO_DUMP).to_bytes(8, "little")
    with pytest.raises(IndexInvalid, match="SHA256"):
        ix.decode(bytes(bad))


def test_write_index_is_atomic(tmp_path, raw):
    path = tmp_path / "x.caibx"
    ix.write_index(path, ix.decode(raw))
    assert path.read_bytes() == raw
    assert [p.name for p in tmp_path.iterdir()] == ["x.caibx"]
