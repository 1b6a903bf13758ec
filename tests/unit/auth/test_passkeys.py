"""Passkeys' pure core (no database): credential bounds, options, verification against the
settings' relying party, the clone check, session methods."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from aria_actors.auth.passkeys import (
    LIMITS,
    authentication_options,
    check_credential,
    check_label,
    check_settings,
    counter_went_back,
    login_is_fresh,
    mfa_challenge,
    registration_options,
    session_amr,
    verify_assertion,
    verify_registration,
)
from aria_actors.auth.passkeys_errors import PasskeyBadRequest, PasskeyInvalid, PasskeyMalformed
from tests.fixtures.auth import auth_settings
from tests.unit.auth.test_passkeys_device import Authenticator, b64, unb64

USER_ID = uuid.UUID("0b7c9d3e-58f1-4c65-9d1c-2a6e1b0f4a11")
USER = {"id": USER_ID, "username": "alice", "tenant": "", "display_name": None}


def config(**overrides: Any) -> Any:
    return auth_settings(**overrides)


def registered(device: Authenticator, cfg: Any = None) -> tuple[Any, dict[str, Any]]:
    """(VerifiedRegistration, the checked credential) of a fresh registration of ``device``."""
    cfg = cfg or config()
    challenge = b"r" * 32
    options = registration_options(cfg, USER, [], challenge)
    cred = check_credential(device.create_json(options), "registration")
    return verify_registration(cfg, cred, challenge), cred


def assertion(device: Authenticator, challenge: bytes = b"a" * 32, **kw: Any) -> dict[str, Any]:
    options = authentication_options(config(), challenge, [], "required")
    return check_credential(device.get_json(options, **kw), "authentication")


# -- options -------------------------------------------------------------------------------------
def test_registration_options_name_the_configured_party_and_hide_the_user_behind_its_id() -> None:
    cfg = config(passkey_rp_id="aria.example", passkey_rp_name="Aria Test", passkey_timeout_s=120)
    existing = [{"credential_id": b"\x01\x02", "transports": ["usb", "bogus"]}]
    options = registration_options(cfg, {**USER, "tenant": "acme"}, existing, b"c" * 32)
    assert options["rp"] == {"id": "aria.example", "name": "Aria Test"}
    assert unb64(options["user"]["id"]) == USER_ID.bytes and options["user"]["name"] == "alice@acme"
    assert unb64(options["challenge"]) == b"c" * 32 and options["timeout"] == 120_000
    assert options["excludeCredentials"] == [{"id": b64(b"\x01\x02"), "type": "public-key", "transports": ["usb"]}]
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"


def test_authentication_options_allow_the_given_credentials_or_any() -> None:
    options = authentication_options(config(), b"c" * 32, [{"credential_id": b"\x07", "transports": []}],
                                     "discouraged")
    assert options["rpId"] == "localhost" and options["userVerification"] == "discouraged"
    assert options["allowCredentials"] == [{"id": b64(b"\x07"), "type": "public-key"}]
    assert authentication_options(config(), b"c" * 32, [], "required")["allowCredentials"] == []


def test_the_second_factor_challenge_is_derived_from_the_login_challenge() -> None:
    assert mfa_challenge("aria_mc_a") == mfa_challenge("aria_mc_a") != mfa_challenge("aria_mc_b")
    assert len(mfa_challenge("aria_mc_a")) == 32


# -- verification --------------------------------------------------------------------------------
def test_a_registration_and_an_assertion_verify() -> None:
    device = Authenticator()
    verified, cred = registered(device)
    assert verified.credential_id == device.credential_id and verified.user_verified and verified.sign_count == 0
    assert cred["response"]["transports"] == ["usb"]
    result = verify_assertion(config(), assertion(device), b"a" * 32, verified.credential_public_key,
                              require_user_verification=True)
    assert result.new_sign_count == 1 and result.user_verified


@pytest.mark.parametrize("tamper, why", [
    (dict(origin="https://evil.example"), "origin"),
    (dict(rp_id="evil.example"), "RP ID"),
])
def test_an_assertion_for_another_origin_or_party_does_not_verify(tamper: dict[str, str], why: str) -> None:
    device = Authenticator()
    verified, _ = registered(device)
    with pytest.raises(PasskeyInvalid, match=why):
        verify_assertion(config(), assertion(device, **tamper), b"a" * 32, verified.credential_public_key,
                         require_user_verification=False)


def test_the_wrong_challenge_or_key_does_not_verify() -> None:
    device, other = Authenticator(), Authenticator()
    verified, _ = registered(device)
    theirs, _ = registered(other)
    with pytest.raises(PasskeyInvalid, match="challenge"):
        verify_assertion(config(), assertion(device), b"b" * 32, verified.credential_public_key,
                         require_user_verification=False)
    with pytest.raises(PasskeyInvalid):
        verify_assertion(config(), assertion(device), b"a" * 32, theirs.credential_public_key,
                         require_user_verification=False)


def test_user_verification_is_enforced_when_the_policy_requires_it() -> None:
    device = Authenticator(uv=False)
    with pytest.raises(PasskeyInvalid, match="verif"):
        registered(device)
    verified, _ = registered(device, config(passkey_user_verification="preferred"))
    assert not verified.user_verified
    with pytest.raises(PasskeyInvalid, match="verif"):
        verify_assertion(config(), assertion(device), b"a" * 32, verified.credential_public_key,
                         require_user_verification=True)
    assert verify_assertion(config(), assertion(device), b"a" * 32, verified.credential_public_key,
                            require_user_verification=False).user_verified is False


def test_a_registration_from_an_origin_not_configured_does_not_verify() -> None:
    device = Authenticator()
    options = registration_options(config(), USER, [], b"r" * 32)
    cred = check_credential(device.create_json(options, origin="https://phish.example"), "registration")
    with pytest.raises(PasskeyInvalid, match="origin"):
        verify_registration(config(), cred, b"r" * 32)
    ok = config(passkey_origins=["https://phish.example"])
    assert verify_registration(ok, cred, b"r" * 32).credential_id == device.credential_id


@pytest.mark.parametrize("field, value", [
    ("attestationObject", b64(b"\xff\x00garbage")),
    ("attestationObject", b64(b"")[:0] + "AA"),
    ("clientDataJSON", b64(b"{not json")),
    ("clientDataJSON", b64(b'{"type": "webauthn.create"}')),
])
def test_malformed_registrations_are_invalid_not_crashes(field: str, value: str) -> None:
    device = Authenticator()
    options = registration_options(config(), USER, [], b"r" * 32)
    raw = device.create_json(options)
    raw["response"][field] = value
    with pytest.raises(PasskeyInvalid):
        verify_registration(config(), check_credential(raw, "registration"), b"r" * 32)


def test_malformed_assertions_are_invalid_not_crashes() -> None:
    device = Authenticator()
    verified, _ = registered(device)
    for field, value in (("authenticatorData", b64(b"short")), ("signature", b64(b"\x30\x02")),
                         ("clientDataJSON", b64(b"[]"))):
        cred = assertion(device)
        cred["response"][field] = value
        with pytest.raises(PasskeyInvalid):
            verify_assertion(config(), cred, b"a" * 32, verified.credential_public_key,
                             require_user_verification=False)
    with pytest.raises(PasskeyInvalid):
        verify_assertion(config(), assertion(device), b"a" * 32, b"\xa0", require_user_verification=False)


# -- bounds ---------------------------------------------------------------------------------------
def test_check_credential_keeps_only_what_verification_reads() -> None:
    device = Authenticator()
    device.create_json(registration_options(config(), USER, [], b"r" * 32))
    raw = device.get_json({"rpId": "localhost", "challenge": b64(b"x")})
    raw["response"]["extra"] = "ignored"
    raw["authenticatorAttachment"] = "platform"
    raw["id"] += "="  # padding is tolerated
    cred = check_credential(raw, "authentication")
    assert set(cred) == {"id", "rawId", "type", "response"} and cred["id"] == cred["rawId"]
    assert set(cred["response"]) == {"clientDataJSON", "authenticatorData", "signature", "userHandle"}


@pytest.mark.parametrize("mutate, field", [
    (lambda c: c.update(type="password"), "type"),
    (lambda c: c.update(id="QUJD"), "id"),
    (lambda c: c.update(rawId="not base64!"), "rawId"),
    (lambda c: c.update(rawId="A" * (LIMITS["rawId"] + 1)), "rawId"),
    (lambda c: c.update(id=b64(b"x" * 1024), rawId=b64(b"x" * 1024)), "rawId"),
    (lambda c: c.update(id="A", rawId="A"), "rawId"),  # a length no encoder produces
    (lambda c: c.update(response="nope"), "response"),
    (lambda c: c["response"].pop("signature"), "signature"),
    (lambda c: c["response"].update(signature=123), "signature"),
    (lambda c: c["response"].update(signature="A" * (LIMITS["signature"] + 1)), "signature"),
    (lambda c: c["response"].update(clientDataJSON="A" * (LIMITS["clientDataJSON"] + 4)), "clientDataJSON"),
    (lambda c: c["response"].update(userHandle=["x"]), "userHandle"),
])
def test_malformed_credentials_are_refused_with_the_field_named(mutate: Any, field: str) -> None:
    device = Authenticator()
    device.create_json(registration_options(config(), USER, [], b"r" * 32))
    raw = device.get_json({"rpId": "localhost", "challenge": b64(b"x")})
    mutate(raw)
    with pytest.raises(PasskeyMalformed) as caught:
        check_credential(raw, "authentication")
    assert caught.value.fields["field"] == field and caught.value.status == 400


def test_non_objects_and_bad_transports_are_malformed() -> None:
    for value in (None, "{}", [], 7):
        with pytest.raises(PasskeyMalformed):
            check_credential(value, "registration")
    device = Authenticator()
    raw = device.create_json(registration_options(config(), USER, [], b"r" * 32))
    raw["response"]["transports"] = ["usb"] * 9
    with pytest.raises(PasskeyMalformed, match="transports"):
        check_credential(raw, "registration")
    raw["response"]["transports"] = ["usb", "carrier-pigeon"]
    assert check_credential(raw, "registration")["response"]["transports"] == ["usb"]


def test_labels_are_short_and_printable() -> None:
    assert check_label("  YubiKey 5  ") == "YubiKey 5"
    for bad in ("", "   ", "x" * 65, "tab\there", None, 3):
        with pytest.raises(PasskeyBadRequest):
            check_label(bad)


# -- counters, methods, settings ------------------------------------------------------------------
@pytest.mark.parametrize("stored, new, cloned", [
    (0, 0, False),   # an authenticator without a counter
    (0, 1, False), (5, 6, False), (5, 100, False),
    (5, 5, True), (5, 4, True), (5, 0, True), (1, 0, True),
])
def test_a_counter_that_does_not_go_up_is_a_clone(stored: int, new: int, cloned: bool) -> None:
    assert counter_went_back(stored, new) is cloned


def test_session_methods_follow_rfc_8176() -> None:
    assert session_amr(True) == ["hwk", "user"]
    assert session_amr(False) == ["hwk"]
    assert session_amr(True, after_password=True) == ["pwd", "mfa", "hwk", "user"]


def test_only_a_recent_password_or_passkey_login_may_register() -> None:
    for amr in (["pwd"], ["pwd", "mfa", "otp"], ["hwk", "user"], ["pwd", "mfa", "hwk"]):
        assert login_is_fresh({"amr": amr, "age_s": 299.0}, 300) is None
        assert login_is_fresh({"amr": amr, "age_s": 301.0}, 300) == "age"
    for amr in (["sso"], ["mfa"], []):
        assert login_is_fresh({"amr": amr, "age_s": 0.0}, 300) == "method"
    assert config().passkey_reauth_s == 300


def test_origins_must_be_scheme_host_port() -> None:
    check_settings(config(passkey_origins=["https://aria.example", "http://localhost:8000"]))
    for bad in ("aria.example", "https://aria.example/login", "ftp://aria.example"):
        with pytest.raises(ValueError, match="passkey_origins"):
            check_settings(config(passkey_origins=[bad]))
    with pytest.raises(ValueError):
        config(passkey_user_verification="sometimes")
