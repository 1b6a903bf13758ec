"""JWTs signed by transit, the audit trails, and certificates from the PKI engine."""

from __future__ import annotations

import json
import os
import time

import pytest

from aria_actors.runtime.principal import Principal
from aria_actors.security.errors import InvalidToken
from aria_actors.security.tokens import JwtVerifier, b64url, b64url_decode

OPS = Principal.operator()  # direct calls skip the RPC gate; the caller is still recorded


async def test_jwt_round_trip_and_tamper(security) -> None:
    token = await security.issue_token(OPS, "svc:aria_storage", {"roles": ["service"], "tenant": "t1"}, 120)
    claims = await security.verify_token(OPS, token)
    assert claims["sub"] == "svc:aria_storage" and claims["roles"] == ["service"]
    assert claims["exp"] - claims["iat"] == 120
    head, payload, sig = token.split(".")
    forged = json.loads(b64url_decode(payload))
    forged["roles"] = ["admin"]
    with pytest.raises(InvalidToken):
        await security.verify_token(OPS, f"{head}.{b64url(json.dumps(forged).encode())}.{sig}")
    bad_sig = sig[:-4] + ("AAAA" if not sig.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidToken):
        await security.verify_token(OPS, f"{head}.{payload}.{bad_sig}")
    none_head = b64url(json.dumps({"alg": "none", "kid": "aria-jwt:v1"}).encode())
    with pytest.raises(InvalidToken):
        await security.verify_token(OPS, f"{none_head}.{payload}.")


async def test_jwks_verifies_tokens_outside_the_service(security) -> None:
    token = await security.issue_token(OPS, "user-7", {"roles": ["viewer"]}, 60)
    jwks = await security.jwks(OPS)
    assert all(k["kty"] == "OKP" and k["crv"] == "Ed25519" for k in jwks["keys"])
    assert JwtVerifier(jwks).verify(token)["sub"] == "user-7"


async def test_rotation_keeps_old_tokens_valid_for_the_overlap(security) -> None:
    old = await security.issue_token(OPS, "user-8", None, 300)
    old_kid = JwtVerifier({}).header(old)["kid"]
    version = await security.rotate_jwt_key(OPS)
    new = await security.issue_token(OPS, "user-8", None, 300)
    assert JwtVerifier({}).header(new)["kid"].endswith(f":v{version}")
    assert (await security.verify_token(OPS, old))["sub"] == "user-8"
    assert (await security.verify_token(OPS, new))["sub"] == "user-8"
    kids = [k["kid"] for k in (await security.jwks(OPS))["keys"]]
    assert old_kid in kids and f"aria-jwt:v{version}" in kids
    # past the overlap (max_ttl + leeway after the rotation), the retired key leaves the JWKS
    from aria_actors.security.tokens import jwks_from_transit

    key = security._secrets.read_key("aria-jwt")
    later = jwks_from_transit("aria-jwt", key, overlap_s=security.config.jwt_max_ttl_s + 5,
                              now=time.time() + security.config.jwt_max_ttl_s + 10)
    assert [k["kid"] for k in later["keys"]] == [f"aria-jwt:v{version}"]
    with pytest.raises(InvalidToken):
        JwtVerifier(later).verify(old)


async def test_expired_token_refused(security) -> None:
    token = await security.issue_token(OPS, "user-9", None, 1)
    claims = JwtVerifier(await security.jwks(OPS)).verify(token)
    with pytest.raises(InvalidToken, match="expired"):
        JwtVerifier(await security.jwks(OPS), leeway_s=0).verify(token, now=claims["exp"] + 1)


async def test_audit_logs_record_operations_but_never_values(security) -> None:
    secret = "s3cr3t-" + os.urandom(10).hex()
    path = "services/aria_monitor/audit-probe"
    await security.kv_put(OPS, path, {"password": secret})
    assert (await security.kv_get(OPS, path))["password"] == secret
    ct = await security.encrypt(OPS, "aria_monitor", secret.encode())
    await security.decrypt(OPS, "aria_monitor", ct)
    with pytest.raises(Exception):  # noqa: B017 (any typed error; the record is what matters)
        await security.kv_get(Principal.internal("aria_monitor"), "services/aria_queue/private")
    aria_log = security._audit.path.read_text()
    records = [json.loads(line) for line in aria_log.splitlines()]
    ops = {(r["op"], r["target"], r["outcome"]) for r in records}
    assert ("kv_put", path, "ok") in ops and ("kv_get", path, "ok") in ops
    assert ("encrypt", "aria_monitor", "ok") in ops and ("decrypt", "aria_monitor", "ok") in ops
    assert ("kv_get", "services/aria_queue/private", "denied") in ops
    who = {(r["actor"], r["op"], r["target"], r["outcome"]) for r in records}  # the caller is the actor
    assert ("operator", "kv_put", path, "ok") in who
    assert ("svc:aria_monitor", "kv_get", "services/aria_queue/private", "denied") in who
    bao_log = security._bao.audit_log.read_text()
    assert "audit-probe" in bao_log  # OpenBao's device saw the request...
    for log in (aria_log, bao_log, ct):
        assert secret not in log      # ...but neither trail holds the value
    assert secret not in security._bao.log_tail(10**7)


async def test_pki_issue_revoke_crl(security) -> None:
    from cryptography import x509

    cert = await security.issue_certificate(OPS, "storage.aria.internal", ip_sans=["127.0.0.1"], ttl="1h")
    parsed = x509.load_pem_x509_certificate(cert["certificate"].encode())
    ca = x509.load_pem_x509_certificate((await security.ca_certificate(OPS)).encode())
    assert parsed.issuer == ca.subject
    parsed.verify_directly_issued_by(ca)
    await security.revoke_certificate(OPS, cert["serial_number"])
    crl = x509.load_pem_x509_crl((await security.crl(OPS)).encode())
    assert crl.get_revoked_certificate_by_serial_number(parsed.serial_number) is not None
    from aria_actors.security.errors import OpenBaoRejected

    # A name outside the PKI role's domains is the caller's mistake: a 400, not a 500.
    with pytest.raises(OpenBaoRejected) as refused:
        await security.issue_certificate(OPS, "evil.example.com")
    assert refused.value.status == 400


async def test_repeated_denials_lock_out_and_alert(security) -> None:
    auth = Principal.internal("aria_auth")  # a service deciding for its callers
    principal = {"sub": "mallory", "roles": ["viewer"], "tenant": "t1"}
    alerts = security._lockout.alerts
    for _ in range(security.config.lockout_threshold):
        assert not await security.authorize(auth, principal, "security:secret:read", {"tenant": "t1"})
    assert security._lockout.alerts == alerts + 1
    # locked out: even an allowed action is refused until the lockout ends
    assert not await security.authorize(auth, principal, "storage:asset:read", {"tenant": "t1"})
    assert await security.authorize(auth, {"sub": "alice", "roles": ["viewer"], "tenant": "t1"},
                                    "storage:asset:read", {"tenant": "t1"})


async def test_asking_about_someone_else_cannot_lock_them_out(security) -> None:
    nosy = Principal("nosy", ("viewer",), tenant="t1")
    victim = {"sub": "victim-admin", "roles": ["viewer"], "tenant": "t1"}
    for _ in range(security.config.lockout_threshold + 2):
        assert not await security.authorize(nosy, victim, "security:secret:read", {})
    assert await security.authorize(nosy, victim, "storage:asset:read", {"tenant": "t1"})


async def test_scheduled_rotation_rotates_due_keys_with_audit_records(security) -> None:
    await security.encrypt(OPS, "aria_queue-payloads", b"x")
    old = await security.issue_token(OPS, "user-r", None, 300)
    ct = await security.encrypt(OPS, "aria_queue-payloads", b"before rotation")
    assert await security.rotate_due_keys() == {}  # nothing is 30 days old
    rotated = await security.rotate_due_keys(max_age_s=0)
    assert {"aria-jwt", "aria_queue-payloads"} <= rotated.keys()
    assert (await security.verify_token(OPS, old))["sub"] == "user-r"  # overlap
    assert await security.decrypt(OPS, "aria_queue-payloads", ct) == b"before rotation"
    new = JwtVerifier({}).header(await security.issue_token(OPS, "user-r", None, 60))["kid"]
    assert new == f"aria-jwt:v{rotated['aria-jwt']}"
    records = [json.loads(x) for x in security._audit.path.read_text().splitlines()]
    scheduled = {r["target"]: r["outcome"] for r in records if r["op"] == "scheduled_rotation"}
    assert scheduled["aria_queue-payloads"] == f"ok:v{rotated['aria_queue-payloads']}"


async def test_service_jwt_and_metrics(security) -> None:
    token = await security.issue_service_token(OPS, "aria_storage", 60)
    claims = await security.verify_token(OPS, token)
    from aria_actors.runtime.errors import Forbidden

    with pytest.raises(Forbidden):  # a service mints service tokens for itself only
        await security.issue_service_token(Principal.internal("aria_queue"), "aria_storage", 60)
    assert await security.issue_service_token(Principal.internal("aria_storage"), "aria_storage", 60)
    assert claims["sub"] == "svc:aria_storage" and claims["roles"] == ["service"]
    assert await security.authorize(OPS, claims, "queue:job:write", {"tenant": "t1"})
    assert not await security.authorize(OPS, claims, "security:secret:read", {})
    await security.health()
    text = await security.metrics_text(OPS)
    assert 'aria_security_operations_total{op="issue_token",outcome="ok"}' in text
    assert "aria_security_openbao_up 1.0" in text
    assert 'aria_security_authorizations_total{outcome="denied"}' in text
    assert "services/" not in text  # no paths in labels


async def test_a_rotation_by_another_process_is_picked_up(security, tmp_path) -> None:
    from aria_actors.runtime.service import Deps
    from aria_actors.runtime.settings import AriaSettings
    from aria_actors.security.config import SecurityConfig
    from aria_actors.security.service import SecurityService

    other = SecurityService(AriaSettings(home=tmp_path, openbao_url=security._client.url),
                            SecurityConfig(openbao_token=security._client.token, rotation_check_s=0))
    await other.start(Deps())
    try:
        version = await other.rotate_jwt_key(OPS)
    finally:
        await other.stop()
    security._jwks_at = 0.0  # as if JWKS_REFRESH_S had passed
    token = await security.issue_token(OPS, "user-z", None, 60)
    assert JwtVerifier({}).header(token)["kid"] == f"aria-jwt:v{version}"
    assert (await security.verify_token(OPS, token))["sub"] == "user-z"


@pytest.mark.parametrize("principal", [{"sub": "a", "roles": 5}, {"sub": "a", "roles": [[1]]},
                                       {"sub": "a", "roles": {"a": 1}}, {"sub": ["a"]},
                                       {"sub": "a", "roles": ["user"], "tenant": {"t": 1}}, "alice"])
async def test_authorize_refuses_a_malformed_principal_with_400(security, principal) -> None:
    from aria_actors.runtime.errors import BadRequest

    with pytest.raises(BadRequest):
        await security.authorize(Principal.internal("aria_auth"), principal, "storage:asset:read", {})
    with pytest.raises(BadRequest):
        await security.authorize(OPS, {"sub": "a", "roles": ["user"]}, "storage:asset:read", {"owner": 5})


async def test_verify_token_refuses_malformed_headers_with_invalid_token(security) -> None:
    token = await security.issue_token(OPS, "user-m", None, 60)
    body, sig = token.split(".")[1:]
    for header in ({"alg": "EdDSA", "kid": [1]}, {"alg": "EdDSA", "kid": {"a": 1}}, {"alg": [1]}, [1]):
        with pytest.raises(InvalidToken):
            await security.verify_token(OPS, f"{b64url(json.dumps(header).encode())}.{body}.{sig}")
