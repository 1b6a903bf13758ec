"""KV v2 and transit through aria_security against the real OpenBao."""

from __future__ import annotations

import base64
import json
import os

import pytest

from aria_actors.runtime.principal import Principal
from aria_actors.security.errors import DecryptionFailed, InvalidSecretPath, SecretNotFound

OPS = Principal.operator()  # direct calls skip the RPC gate; the caller is still recorded


async def test_kv_versions_delete_undelete_destroy(security) -> None:
    path = "services/aria_storage/kv-cycle"
    assert await security.kv_put(OPS, path, {"v": 1}) == 1
    assert await security.kv_put(OPS, path, {"v": 2}) == 2
    assert await security.kv_get(OPS, path) == {"v": 2}
    assert await security.kv_get(OPS, path, 1) == {"v": 1}
    versions = await security.kv_versions(OPS, path)
    assert versions["current_version"] == 2 and set(versions["versions"]) == {1, 2}
    await security.kv_delete(OPS, path)
    with pytest.raises(SecretNotFound):
        await security.kv_get(OPS, path)
    assert (await security.kv_versions(OPS, path))["versions"][2]["deletion_time"]
    await security.kv_undelete(OPS, path, [2])
    assert await security.kv_get(OPS, path) == {"v": 2}
    await security.kv_destroy(OPS, path)
    with pytest.raises(SecretNotFound):
        await security.kv_versions(OPS, path)


async def test_kv_list_and_cas(security) -> None:
    await security.kv_put(OPS, "services/aria_engine/a", {"x": 1})
    await security.kv_put(OPS, "services/aria_engine/dir/b", {"x": 2})
    assert await security.kv_list(OPS, "services/aria_engine") == ["a", "dir/"]
    from aria_actors.security.errors import SecurityError

    with pytest.raises(SecurityError):
        await security.kv_put(OPS, "services/aria_engine/a", {"x": 3}, cas=0)  # exists already


async def test_unknown_path_and_bad_paths(security) -> None:
    with pytest.raises(SecretNotFound) as err:
        await security.kv_get(OPS, "services/aria_storage/never-written")
    assert err.value.status == 404
    for bad in ("", "/abs", "a/../b", "a//b", "sp ace", "trailing/"):
        with pytest.raises(InvalidSecretPath):
            await security.kv_get(OPS, bad)


async def test_transit_encrypt_decrypt_rewrap_rotate(security) -> None:
    ct1 = await security.encrypt(OPS, "aria_data-rows", b"\x00row bytes\xff")
    assert ct1.startswith("vault:v")
    assert await security.decrypt(OPS, "aria_data-rows", ct1) == b"\x00row bytes\xff"
    v1 = int(ct1.split(":")[1][1:])
    assert await security.rotate_key(OPS, "aria_data-rows") == v1 + 1
    ct2 = await security.rewrap(OPS, "aria_data-rows", ct1)
    assert ct2.startswith(f"vault:v{v1 + 1}:")
    assert await security.decrypt(OPS, "aria_data-rows", ct2) == b"\x00row bytes\xff"
    with pytest.raises(DecryptionFailed):
        await security.decrypt(OPS, "aria_data-rows", "vault:v1:" + base64.b64encode(os.urandom(40)).decode())
    with pytest.raises(DecryptionFailed):
        await security.decrypt(OPS, "aria_data-rows", "not a ciphertext")


async def test_datakey_for_envelope_encryption(security) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    storage = Principal.internal("aria_storage")
    dk = await security.datakey(storage, "aria_storage-chunks")
    assert len(dk["plaintext"]) == 32
    nonce = os.urandom(12)
    sealed = AESGCM(dk["plaintext"]).encrypt(nonce, b"chunk", None)
    # the wrapped key alone, decrypted again by transit, opens the data
    key = await security.decrypt(storage, "aria_storage-chunks", dk["ciphertext"])
    assert AESGCM(key).decrypt(nonce, sealed, None) == b"chunk"


async def test_typed_client_through_a_pickling_transport(security) -> None:
    """What another service does: ``deps.of(SecurityClient).x(ME, ...)`` as itself."""
    from aria_actors.runtime.local import LocalClient
    from aria_actors.runtime.rpc import bind
    from aria_actors.security.client import SecurityClient

    client = bind(SecurityClient, LocalClient(security))
    me = Principal.internal("aria_workflow")
    version = await client.kv_put(me, "services/aria_workflow/cfg", {"a": 1})
    assert isinstance(version, int)
    assert await client.kv_get(me, "services/aria_workflow/cfg") == {"a": 1}
    ct = await client.encrypt(me, "aria_workflow", b"bytes")
    assert isinstance(ct, str) and await client.decrypt(me, "aria_workflow", ct) == b"bytes"
    token = await client.issue_token(me, "user-x", {"roles": ["user"], "tenant": "t"}, 60)
    claims = await client.verify_token(me, token)
    assert claims["sub"] == "user-x"
    assert await client.authorize(me, claims, "storage:asset:write", {"owner": "user-x", "tenant": "t"}) is True
    assert await client.authorize(me, claims, "storage:asset:write", {"owner": "someone", "tenant": "t"}) is False
    records = [json.loads(x) for x in security._audit.path.read_text().splitlines()]
    assert ("svc:aria_workflow", "kv_put", "services/aria_workflow/cfg", "ok") in {
        (r["actor"], r["op"], r["target"], r["outcome"]) for r in records}  # the caller is the actor
