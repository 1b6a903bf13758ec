"""aria_security: Secrets on OpenBao, unseal key in SoftHSM over PKCS#11, signing keys, RBAC, audit."""

from __future__ import annotations

__all__: list[str] = []
