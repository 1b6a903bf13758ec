"""A software WebAuthn authenticator for the passkey tests (soft-webauthn's, speaking JSON), and its
own checks: what it makes verifies with py_webauthn as a browser's would.

:class:`Authenticator` takes the options aria_auth hands out (``options_to_json``'s JSON, base64url)
and answers with what ``credential.toJSON()`` gives in a browser. Unlike soft-webauthn's device it
can report user verification (``uv``), and its counter can be set; ``copy.copy`` clones it (the
same key, a counter of its own).
"""

from __future__ import annotations

import base64
import copy
import json
import struct
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor
from fido2.cose import ES256
from fido2.utils import sha256
from soft_webauthn import SoftWebauthnDevice
from webauthn import verify_authentication_response, verify_registration_response

ORIGIN = "http://localhost:8000"
UP, UV, AT = 0x01, 0x04, 0x40  # authenticator data flags: user present, user verified, attested data


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authenticator(SoftWebauthnDevice):
    """One credential, like soft-webauthn's device; JSON in, JSON out."""

    def __init__(self, *, uv: bool = True, origin: str = ORIGIN) -> None:
        super().__init__()
        self.uv = uv
        self.origin = origin

    def _flags(self, extra: int = 0) -> bytes:
        return bytes([UP | (UV if self.uv else 0) | extra])

    def create_json(self, options: dict[str, Any], *, origin: str | None = None, reuse: bool = False
                    ) -> dict[str, Any]:
        """``navigator.credentials.create({publicKey: options}).toJSON()``; ``reuse``: attest the
        credential it holds again (an authenticator that ignores ``excludeCredentials``)."""
        assert {"alg": -7, "type": "public-key"} in options["pubKeyCredParams"]
        if not reuse:
            self.cred_init(options["rp"]["id"], unb64(options["user"]["id"]))
        client_data = json.dumps({"type": "webauthn.create", "challenge": options["challenge"],
                                  "origin": origin or self.origin}).encode()
        auth_data = (sha256(self.rp_id.encode()) + self._flags(AT) + struct.pack(">I", self.sign_count)
                     + self.aaguid + struct.pack(">H", len(self.credential_id)) + self.credential_id
                     + cbor.encode(ES256.from_cryptography_key(self.private_key.public_key())))
        attestation = cbor.encode({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {"id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
                "response": {"clientDataJSON": b64(client_data), "attestationObject": b64(attestation),
                             "transports": ["usb"]},
                "clientExtensionResults": {}}

    def get_json(self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None,
                 with_user_handle: bool = True) -> dict[str, Any]:
        """``navigator.credentials.get({publicKey: options}).toJSON()``; the counter goes up by one."""
        assert options["rpId"] == self.rp_id
        allowed = [c["id"] for c in options.get("allowCredentials", [])]
        assert not allowed or b64(self.credential_id) in allowed, "the browser would not offer this credential"
        self.sign_count += 1
        client_data = json.dumps({"type": "webauthn.get", "challenge": options["challenge"],
                                  "origin": origin or self.origin}).encode()
        auth_data = sha256((rp_id or self.rp_id).encode()) + self._flags() + struct.pack(">I", self.sign_count)
        signature = self.private_key.sign(auth_data + sha256(client_data), ec.ECDSA(hashes.SHA256()))
        response = {"clientDataJSON": b64(client_data), "authenticatorData": b64(auth_data),
                    "signature": b64(signature)}
        if with_user_handle:
            response["userHandle"] = b64(self.user_handle)
        return {"id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
                "response": response, "clientExtensionResults": {}}


# -- the device's own checks -----------------------------------------------------------------------
def _registration_options() -> dict[str, Any]:
    return {"rp": {"id": "localhost", "name": "Aria"}, "user": {"id": b64(b"u" * 16), "name": "alice"},
            "challenge": b64(b"c" * 32), "pubKeyCredParams": [{"type": "public-key", "alg": -7}]}


def test_its_registration_and_assertions_verify_with_py_webauthn() -> None:
    device = Authenticator()
    registered = verify_registration_response(
        credential=device.create_json(_registration_options()), expected_challenge=b"c" * 32,
        expected_rp_id="localhost", expected_origin=ORIGIN, require_user_verification=True)
    assert registered.credential_id == device.credential_id and registered.user_verified
    options = {"rpId": "localhost", "challenge": b64(b"d" * 32)}
    verified = verify_authentication_response(
        credential=device.get_json(options), expected_challenge=b"d" * 32, expected_rp_id="localhost",
        expected_origin=ORIGIN, credential_public_key=registered.credential_public_key,
        credential_current_sign_count=0, require_user_verification=True)
    assert verified.new_sign_count == 1 and verified.user_verified


def test_a_copy_has_the_same_key_and_a_counter_of_its_own() -> None:
    device = Authenticator(uv=False)
    device.create_json(_registration_options())
    clone = copy.copy(device)
    device.get_json({"rpId": "localhost", "challenge": b64(b"x")})
    assert (device.sign_count, clone.sign_count) == (1, 0) and clone.private_key is device.private_key
    flags = unb64(clone.get_json({"rpId": "localhost", "challenge": b64(b"y")})["response"]["authenticatorData"])[32]
    assert flags & UP and not flags & UV
