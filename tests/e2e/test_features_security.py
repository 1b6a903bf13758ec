"""aria_security's built features through the gateway of a running `aria up` (the shared one):
secrets in OpenBao, the SoftHSM unseal, key rotation, JWTs and the gateway's check of them, RBAC,
service tokens, the PKI, the audit trail, lockouts and metrics."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from aria_actors.runtime.errors import AriaError
from aria_actors.sdk import AriaClient
from aria_actors.security.errors import SecretNotFound
from aria_actors.security.tokens import JwtVerifier, b64url, b64url_decode
from tests.fixtures.aria_up import RunningAria

PASSWORD = "e2e features passphrase"


@pytest.fixture(scope="module")
def aria(shared_aria: RunningAria) -> Iterator[AriaClient]:
    with AriaClient(shared_aria.url, token=shared_aria.token(), timeout=60) as client:
        yield client


def _account(aria: AriaClient, url: str, role: str = "viewer") -> tuple[str, str]:
    """A new account's ``(subject, access token)``, logged in through aria_auth."""
    name = f"e2e-{role}-{uuid.uuid4().hex[:8]}"
    user = aria.auth.create_user(name, PASSWORD, roles=[role])
    with AriaClient(url) as anonymous:
        tokens = anonymous.auth.login(name, PASSWORD)
    return user["id"], tokens["access_token"]


def test_secrets_keep_versions_and_a_deleted_one_comes_back(aria: AriaClient) -> None:
    path = f"e2e/features/{uuid.uuid4().hex[:8]}"
    assert aria.security.put_secret(path, {"v": 1})["version"] == 1
    assert aria.security.put_secret(path, {"v": 2})["version"] == 2
    assert aria.security.get_secret(path)["data"] == {"v": 2}
    assert aria.security.get_secret(path, version=1)["data"] == {"v": 1}
    versions = aria.security.secret_versions(path)
    assert versions["current_version"] == 2 and set(versions["versions"]) == {"1", "2"}
    assert path.rsplit("/", 1)[1] in aria.security.list_secrets("e2e/features/")["keys"]
    aria.security.delete_secret(path)
    with pytest.raises(SecretNotFound):
        aria.security.get_secret(path)
    assert aria.security.secret_versions(path)["versions"]["2"]["deletion_time"]
    aria.security.undelete_secret(path, [2])
    assert aria.security.get_secret(path)["data"] == {"v": 2}


def test_a_sealed_openbao_is_unsealed_with_the_key_softhsm_holds(aria: AriaClient) -> None:
    path = f"e2e/features/seal-{uuid.uuid4().hex[:8]}"
    aria.security.put_secret(path, {"kept": True})
    assert aria.security.seal() == {"sealed": True}
    try:
        with pytest.raises(AriaError) as sealed:  # every secret call fails while sealed
            aria.security.get_secret(path)
        assert sealed.value.type == "openbao-unavailable"
    finally:
        unsealed = aria.security.unseal()
    assert unsealed == {"sealed": False}
    assert aria.security.get_secret(path)["data"] == {"kept": True}


def test_tokens_signed_before_and_after_a_key_rotation_both_open_the_gateway(
        aria: AriaClient, shared_aria: RunningAria) -> None:
    # Anyone but the operator mints tokens for itself only, with at most its own roles.
    subject, login = _account(aria, shared_aria.url, "admin")
    with AriaClient(shared_aria.url, token=login) as admin:
        before = admin.security.issue_token(subject, {"roles": ["admin"]}, ttl_s=300)["token"]
        version = aria.security.rotate_key("jwt")["version"]
        after = admin.security.issue_token(subject, {"roles": ["admin"]}, ttl_s=300)["token"]
    kids = {JwtVerifier({}).header(t)["kid"] for t in (before, after)}
    assert f"aria-jwt:v{version}" in kids and len(kids) == 2
    jwks = aria.security.jwks()
    assert kids <= {k["kid"] for k in jwks["keys"]}
    for token in (before, after):  # verified by the service, by the JWKS alone, and at the gateway
        assert aria.security.verify_token(token)["claims"]["sub"] == subject
        assert JwtVerifier(jwks).verify(token)["sub"] == subject
        with AriaClient(shared_aria.url, token=token) as holder:
            assert holder.security.audit(limit=1)  # an administrator's read, audited as the caller
    assert len(aria.security.audit(op="audit_read", actor=subject)) == 2


def test_the_gateway_refuses_a_forged_token(aria: AriaClient, shared_aria: RunningAria) -> None:
    _, token = _account(aria, shared_aria.url)
    head, payload, sig = token.split(".")
    claims = json.loads(b64url_decode(payload))
    forged = f"{head}.{b64url(json.dumps({**claims, 'roles': ['admin']}).encode())}.{sig}"
    r = httpx.get(f"{shared_aria.url}/v1/security/roles", headers={"authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["type"].endswith("/invalid-token"), r.text
    r = httpx.get(f"{shared_aria.url}/v1/security/roles", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200 and "viewer" in r.json()
    with pytest.raises(AriaError) as refused:
        aria.security.verify_token(forged)
    assert refused.value.type == "invalid-token"


def test_rbac_decides_by_the_role_table(aria: AriaClient) -> None:
    table = aria.security.roles()
    assert table["admin"] == ["*:*:*@any"] and "!security:secret:*" in table["viewer"]
    viewer = {"sub": f"e2e-rbac-{uuid.uuid4().hex[:6]}", "roles": ["viewer"]}
    assert aria.security.authorize(viewer, "storage:asset:read") == {"allowed": True}
    assert aria.security.authorize(viewer, "security:secret:read") == {"allowed": False}
    assert aria.security.authorize({**viewer, "roles": ["admin"]}, "security:secret:read") == {"allowed": True}


def test_repeated_denials_lock_a_principal_out_and_the_audit_trail_has_the_alert(
        aria: AriaClient, shared_aria: RunningAria) -> None:
    subject, token = _account(aria, shared_aria.url)
    me = {"sub": subject, "roles": ["viewer"]}
    with AriaClient(shared_aria.url, token=token) as viewer:
        assert viewer.security.authorize(me, "storage:asset:read") == {"allowed": True}
        answers = [viewer.security.authorize(me, "security:secret:read")["allowed"] for _ in range(10)]
        assert answers == [False] * 10  # the default threshold: 10 denials in the window
        # locked out: what the role allows is refused too until the lockout ends
        assert viewer.security.authorize(me, "storage:asset:read") == {"allowed": False}
    (alert,) = aria.security.audit(op="lockout", actor=subject)
    assert alert["subject"] == subject and alert["outcome"] == "alert"
    trail = aria.security.audit(limit=1000, op="authorize", actor=subject)
    outcomes = [r["outcome"] for r in reversed(trail)]  # newest first: oldest first now
    assert outcomes == ["ok"] + ["denied"] * 10 + ["locked_out"], outcomes


def test_a_service_token_reaches_only_that_service_s_secrets(aria: AriaClient) -> None:
    import hvac  # hvac: talks to OpenBao directly, as the service holding the token would

    tag = uuid.uuid4().hex[:8]
    aria.security.put_secret(f"services/aria_storage/e2e-{tag}", {"k": "storage"})
    aria.security.put_secret(f"services/aria_auth/e2e-{tag}", {"k": "auth"})
    got = aria.security.service_token("aria_storage")
    assert got["policies"] == ["aria-svc-aria_storage"] and got["ttl_s"] > 0
    bao = hvac.Client(got["url"], token=got["token"])
    own = bao.secrets.kv.v2.read_secret_version(f"services/aria_storage/e2e-{tag}", mount_point="secret",
                                                 raise_on_deleted_version=True)
    assert own["data"]["data"] == {"k": "storage"}
    with pytest.raises(hvac.exceptions.Forbidden):  # OpenBao's policy refuses another service's path
        bao.secrets.kv.v2.read_secret_version(f"services/aria_auth/e2e-{tag}", mount_point="secret",
                                              raise_on_deleted_version=True)


def test_certificates_come_from_the_ca_and_a_revoked_one_is_in_the_crl(aria: AriaClient) -> None:
    from cryptography import x509  # cryptography: parses what the PKI answered

    cert = aria.security.issue_certificate(f"e2e-{uuid.uuid4().hex[:6]}.aria.internal",
                                           ip_sans=["127.0.0.1"], ttl="1h")
    parsed = x509.load_pem_x509_certificate(cert["certificate"].encode())
    ca = x509.load_pem_x509_certificate(aria.security.ca_certificate())
    parsed.verify_directly_issued_by(ca)
    aria.security.revoke_certificate(cert["serial_number"])
    crl = x509.load_pem_x509_crl(aria.security.crl())
    assert crl.get_revoked_certificate_by_serial_number(parsed.serial_number) is not None


def test_metrics_count_the_operations_done(aria: AriaClient) -> None:
    def issued() -> float:
        text = aria.security.metrics().decode()
        line = next((x for x in text.splitlines()
                     if x.startswith('aria_security_operations_total{op="issue_token",outcome="ok"}')), "")
        return float(line.rsplit(" ", 1)[1]) if line else 0.0

    before = issued()
    aria.security.issue_token("operator", ttl_s=60)
    assert issued() == before + 1
    # The gauge follows the supervisor's health probes; on a loaded machine one of them may have
    # found OpenBao slow (0). It must read 1 again within a few probes (one every few seconds).
    for _ in range(60):
        if "aria_security_openbao_up 1.0" in aria.security.metrics().decode():
            break
        time.sleep(1)
    assert "aria_security_openbao_up 1.0" in aria.security.metrics().decode()
