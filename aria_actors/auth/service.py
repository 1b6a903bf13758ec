"""aria_auth: Users, sessions, tokens, MFA, OAuth2/OIDC, permissions.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.runtime.service import UnbuiltService
from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_auth",
    layer=2,
    depends_on=('aria_security', 'aria_data'),
    kind="actor",
    num_cpus=0.0,
    capabilities=(),
    features=(
        'mfa',
        'oauth2-oidc',
        'sessions',
        'webrtc-peer-auth',
        'biometric',
        'permissions',
        'dynamic-roles',
        'resource-access-control',
        'endpoint-protection',
        'service-auth',
    ),
    description="Users, sessions, tokens, MFA, OAuth2/OIDC, permissions",
    entrypoint="aria_actors.auth.service:AuthService",
)


class AuthService(UnbuiltService):
    SPEC = SPEC
