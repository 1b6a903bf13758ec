"""aria_security: Secrets on OpenBao, unseal key in SoftHSM over PKCS#11, signing keys, RBAC, audit.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.runtime.service import UnbuiltService
from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_security",
    layer=1,
    depends_on=(),
    kind="actor",
    num_cpus=0.0,
    capabilities=(),
    features=(
        'openbao',
        'softhsm-unseal',
        'secret-rotation',
        'jwt',
        'rbac',
        'auth-middleware',
        'zero-trust-policies',
        'pki',
        'audit-log',
        'intrusion-detection',
        'security-metrics',
    ),
    description="Secrets on OpenBao, unseal key in SoftHSM over PKCS#11, signing keys, RBAC, audit",
    entrypoint="aria_actors.security.service:SecurityService",
)


class SecurityService(UnbuiltService):
    SPEC = SPEC
