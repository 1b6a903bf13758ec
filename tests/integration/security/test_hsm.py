"""The SoftHSM2 keyring on its own (real token, no OpenBao)."""

from __future__ import annotations

import json

import pytest

from aria_actors.security.errors import HsmError, UnsealError
from aria_actors.security.hsm import SoftHsm
from tests.fixtures.security import security_prerequisites


@pytest.fixture
def hsm(tmp_path) -> SoftHsm:
    reason = security_prerequisites()
    if reason:
        pytest.skip(reason)
    keyring = SoftHsm(tmp_path / "hsm")
    keyring.ensure()
    return keyring


def test_wrap_round_trip_and_idempotent_ensure(hsm) -> None:
    blob = hsm.wrap(b"unseal-key-bytes", "unseal")
    assert b"unseal-key-bytes" not in blob
    hsm.ensure()  # a second ensure keeps the same key
    assert SoftHsm(hsm.root).unwrap(blob, "unseal") == b"unseal-key-bytes"
    assert hsm.key_attributes() == {"sensitive": True, "extractable": False}
    for path in (hsm.root / "tokens").rglob("*"):
        if path.is_file():
            assert b"unseal-key-bytes" not in path.read_bytes()


def test_tampered_blob_refused(hsm) -> None:
    doc = json.loads(hsm.wrap(b"secret", "unseal"))
    ct = bytearray(__import__("base64").b64decode(doc["ct"]))
    ct[0] ^= 1
    doc["ct"] = __import__("base64").b64encode(bytes(ct)).decode()
    with pytest.raises(UnsealError):
        hsm.unwrap(json.dumps(doc).encode(), "unseal")
    with pytest.raises(UnsealError, match="malformed"):
        hsm.unwrap(b"not json", "unseal")


def test_wrong_pin_refused(hsm) -> None:
    blob = hsm.wrap(b"secret", "unseal")
    with pytest.raises(HsmError):
        SoftHsm(hsm.root, pin="wrong-pin").unwrap(blob, "unseal")


def test_another_token_cannot_open_the_blob(hsm, tmp_path) -> None:
    other = SoftHsm(tmp_path / "other")
    other.ensure()
    with pytest.raises(UnsealError):
        other.unwrap(hsm.wrap(b"secret", "unseal"), "unseal")
