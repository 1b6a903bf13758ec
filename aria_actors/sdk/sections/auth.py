"""``aria.auth``: logins, sessions, MFA, users, machine clients, OAuth tokens (``/v1/auth``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

import aria_actors.auth.errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.auth import passkeys_errors  # noqa: F401  (the same, for passkeys)
from aria_actors.sdk.section import Req, Section, route
from aria_actors.sdk.sections._util import body
from aria_actors.sdk.sections.auth_grants import GrantsSDK
from aria_actors.sdk.sections.auth_oidc import OidcSDK
from aria_actors.sdk.sections.auth_peers import PeersSDK


class AuthAPI(OidcSDK, GrantsSDK, PeersSDK, Section):
    """Accounts, sessions, MFA, passkeys and machine clients here; OpenID Connect (:class:`OidcSDK`)
    grants and decisions (:class:`GrantsSDK`), WebRTC peers and the revocation feed (:class:`PeersSDK`)
    in their own modules."""

    # -- public: the body is the credential ---------------------------------------------------
    @route("POST", "/v1/auth/login")
    def login(self, username: str, password: str, tenant: str = "") -> dict[str, Any]:
        """Tokens, or ``{"mfa_required": true, "challenge": ...}`` for :meth:`login_mfa`."""
        return Req(json={"username": username, "password": password, "tenant": tenant})

    @route("POST", "/v1/auth/login/mfa")
    def login_mfa(self, challenge: str, code: str) -> dict[str, Any]:
        """Second login step: the challenge and a TOTP or recovery code -> tokens."""
        return Req(json={"challenge": challenge, "code": code})

    @route("POST", "/v1/auth/refresh")
    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """New tokens for a refresh token (which is spent)."""
        return Req(json={"refresh_token": refresh_token})

    @route("POST", "/v1/auth/logout")
    def logout(self, refresh_token: str) -> None:
        return Req(json={"refresh_token": refresh_token})

    @route("POST", "/v1/auth/token")
    def token(self, grant_type: str, *, client_id: str | None = None, client_secret: str | None = None,
              username: str | None = None, password: str | None = None, tenant: str | None = None,
              refresh_token: str | None = None) -> dict[str, Any]:
        """OAuth 2.0 token endpoint (``client_credentials``, ``password``, ``refresh_token``).

        Client credentials go in HTTP Basic auth; the grant's fields form-encoded.
        """
        form = body(grant_type=grant_type, username=username, password=password, tenant=tenant,
                    refresh_token=refresh_token)
        creds = None
        if client_id is not None and client_secret is not None:  # RFC 6749 2.3.1: form-encoded first
            creds = (quote_plus(client_id), quote_plus(client_secret))
        if creds is None:
            form.update(body(client_id=client_id, client_secret=client_secret))
        return Req(data=form, auth=creds)

    # -- the caller's own account ---------------------------------------------------------------
    @route("GET", "/v1/auth/me")
    def me(self) -> dict[str, Any]:
        return Req()

    @route("GET", "/v1/auth/sessions")
    def sessions(self) -> list[dict[str, Any]]:
        """The caller's open sessions."""
        return Req()

    @route("DELETE", "/v1/auth/sessions/{session_id}")
    def revoke_session(self, session_id: str) -> None:
        return Req(path={"session_id": session_id})

    @route("POST", "/v1/auth/mfa/enroll")
    def mfa_enroll(self) -> dict[str, Any]:
        """Start TOTP enrolment: a secret for an authenticator app."""
        return Req()

    @route("POST", "/v1/auth/mfa/confirm")
    def mfa_confirm(self, code: str) -> dict[str, Any]:
        """Finish enrolment with a current code; returns recovery codes."""
        return Req(json={"code": code})

    @route("POST", "/v1/auth/introspect")
    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 token introspection."""
        return Req(json={"token": token})

    # -- users -----------------------------------------------------------------------------------
    @route("POST", "/v1/auth/users")
    def create_user(self, username: str, password: str, *, tenant: str = "", email: str | None = None,
                    display_name: str | None = None, roles: list[str] | None = None) -> dict[str, Any]:
        return Req(json=body(username=username, password=password, tenant=tenant, email=email,
                             display_name=display_name, roles=roles))

    @route("GET", "/v1/auth/users")
    def list_users(self, tenant: str | None = None, after: str = "", limit: int = 100) -> list[dict[str, Any]]:
        return Req(params={"tenant": tenant, "after": after, "limit": limit})

    @route("GET", "/v1/auth/users/{user_id}")
    def get_user(self, user_id: str) -> dict[str, Any]:
        return Req(path={"user_id": user_id})

    @route("PATCH", "/v1/auth/users/{user_id}")
    def update_user(self, user_id: str, *, roles: list[str] | None = None, disabled: bool | None = None,
                    email: str | None = None, display_name: str | None = None,
                    unlock: bool | None = None) -> dict[str, Any]:
        """Change roles, enable/disable, unlock, profile fields (those given)."""
        return Req(path={"user_id": user_id}, json=body(roles=roles, disabled=disabled, email=email,
                                                        display_name=display_name, unlock=unlock))

    @route("DELETE", "/v1/auth/users/{user_id}")
    def delete_user(self, user_id: str) -> None:
        return Req(path={"user_id": user_id})

    @route("POST", "/v1/auth/users/{user_id}/password")
    def set_password(self, user_id: str, new_password: str, current_password: str | None = None) -> None:
        """Set a password (ends every session); your own needs ``current_password``."""
        return Req(path={"user_id": user_id},
                   json=body(new_password=new_password, current_password=current_password))

    @route("GET", "/v1/auth/users/{user_id}/sessions")
    def user_sessions(self, user_id: str) -> list[dict[str, Any]]:
        return Req(path={"user_id": user_id})

    @route("DELETE", "/v1/auth/users/{user_id}/sessions")
    def revoke_all(self, user_id: str) -> dict[str, int]:
        """End every session of a user: ``{"revoked": n}``."""
        return Req(path={"user_id": user_id})

    @route("DELETE", "/v1/auth/users/{user_id}/mfa")
    def mfa_disable(self, user_id: str, code: str | None = None) -> None:
        """Turn MFA off (your own needs a current ``code``)."""
        return Req(path={"user_id": user_id}, json=body(code=code))

    # -- machine clients -------------------------------------------------------------------------
    @route("POST", "/v1/auth/clients")
    def create_client(self, name: str, roles: list[str] | None = None, tenant: str = "") -> dict[str, Any]:
        """A machine client; its secret is in the answer, shown once."""
        return Req(json=body(name=name, roles=roles, tenant=tenant))

    @route("GET", "/v1/auth/clients")
    def list_clients(self, tenant: str | None = None) -> list[dict[str, Any]]:
        return Req(params={"tenant": tenant})

    @route("GET", "/v1/auth/clients/{client_id}")
    def get_client(self, client_id: str) -> dict[str, Any]:
        return Req(path={"client_id": client_id})

    @route("PATCH", "/v1/auth/clients/{client_id}")
    def update_client(self, client_id: str, *, roles: list[str] | None = None,
                      disabled: bool | None = None) -> dict[str, Any]:
        return Req(path={"client_id": client_id}, json=body(roles=roles, disabled=disabled))

    @route("POST", "/v1/auth/clients/{client_id}/secret")
    def rotate_client_secret(self, client_id: str) -> dict[str, Any]:
        """A new secret (the old one stops at once)."""
        return Req(path={"client_id": client_id})

    @route("DELETE", "/v1/auth/clients/{client_id}")
    def delete_client(self, client_id: str) -> None:
        return Req(path={"client_id": client_id})

    # -- passkeys (WebAuthn): options go to navigator.credentials, credentials are their toJSON() --
    @route("POST", "/v1/auth/passkeys/register/options")
    def passkey_register_options(self) -> dict[str, Any]:
        """Start registering one's own passkey: ``{"ceremony", "options", "expires_in"}``."""
        return Req()

    @route("POST", "/v1/auth/passkeys/register")
    def passkey_register(self, ceremony: str, credential: dict[str, Any], *, label: str = "passkey",
                         second_factor: bool = True) -> dict[str, Any]:
        """Finish registering: the ceremony and ``credentials.create()``'s JSON -> the passkey."""
        return Req(json={"ceremony": ceremony, "credential": credential, "label": label,
                         "second_factor": second_factor})

    @route("GET", "/v1/auth/passkeys")
    def passkeys(self) -> list[dict[str, Any]]:
        """The caller's passkeys."""
        return Req()

    @route("PATCH", "/v1/auth/passkeys/{passkey_id}")
    def passkey_update(self, passkey_id: str, *, label: str | None = None,
                       second_factor: bool | None = None) -> dict[str, Any]:
        return Req(path={"passkey_id": passkey_id}, json=body(label=label, second_factor=second_factor))

    @route("DELETE", "/v1/auth/passkeys/{passkey_id}")
    def passkey_revoke(self, passkey_id: str) -> None:
        return Req(path={"passkey_id": passkey_id})

    @route("GET", "/v1/auth/users/{user_id}/passkeys")
    def user_passkeys(self, user_id: str) -> list[dict[str, Any]]:
        """A user's passkeys (``auth:user:read``)."""
        return Req(path={"user_id": user_id})

    @route("DELETE", "/v1/auth/users/{user_id}/passkeys/{passkey_id}")
    def user_passkey_revoke(self, user_id: str, passkey_id: str) -> None:
        """Remove a user's passkey (``auth:user:write``)."""
        return Req(path={"user_id": user_id, "passkey_id": passkey_id})

    @route("POST", "/v1/auth/passkeys/login/options")
    def passkey_login_options(self, username: str | None = None, tenant: str = "") -> dict[str, Any]:
        """Start a passwordless login (no username: discoverable credentials)."""
        return Req(json=body(username=username, tenant=tenant))

    @route("POST", "/v1/auth/passkeys/login")
    def passkey_login(self, ceremony: str, credential: dict[str, Any]) -> dict[str, Any]:
        """Finish a passwordless login: ``credentials.get()``'s JSON -> tokens."""
        return Req(json={"ceremony": ceremony, "credential": credential})

    @route("POST", "/v1/auth/login/passkey")
    def login_passkey(self, challenge: str, credential: dict[str, Any]) -> dict[str, Any]:
        """Second login step with a passkey: login's challenge and ``credentials.get(login's "passkey")``."""
        return Req(json={"challenge": challenge, "credential": credential})
