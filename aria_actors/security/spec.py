"""The spec of aria_security: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

FEATURES = (
    "openbao",
    "softhsm-unseal",
    "secret-rotation",
    "jwt",
    "rbac",
    "auth-middleware",
    "zero-trust-policies",
    "pki",
    "audit-log",
    "intrusion-detection",
    "security-metrics",
)

SPEC = ServiceSpec(
    name="aria_security",
    layer=1,
    depends_on=(),
    kind="actor",
    num_cpus=0.0,
    # each one is exercised against a real OpenBao + SoftHSM in tests/integration/security
    capabilities=FEATURES,  # every seed feature is built and tested
    features=FEATURES,
    description="Secrets on OpenBao, unseal key in SoftHSM over PKCS#11, signing keys, RBAC, audit",
    entrypoint="aria_actors.security.service:SecurityService",
)
