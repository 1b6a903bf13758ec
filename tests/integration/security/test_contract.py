"""One suite over both implementations: the real SecurityService on OpenBao and the in-process
one other services use in unit tests. What passes here holds for both."""

from __future__ import annotations

import json
import uuid

import pytest

from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.security.errors import (
    DecryptionFailed,
    InvalidSecretPath,
    InvalidToken,
    SecretAccessDenied,
    SecretNotFound,
)
from aria_actors.security.tokens import JwtVerifier, b64url, b64url_decode

OPS = Principal.operator()  # direct calls skip the RPC gate; the caller is still recorded
STORAGE = Principal.internal("aria_storage")  # runs under aria_storage's own OpenBao policy


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
    assert await impl.kv_put(OPS, path, {"v": 1}) == 1
    assert await impl.kv_put(OPS, path, {"v": 2}) == 2
    assert await impl.kv_get(OPS, path) == {"v": 2} and await impl.kv_get(OPS, path, 1) == {"v": 1}
    assert await impl.kv_list(OPS, f"services/aria_storage/{ns}") == ["cfg"]
    assert (await impl.kv_versions(OPS, path))["current_version"] == 2
    await impl.kv_delete(OPS, path)
    with pytest.raises(SecretNotFound):
        await impl.kv_get(OPS, path)
    await impl.kv_undelete(OPS, path, [2])
    assert await impl.kv_get(OPS, path) == {"v": 2}


async def test_kv_errors_and_scoping(impl, ns) -> None:
    with pytest.raises(SecretNotFound):
        await impl.kv_get(OPS, f"services/aria_storage/{ns}/missing")
    with pytest.raises(SecretNotFound):
        await impl.kv_delete(OPS, f"services/aria_storage/{ns}/missing")
    with pytest.raises(InvalidSecretPath):
        await impl.kv_get(OPS, "../etc/passwd")
    await impl.kv_put(OPS, f"services/aria_queue/{ns}", {"k": 1})
    await impl.kv_put(OPS, f"shared/{ns}", {"k": 2})
    with pytest.raises(SecretAccessDenied):
        await impl.kv_get(STORAGE, f"services/aria_queue/{ns}")
    with pytest.raises(SecretAccessDenied):
        await impl.kv_put(STORAGE, f"shared/{ns}", {"k": 3})
    assert await impl.kv_get(STORAGE, f"shared/{ns}") == {"k": 2}
    assert await impl.kv_put(STORAGE, f"services/aria_storage/{ns}/own", {"k": 4}) == 1
    assert await impl.kv_list(STORAGE, f"services/aria_storage/{ns}") == ["own"]
    with pytest.raises(SecretAccessDenied):
        await impl.kv_list(STORAGE, "services/aria_queue")
    with pytest.raises(SecretAccessDenied):  # a service cannot borrow another one's policy
        await impl.kv_get(STORAGE, f"services/aria_queue/{ns}", service="aria_queue")
    with pytest.raises(SecretAccessDenied):  # service= only ever narrows an administrator's call
        await impl.kv_get(OPS, f"services/aria_queue/{ns}", service="aria_storage")


async def test_transit(impl, ns) -> None:
    key = f"aria_storage-{ns}"
    ct = await impl.encrypt(STORAGE, key, b"\x00payload")
    assert ct.startswith("vault:v1:")
    assert await impl.decrypt(OPS, key, ct) == b"\x00payload"
    assert await impl.rotate_key(OPS, key) == 2
    ct2 = await impl.rewrap(OPS, key, ct)
    assert ct2.startswith("vault:v2:") and await impl.decrypt(OPS, key, ct2) == b"\x00payload"
    assert await impl.decrypt(OPS, key, ct) == b"\x00payload"  # old versions still decrypt
    with pytest.raises(DecryptionFailed):
        await impl.decrypt(OPS, key, "garbage")
    with pytest.raises(SecretAccessDenied):
        await impl.encrypt(Principal.internal("aria_queue"), key, b"x")
    assert await impl.decrypt(STORAGE, key, ct) == b"\x00payload"
    dk = await impl.datakey(OPS, key)
    assert len(dk["plaintext"]) == 32 and await impl.decrypt(OPS, key, dk["ciphertext"]) == dk["plaintext"]


async def test_jwt(impl) -> None:
    token = await impl.issue_token(OPS, "u1", {"roles": ["user"], "tenant": "t"}, 60)
    claims = await impl.verify_token(OPS, token)
    assert claims["sub"] == "u1" and claims["roles"] == ["user"] and claims["iss"] == "aria"
    assert JwtVerifier(await impl.jwks(OPS)).verify(token)["sub"] == "u1"
    head, payload, sig = token.split(".")
    forged = json.loads(b64url_decode(payload)) | {"roles": ["admin"]}
    with pytest.raises(InvalidToken):
        await impl.verify_token(OPS, f"{head}.{b64url(json.dumps(forged).encode())}.{sig}")
    with pytest.raises(InvalidToken):
        await impl.verify_token(OPS, "malformed")
    with pytest.raises(InvalidSecretPath):
        await impl.issue_token(OPS, "u1", {"exp": 1}, 60)
    await impl.rotate_jwt_key(OPS)
    assert (await impl.verify_token(OPS, token))["sub"] == "u1"  # overlap


async def test_authorize(impl) -> None:
    alice = {"sub": "alice", "roles": ["user"], "tenant": "t"}
    assert await impl.authorize(OPS, alice, "storage:asset:write", {"owner": "alice", "tenant": "t"})
    assert not await impl.authorize(OPS, alice, "storage:asset:write", {"owner": "bob", "tenant": "t"})


async def test_nobody_mints_a_token_stronger_than_itself(impl) -> None:
    admin = Principal("root", ("admin",), tenant="t")
    for subject, claims in [("someone-else", None), ("root", {"roles": ["operator"]}),
                            ("root", {"roles": ["internal"]}), ("root", {"tenant": "t2"}),
                            ("root", {"svc": "aria_storage"}), ("root", {"sid": "borrowed"})]:
        with pytest.raises(Forbidden):
            await impl.issue_token(admin, subject, claims, 60)
    with pytest.raises(Forbidden):  # not even the operator mints a service's own role
        await impl.issue_token(OPS, "x", {"roles": ["internal"]}, 60)
    own = await impl.verify_token(OPS, await impl.issue_token(admin, "root", {"roles": ["admin"]}, 60))
    assert own["roles"] == ["admin"] and own["tenant"] == "t"  # the tenant cannot be dropped
    auth = Principal.internal("aria_auth")  # aria_auth signing a user's session token
    user = await impl.verify_token(OPS, await impl.issue_token(auth, "u7", {"roles": ["editor"], "sid": "s"}, 60))
    assert (user["sub"], user["roles"], user["sid"]) == ("u7", ["editor"], "s")


async def test_calls_through_the_rpc_boundary_are_authorised(impl) -> None:
    client = LocalClient(impl)
    alice = Principal("alice", ("user",), tenant="t")
    with pytest.raises(Forbidden):  # what a queue job enqueued by alice would call, as alice
        await client.call("issue_token", alice, "alice", {"roles": ["admin"]}, 60)
    with pytest.raises(Forbidden):
        await client.call("kv_get", alice, "shared/anything")
    with pytest.raises(Forbidden):
        await client.call("rotate_jwt_key", Principal("ops", ("operator",)))
    assert (await client.call("jwks", Principal.anonymous()))["keys"]
    token = await client.call("issue_token", OPS, "operator", {"roles": ["admin"]}, 60)
    assert (await client.call("verify_token", alice, token))["roles"] == ["admin"]
