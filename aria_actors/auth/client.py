"""Typed client of aria_auth: its declared RPC surface (generated from the service).

Callers get one with ``deps.of(AuthClient)``, ``Depends(service_client(AuthClient))`` or
``bind(AuthClient, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py auth
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("aria_auth")
class AuthClient:
    @rpc(public=True, feature="service-auth")
    async def authenticate_client(
        self,
        caller: Principal,
        client_id: str,
        client_secret: str,
    ) -> dict[str, Any]:
        """The client, if the id and secret are right and it is enabled; else InvalidClient."""

    @rpc(public=True, feature="service-auth")
    async def client_token(self, caller: Principal, client_id: str, client_secret: str) -> dict[str, Any]:
        """Client credentials -> an access token (RFC 6749 4.4.3; no refresh token)."""

    @rpc("auth:client:write", feature="service-auth")
    async def create_client(
        self,
        caller: Principal,
        name: str,
        roles: Collection[str] = ('service',),
        *,
        tenant: str = '',
    ) -> dict[str, Any]:
        """A new client; the result holds ``client_secret``, shown only now."""

    @rpc("auth:user:write", feature="dynamic-roles")
    async def create_user(
        self,
        caller: Principal,
        username: str,
        password: str,
        *,
        tenant: str = '',
        email: str | None = None,
        display_name: str | None = None,
        roles: Collection[str] = ('user',),
    ) -> dict[str, Any]:
        """A new user in ``tenant``; granting roles beyond ``user`` needs ``auth:role:assign``."""

    @rpc("auth:client:delete", feature="service-auth")
    async def delete_client(self, caller: Principal, client_id: str) -> None:
        ...

    @rpc()
    async def delete_user(self, caller: Principal, user_id: str) -> None:
        """Delete a user and their sessions (``auth:user:delete`` on the user, even one's own)."""

    @rpc("auth:client:read", feature="service-auth")
    async def get_client(self, caller: Principal, client_id: str) -> dict[str, Any]:
        ...

    @rpc()
    async def get_user(self, caller: Principal, user_id: str) -> dict[str, Any]:
        """A user: one's own (through a session), or any with ``auth:user:read`` on its tenant."""

    @rpc("auth:token:read", feature="sessions")
    async def introspect(self, caller: Principal, token: str) -> dict[str, Any]:
        """RFC 7662: ``{"active": true, ...claims}`` for a valid access token of an open session."""

    @rpc("auth:client:list", feature="service-auth")
    async def list_clients(self, caller: Principal, tenant: str | None = None) -> list[dict[str, Any]]:
        """Clients of ``tenant``; without one, of every tenant (an ``@any`` caller) or the caller's own."""

    @rpc("auth:user:list")
    async def list_users(
        self,
        caller: Principal,
        tenant: str | None = None,
        after: str = '',
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Users ordered by ``tenant/username``; pass the last one's as ``after`` for the next page."""

    @rpc(public=True, feature="sessions")
    async def login(
        self,
        caller: Principal,
        username: str,
        password: str,
        *,
        tenant: str = '',
        user_agent: str | None = None,
        address: str | None = None,
    ) -> dict[str, Any]:
        """Tokens, or ``{"mfa_required": true, "challenge": ...}`` when the user has MFA on."""

    @rpc(public=True, features=("sessions", "mfa"))
    async def login_mfa(
        self,
        caller: Principal,
        challenge: str,
        code: str,
        *,
        user_agent: str | None = None,
        address: str | None = None,
    ) -> dict[str, Any]:
        """Second step: the challenge from :meth:`login` and a TOTP or recovery code -> tokens."""

    @rpc(public=True, feature="sessions")
    async def logout(self, caller: Principal, refresh_token: str) -> None:
        """End the session of this refresh token (a spent or unknown one is refused)."""

    @rpc(feature="sessions")
    async def me(self, caller: Principal) -> dict[str, Any]:
        """The caller's own user (a user's session token only)."""

    @rpc(feature="mfa")
    async def mfa_confirm(self, caller: Principal, user_id: str, code: str) -> dict[str, Any]:
        """Finish enrolment with a current code; returns the recovery codes (shown only now)."""

    @rpc(feature="mfa")
    async def mfa_disable(self, caller: Principal, user_id: str, code: str | None = None) -> None:
        """Turn MFA off; one's own needs a current (or recovery) code."""

    @rpc(feature="mfa")
    async def mfa_enroll(self, caller: Principal, user_id: str) -> dict[str, Any]:
        """Start enrolment: a new TOTP secret (shown once) to put in an authenticator app (one's own)."""

    @rpc(feature="sessions")
    async def my_sessions(self, caller: Principal) -> list[dict[str, Any]]:
        """The caller's own open sessions (a user's session token only)."""

    @rpc(public=True, feature="sessions")
    async def refresh(self, caller: Principal, refresh_token: str) -> dict[str, Any]:
        """New tokens for a refresh token, which is spent (a spent one coming back ends its session)."""

    @rpc(feature="sessions")
    async def revoke_all(self, caller: Principal, user_id: str) -> int:
        """End every session of a user (one's own, or with ``auth:session:delete``); how many were open."""

    @rpc(feature="sessions")
    async def revoke_session(self, caller: Principal, user_id: str, session_id: str) -> None:
        """End one of the caller's own sessions."""

    @rpc("auth:client:write", feature="service-auth")
    async def rotate_client_secret(self, caller: Principal, client_id: str) -> dict[str, Any]:
        """A new secret (shown only now); the old one stops working at once."""

    @rpc(feature="sessions")
    async def sessions(self, caller: Principal, user_id: str) -> list[dict[str, Any]]:
        """A user's open sessions: one's own, or any user's with ``auth:session:list`` on its tenant."""

    @rpc()
    async def set_password(
        self,
        caller: Principal,
        user_id: str,
        new_password: str,
        *,
        current_password: str | None = None,
    ) -> None:
        """Set a password (ends every session); one's own needs the current one."""

    @rpc("auth:client:write", features=("service-auth", "dynamic-roles"))
    async def update_client(
        self,
        caller: Principal,
        client_id: str,
        *,
        roles: Collection[str] | None = None,
        disabled: bool | None = None,
    ) -> dict[str, Any]:
        """Change a client's roles (``auth:role:assign`` too) or disable it."""

    @rpc(feature="dynamic-roles")
    async def update_user(
        self,
        caller: Principal,
        user_id: str,
        *,
        roles: Collection[str] | None = None,
        disabled: bool | None = None,
        email: str | None = None,
        display_name: str | None = None,
        unlock: bool = False,
    ) -> dict[str, Any]:
        """Change roles, enable/disable, unlock, profile fields (``auth:user:write`` on the user)."""
