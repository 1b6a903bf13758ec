"""One suite over both implementations: the real SecurityService on OpenBao and the in-process
one other services use in unit tests. What passes here holds for both."""

from __future__ import annotations

import json
import uuid

import pytest

from aria_actors.security.errors import (
    DecryptionFailed,
    InvalidSecretPath,
    InvalidToken,
    SecretAccessDenied,
    SecretNotFound,
)
from aria_actors.security.tokens import JwtVerifier, b64url, b64url_decode


@pytest.fixture(params=["openbao", "in_process"])
def impl(request):
    if request.param == "openbao":
        return request.getfixturevalue("security")
    from aria_actors.security.testing import InProcessSecurity

    return InProcessSecurity.started()


@pytest.fixture
def ns() -> str:
    return uuid.uuid4().hex[:8]


async def test_kv_lifecycle(impl, ns) -> None:
    path = f"services/aria_storage/{ns}/cfg"
    assert await impl.kv_put(path, {"v": 1}) == 1
    assert await impl.kv_put(path, {"v": 2}) == 2
    assert await impl.kv_get(path) == {"v": 2} and await impl.kv_get(path, 1) == {"v": 1}
    assert await impl.kv_list(f"services/aria_storage/{ns}") == ["cfg"]
    assert (await impl.kv_versions(path))["current_version"] == 2
    await impl.kv_delete(path)
    with pytest.raises(SecretNotFound):
        await impl.kv_get(path)
    await impl.kv_undelete(path, [2])
    assert await impl.kv_get(path) == {"v": 2}


async def test_kv_errors_and_scoping(impl, ns) -> None:
    with pytest.raises(SecretNotFound):
        await impl.kv_get(f"services/aria_storage/{ns}/missing")
    with pytest.raises(SecretNotFound):
        await impl.kv_delete(f"services/aria_storage/{ns}/missing")
    with pytest.raises(InvalidSecretPath):
        await impl.kv_get("../etc/passwd")
    await impl.kv_put(f"services/aria_queue/{ns}", {"k": 1})
    await impl.kv_put(f"shared/{ns}", {"k": 2})
    with pytest.raises(SecretAccessDenied):
        await impl.kv_get(f"services/aria_queue/{ns}", service="aria_storage")
    with pytest.raises(SecretAccessDenied):
        await impl.kv_put(f"shared/{ns}", {"k": 3}, service="aria_storage")
    assert await impl.kv_get(f"shared/{ns}", service="aria_storage") == {"k": 2}
    assert await impl.kv_put(f"services/aria_storage/{ns}/own", {"k": 4}, service="aria_storage") == 1


async def test_transit(impl, ns) -> None:
    key = f"aria_storage-{ns}"
    ct = await impl.encrypt(key, b"\x00payload", service="aria_storage")
    assert ct.startswith("vault:v1:")
    assert await impl.decrypt(key, ct) == b"\x00payload"
    assert await impl.rotate_key(key) == 2
    ct2 = await impl.rewrap(key, ct)
    assert ct2.startswith("vault:v2:") and await impl.decrypt(key, ct2) == b"\x00payload"
    assert await impl.decrypt(key, ct) == b"\x00payload"  # old versions still decrypt
    with pytest.raises(DecryptionFailed):
        await impl.decrypt(key, "garbage")
    with pytest.raises(SecretAccessDenied):
        await impl.encrypt(key, b"x", service="aria_queue")
    dk = await impl.datakey(key)
    assert len(dk["plaintext"]) == 32 and await impl.decrypt(key, dk["ciphertext"]) == dk["plaintext"]


async def test_jwt(impl) -> None:
    token = await impl.issue_token("u1", {"roles": ["user"], "tenant": "t"}, 60)
    claims = await impl.verify_token(token)
    assert claims["sub"] == "u1" and claims["roles"] == ["user"] and claims["iss"] == "aria"
    assert JwtVerifier(await impl.jwks()).verify(token)["sub"] == "u1"
    head, payload, sig = token.split(".")
    forged = json.loads(b64url_decode(payload)) | {"roles": ["admin"]}
    with pytest.raises(InvalidToken):
        await impl.verify_token(f"{head}.{b64url(json.dumps(forged).encode())}.{sig}")
    with pytest.raises(InvalidToken):
        await impl.verify_token("malformed")
    with pytest.raises(InvalidSecretPath):
        await impl.issue_token("u1", {"exp": 1}, 60)
    await impl.rotate_jwt_key()
    assert (await impl.verify_token(token))["sub"] == "u1"  # overlap


async def test_authorize(impl) -> None:
    alice = {"sub": "alice", "roles": ["user"], "tenant": "t"}
    assert await impl.authorize(alice, "storage:asset:write", {"owner": "alice", "tenant": "t"})
    assert not await impl.authorize(alice, "storage:asset:write", {"owner": "bob", "tenant": "t"})
