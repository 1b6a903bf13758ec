"""The spec of aria_auth: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

FEATURES = (
    "mfa",
    "oauth2-oidc",
    "sessions",
    "webrtc-peer-auth",
    "biometric",
    "permissions",
    "dynamic-roles",
    "resource-access-control",
    "endpoint-protection",
    "service-auth",
)

SPEC = ServiceSpec(
    name="aria_auth",
    layer=2,
    depends_on=('aria_security', 'aria_data'),
    kind="actor",
    num_cpus=0.0,
    capabilities=("sessions", "mfa", "dynamic-roles", "service-auth", "oauth2-oidc", "biometric", "permissions",
                  "resource-access-control", "endpoint-protection", "webrtc-peer-auth"),
    features=FEATURES,
    description="Users, sessions, tokens, MFA, OAuth2/OIDC, permissions",
    entrypoint="aria_actors.auth.service:AuthService",
)
