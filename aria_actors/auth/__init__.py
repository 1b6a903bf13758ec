"""aria_auth: Users, sessions, tokens, MFA, OAuth2/OIDC, permissions."""

from __future__ import annotations

__all__: list[str] = []
