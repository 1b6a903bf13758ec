"""An in-process aria_security for other services' unit tests (no OpenBao, no HSM, no Ray).

``InProcessSecurity`` has the same methods, arguments, return types, errors and scoping rules as
:class:`~aria_actors.security.service.SecurityService` for the calls other services make
(``kv_*``, ``encrypt``/``decrypt``/``rewrap``/``datakey``, ``issue_token``/``verify_token``/
``jwks``, ``authorize``, ``roles``), each declared with the real method's permission, so
``LocalClient(InProcessSecurity.started())`` authorises a call as the real service does. One
contract suite (``tests/integration/security/test_contract.py``) runs over both, so a unit test
written against this one holds against the real service.

Guarantees and caveats
----------------------
- Real cryptography: AES-256-GCM for transit (``vault:vN:`` ciphertexts), Ed25519 JWTs verified
  by the same :class:`~aria_actors.security.tokens.JwtVerifier`.
- Memory only: nothing survives the object, nothing is audited, no HSM. Never use it outside tests.
"""

from __future__ import annotations

import base64
import copy
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc, rpc_spec
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.spec import Health, Status
from aria_actors.security.errors import (
    DecryptionFailed,
    KeyNotFound,
    OpenBaoUnavailable,
    SecretAccessDenied,
    SecretNotFound,
    SecurityError,
)
from aria_actors.security.policies import service_scope
from aria_actors.security.rbac import Authorizer
from aria_actors.security.secrets import check_key_name, check_path
from aria_actors.security.service import SPEC, SecurityService
from aria_actors.security.tokens import (
    JwtVerifier,
    b64url,
    mintable_claims,
    signing_input_for,
)

F = TypeVar("F", bound=Callable[..., Any])


def _as_real(fn: F) -> F:
    """Declare ``fn`` with the permission of the real service's method of the same name."""
    spec = rpc_spec(getattr(SecurityService, fn.__name__))
    assert spec is not None, fn.__name__
    return rpc(spec.permission, scope=spec.scope, job=spec.job, public=spec.public)(fn)


def _allowed(service: str | None, path: str, write: bool) -> bool:
    if service is None:
        return True
    if path.startswith(f"services/{service}/"):
        return True
    return not write and path.startswith("shared/")


def _key_allowed(service: str | None, key: str) -> bool:
    return service is None or key == service or key.startswith(service + "-")


class InProcessSecurity(Service):
    """aria_security's service methods over dictionaries and local keys."""

    SPEC = SPEC

    def __init__(self, settings: Any = None, issuer: str = "aria", max_ttl_s: int = 3600) -> None:
        super().__init__(settings)
        self.issuer, self.max_ttl_s = issuer, max_ttl_s
        self._kv: dict[str, dict[int, dict[str, Any]]] = {}
        self._deleted: dict[str, set[int]] = {}
        self._keys: dict[str, list[bytes]] = {}
        self._jwt: list[Any] = []
        self._retired: dict[int, float] = {}
        self._authz = Authorizer()
        self._started = False

    @classmethod
    def started(cls, **kwargs: Any) -> InProcessSecurity:
        """A ready instance without an event loop (for sync fixtures)."""
        service = cls(**kwargs)
        service._rotate_jwt()
        service._started = True
        return service

    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        self._rotate_jwt()
        self._started = True

    async def health(self) -> Health:
        if not self._started:
            return Health(Status.STARTING, "not started")
        return Health(Status.READY, "in-process (tests only)", {"secrets": len(self._kv)})

    async def stop(self) -> None:
        self._started = False

    def _ready(self) -> None:
        if not self._started:
            raise OpenBaoUnavailable("aria_security is not started")

    # -- KV -----------------------------------------------------------------------------------
    def _versions(self, path: str, service: str | None, write: bool = False) -> dict[int, dict]:
        self._ready()
        path = check_path(path)
        if not _allowed(service, path, write):
            raise SecretAccessDenied(f"{path!r}: permission denied by policy", path=path)
        if path not in self._kv:
            raise SecretNotFound(f"read secret {path!r}: not found", path=path)
        return self._kv[path]

    @_as_real
    async def kv_get(self, caller: Principal, path: str, version: int | None = None, *,
                     service: str | None = None) -> dict[str, Any]:
        versions = self._versions(path, service_scope(caller, service))
        version = version or max(versions)
        if version not in versions or version in self._deleted.get(path, set()):
            raise SecretNotFound(f"read secret {path!r}: not found", path=path)
        return copy.deepcopy(versions[version])

    @_as_real
    async def kv_put(self, caller: Principal, path: str, data: dict[str, Any], *, cas: int | None = None,
                     service: str | None = None) -> int:
        self._ready()
        path = check_path(path)
        if not _allowed(service_scope(caller, service), path, write=True):
            raise SecretAccessDenied(f"{path!r}: permission denied by policy", path=path)
        versions = self._kv.setdefault(path, {})
        current = max(versions, default=0)
        if cas is not None and cas != current:
            raise SecurityError(f"write secret {path!r}: check-and-set mismatch", path=path)
        versions[current + 1] = copy.deepcopy(data)
        return current + 1

    @_as_real
    async def kv_list(self, caller: Principal, prefix: str = "", *, service: str | None = None) -> list[str]:
        self._ready()
        prefix = check_path(prefix, allow_empty=True)
        scope = service_scope(caller, service)
        if scope is not None and not _allowed(scope, prefix + "/", write=False):
            raise SecretAccessDenied(f"list {prefix!r}: permission denied by policy", path=prefix)
        base = f"{prefix}/" if prefix else ""
        names = {p[len(base):].split("/")[0] + ("/" if "/" in p[len(base):] else "")
                 for p in self._kv if p.startswith(base)}
        if not names:
            raise SecretNotFound(f"list secrets under {prefix!r}: not found", path=prefix)
        return sorted(names)

    @_as_real
    async def kv_delete(self, caller: Principal, path: str, versions: list[int] | None = None, *,
                        service: str | None = None) -> None:
        existing = self._versions(path, service_scope(caller, service), write=True)
        self._deleted.setdefault(path, set()).update(versions or [max(existing)])

    @_as_real
    async def kv_undelete(self, caller: Principal, path: str, versions: list[int], *,
                          service: str | None = None) -> None:
        self._versions(path, service_scope(caller, service), write=True)
        self._deleted.get(path, set()).difference_update(versions)

    @_as_real
    async def kv_versions(self, caller: Principal, path: str, *, service: str | None = None) -> dict[str, Any]:
        versions = self._versions(path, service_scope(caller, service))
        return {"current_version": max(versions), "oldest_version": min(versions),
                "versions": {v: {"created_time": None, "destroyed": False,
                                 "deletion_time": "deleted" if v in self._deleted.get(path, ()) else None}
                             for v in versions}}

    # -- transit ------------------------------------------------------------------------------
    def _key(self, name: str, service: str | None, create: bool) -> list[bytes]:
        self._ready()
        name = check_key_name(name)
        if not _key_allowed(service, name):
            raise SecretAccessDenied(f"transit key {name!r}: permission denied by policy", key=name)
        if name not in self._keys:
            if not create:
                raise KeyNotFound(f"no transit key {name!r}", key=name)
            self._keys[name] = [os.urandom(32)]
        return self._keys[name]

    @_as_real
    async def encrypt(self, caller: Principal, key_name: str, plaintext: bytes, *,
                      context: bytes | None = None, service: str | None = None) -> str:
        versions = self._key(key_name, service_scope(caller, service), create=True)
        nonce = os.urandom(12)
        ct = AESGCM(versions[-1]).encrypt(nonce, bytes(plaintext), context)
        return f"vault:v{len(versions)}:" + base64.b64encode(nonce + ct).decode()

    @_as_real
    async def decrypt(self, caller: Principal, key_name: str, ciphertext: str, *,
                      context: bytes | None = None, service: str | None = None) -> bytes:
        versions = self._key(key_name, service_scope(caller, service), create=False)
        try:
            _, tag, body = ciphertext.split(":", 2)
            raw = base64.b64decode(body)
            return AESGCM(versions[int(tag[1:]) - 1]).decrypt(raw[:12], raw[12:], context)
        except (ValueError, IndexError, InvalidTag, AttributeError):
            raise DecryptionFailed(f"decrypt with {key_name!r} failed", key=key_name) from None

    @_as_real
    async def rewrap(self, caller: Principal, key_name: str, ciphertext: str, *,
                     service: str | None = None) -> str:
        plaintext = await self.decrypt(caller, key_name, ciphertext, service=service)
        return await self.encrypt(caller, key_name, plaintext, service=service)

    @_as_real
    async def datakey(self, caller: Principal, key_name: str, bits: int = 256, *,
                      service: str | None = None) -> dict[str, Any]:
        key = os.urandom(bits // 8)
        return {"plaintext": key, "ciphertext": await self.encrypt(caller, key_name, key, service=service)}

    @_as_real
    async def rotate_key(self, caller: Principal, key_name: str) -> int:
        versions = self._key(key_name, None, create=False)
        versions.append(os.urandom(32))
        return len(versions)

    # -- JWT ----------------------------------------------------------------------------------
    def _rotate_jwt(self) -> int:
        if self._jwt:
            self._retired[len(self._jwt)] = time.time()
        self._jwt.append(Ed25519PrivateKey.generate())
        return len(self._jwt)

    @_as_real
    async def rotate_jwt_key(self, caller: Principal) -> int:
        self._ready()
        return self._rotate_jwt()

    @_as_real
    async def jwks(self, caller: Principal) -> dict[str, Any]:
        self._ready()
        now, keys = time.time(), []
        for v in range(len(self._jwt), 0, -1):
            if v in self._retired and self._retired[v] + self.max_ttl_s + 5 < now:
                continue
            raw = self._jwt[v - 1].public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            keys.append({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                         "kid": f"aria-jwt:v{v}", "x": b64url(raw)})
        return {"keys": keys}

    @_as_real
    async def issue_token(self, caller: Principal, subject: str, claims: dict[str, Any] | None = None,
                          ttl_s: int | None = None) -> str:
        self._ready()
        claims = mintable_claims(caller, subject, claims)
        version = len(self._jwt)
        signing_input = signing_input_for(f"aria-jwt:v{version}", self.issuer, subject, claims,
                                          ttl_s, min(900, self.max_ttl_s), self.max_ttl_s)
        return f"{signing_input}.{b64url(self._jwt[-1].sign(signing_input.encode()))}"

    @_as_real
    async def verify_token(self, caller: Principal, token: str) -> dict[str, Any]:
        return JwtVerifier(await self.jwks(caller), self.issuer).verify(token)

    @_as_real
    async def authorize(self, caller: Principal, principal: dict[str, Any], action: str,
                        resource: dict[str, Any] | None = None) -> bool:
        self._ready()
        return self._authz.authorize(principal, action, resource)

    @_as_real
    async def roles(self, caller: Principal) -> dict[str, list[str]]:
        self._ready()
        return {role: list(perms) for role, perms in self._authz.roles.items()}
