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
    @rpc("auth:group:write", feature="resource-access-control")
    async def add_group_member(self, caller: Principal, group_id: str, user_id: str) -> None:
        """Put a user of the group's tenant into the group (adding twice is once)."""

    @rpc("interface:session:write", scope="own", feature="webrtc-peer-auth")
    async def add_peer_member(
        self,
        caller: Principal,
        room_id: str,
        user_id: str,
        rights: Collection[str] = ('publish', 'subscribe', 'data'),
    ) -> dict[str, Any]:
        """Let a user of the room's tenant join (or change its rights): the creator or a tenant moderator."""

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

    @rpc("auth:group:write", feature="resource-access-control")
    async def create_group(
        self,
        caller: Principal,
        name: str,
        *,
        tenant: str | None = None,
    ) -> dict[str, Any]:
        """A new group of users in ``tenant`` (default: the caller's)."""

    @rpc("interface:session:write", scope="own", feature="webrtc-peer-auth")
    async def create_peer_grant(
        self,
        caller: Principal,
        room_id: str,
        rights: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """A short-lived grant for the caller (a user's session) to join the room on the WebSocket..."""

    @rpc("interface:session:write", scope="own", feature="webrtc-peer-auth")
    async def create_peer_room(self, caller: Principal, name: str) -> dict[str, Any]:
        """A new room of the caller's tenant; the caller (a user's session) is its first member, with..."""

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

    @rpc("auth:group:delete", feature="resource-access-control")
    async def delete_group(self, caller: Principal, group_id: str) -> None:
        """Delete a group; its grants go with it."""

    @rpc("interface:session:write", scope="own", feature="webrtc-peer-auth")
    async def delete_peer_room(self, caller: Principal, room_id: str) -> None:
        """Delete a room and its memberships (the creator or a moderator); grants for it stop joining."""

    @rpc(feature="resource-access-control")
    async def delete_resource(self, caller: Principal, kind: str, resource_id: str) -> None:
        """Forget a resource and its grants (its ``delete``rs, or ``auth:grant:write``)."""

    @rpc()
    async def delete_user(self, caller: Principal, user_id: str) -> None:
        """Delete a user and their sessions (``auth:user:delete`` on the user, even one's own)."""

    @rpc(feature="permissions")
    async def explain(
        self,
        caller: Principal,
        action: str,
        kind: str,
        resource_id: str,
        *,
        subject: str | None = None,
    ) -> dict[str, Any]:
        """:meth:`may` with every rule that matched (``via``), the subject's roles and the grant..."""

    @rpc("auth:client:read", feature="service-auth")
    async def get_client(self, caller: Principal, client_id: str) -> dict[str, Any]:
        ...

    @rpc("interface:session:read", scope="own", feature="webrtc-peer-auth")
    async def get_peer_room(self, caller: Principal, room_id: str) -> dict[str, Any]:
        """A room and its members: for its members and holders of interface:session:write on its tenant."""

    @rpc(feature="resource-access-control")
    async def get_resource(self, caller: Principal, kind: str, resource_id: str) -> dict[str, Any]:
        """A registered resource (who may read it, or ``auth:grant:read`` on its tenant)."""

    @rpc()
    async def get_user(self, caller: Principal, user_id: str) -> dict[str, Any]:
        """A user: one's own (through a session), or any with ``auth:user:read`` on its tenant."""

    @rpc(feature="resource-access-control")
    async def grant(
        self,
        caller: Principal,
        kind: str,
        resource_id: str,
        subject: str,
        relation: str,
        *,
        effect: str = 'allow',
    ) -> dict[str, Any]:
        """Give ``subject`` (user:<id>, group:<id>, tenant:<name>) ``relation`` on the resource, or..."""

    @rpc("auth:token:read", feature="sessions")
    async def introspect(self, caller: Principal, token: str) -> dict[str, Any]:
        """RFC 7662: ``{"active": true, ...claims}`` for a valid access token of an open session."""

    @rpc("auth:client:list", feature="service-auth")
    async def list_clients(self, caller: Principal, tenant: str | None = None) -> list[dict[str, Any]]:
        """Clients of ``tenant``; without one, of every tenant (an ``@any`` caller) or the caller's own."""

    @rpc(feature="resource-access-control")
    async def list_grants(
        self,
        caller: Principal,
        kind: str,
        resource_id: str,
        *,
        after: str = '',
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """One page of a resource's grants, by id (``share`` on it, or ``auth:grant:read``)."""

    @rpc("auth:group:read", feature="resource-access-control")
    async def list_group_members(
        self,
        caller: Principal,
        group_id: str,
        *,
        after: str = '',
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """One page of a group's members, by user id."""

    @rpc("auth:group:list", feature="resource-access-control")
    async def list_groups(
        self,
        caller: Principal,
        tenant: str | None = None,
        *,
        after: str = '',
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """One page of groups by id: of ``tenant``, or of every tenant the caller may list."""

    @rpc("interface:session:read", scope="own", feature="webrtc-peer-auth")
    async def list_peer_rooms(self, caller: Principal) -> list[dict[str, Any]]:
        """The rooms the caller is a member of (newest first, at most 200), with the caller's rights."""

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

    @rpc(public=True, features=("mfa", "biometric"))
    async def login_passkey(
        self,
        caller: Principal,
        challenge: str,
        credential: dict[str, Any],
        *,
        user_agent: str | None = None,
        address: str | None = None,
    ) -> dict[str, Any]:
        """Second login step with a passkey: the challenge from :meth:`login` and what..."""

    @rpc(public=True, feature="sessions")
    async def logout(self, caller: Principal, refresh_token: str) -> None:
        """End the session of this refresh token (a spent or unknown one is refused)."""

    @rpc(feature="permissions")
    async def may(
        self,
        caller: Principal,
        action: str,
        kind: str,
        resource_id: str,
        *,
        subject: str | None = None,
    ) -> dict[str, Any]:
        """May ``subject`` (default: the caller) do ``action`` (read, list, write, delete, share) on..."""

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

    @rpc(feature="oauth2-oidc")
    async def my_sso_links(self, caller: Principal) -> list[dict[str, Any]]:
        """The caller's own links to outside identities (a user's session token only)."""

    @rpc(public=True, feature="oauth2-oidc")
    async def oidc_authorize(self, caller: Principal, params: dict[str, str]) -> dict[str, Any]:
        """Start an authorization request: ``{"page": "login", ...}`` to show the login form, or..."""

    @rpc(public=True, feature="oauth2-oidc")
    async def oidc_configuration(self, caller: Principal) -> dict[str, Any]:
        """OpenID Provider Metadata (OIDC Discovery 1.0, section 3)."""

    @rpc(public=True, feature="oauth2-oidc")
    async def oidc_consent(
        self,
        caller: Principal,
        request_id: str,
        csrf: str,
        csrf_cookie: str | None,
        approve: bool,
    ) -> dict[str, Any]:
        """The consent form posted: ``{"redirect": url}`` with the code, or ``error=access_denied``..."""

    @rpc("auth:oidc-client:write", feature="oauth2-oidc")
    async def oidc_create_client(
        self,
        caller: Principal,
        name: str,
        redirect_uris: list[str],
        *,
        post_logout_redirect_uris: list[str] | None = None,
        scopes: list[str] | None = None,
        public: bool = False,
        trusted: bool = False,
        tenant: str = '',
    ) -> dict[str, Any]:
        """Register a relying party; a confidential one's ``client_secret`` is shown only now."""

    @rpc("auth:oidc-client:delete", feature="oauth2-oidc")
    async def oidc_delete_client(self, caller: Principal, client_id: str) -> None:
        """Remove a relying party; its codes and the sessions' grants to it go with it."""

    @rpc(public=True, feature="oauth2-oidc")
    async def oidc_jwks(self, caller: Principal) -> dict[str, Any]:
        """The public keys that verify the provider's ID tokens."""

    @rpc("auth:oidc-client:list", feature="oauth2-oidc")
    async def oidc_list_clients(self, caller: Principal, tenant: str | None = None) -> list[dict[str, Any]]:
        """Registered relying parties (every tenant for an ``@any`` caller, else the caller's own)."""

    @rpc(public=True, feature="oauth2-oidc")
    async def oidc_login(
        self,
        caller: Principal,
        request_id: str,
        csrf: str,
        csrf_cookie: str | None,
        username: str,
        password: str,
        *,
        user_agent: str | None = None,
        address: str | None = None,
    ) -> dict[str, Any]:
        """The login form posted: ``{"page": "mfa" | "consent", ...}`` or ``{"redirect": url}`` with..."""

    @rpc(public=True, feature="oauth2-oidc")
    async def oidc_login_mfa(
        self,
        caller: Principal,
        request_id: str,
        csrf: str,
        csrf_cookie: str | None,
        challenge: str,
        code: str,
        *,
        user_agent: str | None = None,
        address: str | None = None,
    ) -> dict[str, Any]:
        """The MFA form posted (challenge + TOTP or recovery code): as :meth:`oidc_login`."""

    @rpc(public=True, feature="oauth2-oidc")
    async def oidc_logout(self, caller: Principal, params: dict[str, str]) -> dict[str, Any]:
        """RP-initiated logout. With an ``id_token_hint`` this provider signed, issued at most..."""

    @rpc(public=True, feature="oauth2-oidc")
    async def oidc_logout_confirm(
        self,
        caller: Principal,
        request_id: str,
        csrf: str,
        csrf_cookie: str | None,
    ) -> dict[str, Any]:
        """The logout confirmation form posted: the hint's session (if any) ends; as :meth:`oidc_logout`."""

    @rpc(public=True, feature="oauth2-oidc")
    async def oidc_token(
        self,
        caller: Principal,
        params: dict[str, str],
        basic: list[str] | None = None,
    ) -> dict[str, Any]:
        """The token endpoint: ``authorization_code`` (with the PKCE verifier) or ``refresh_token``;..."""

    @rpc(feature="oauth2-oidc")
    async def oidc_userinfo(self, caller: Principal) -> dict[str, Any]:
        """The caller's claims by the access token's scopes (openid: sub; profile; email)."""

    @rpc(public=True, features=("sessions", "biometric"))
    async def passkey_login(
        self,
        caller: Principal,
        ceremony: str,
        credential: dict[str, Any],
        *,
        user_agent: str | None = None,
        address: str | None = None,
    ) -> dict[str, Any]:
        """Finish a passwordless login: the ceremony's handle and what ``credentials.get()`` gave (its..."""

    @rpc(public=True, feature="biometric")
    async def passkey_login_options(
        self,
        caller: Principal,
        username: str | None = None,
        *,
        tenant: str = '',
    ) -> dict[str, Any]:
        """Start a passwordless login: ``{"ceremony", "options", "expires_in"}`` for..."""

    @rpc(feature="biometric")
    async def passkey_register(
        self,
        caller: Principal,
        user_id: str,
        ceremony: str,
        credential: dict[str, Any],
        *,
        label: str = 'passkey',
        second_factor: bool = True,
    ) -> dict[str, Any]:
        """Finish registering (one's own): the ceremony's handle and what ``credentials.create()`` gave..."""

    @rpc(feature="biometric")
    async def passkey_register_options(self, caller: Principal, user_id: str) -> dict[str, Any]:
        """Start registering a passkey (one's own): ``{"ceremony", "options", "expires_in"}``; hand..."""

    @rpc(feature="biometric")
    async def passkey_revoke(self, caller: Principal, user_id: str, passkey_id: str) -> None:
        """Remove a passkey: one's own, or any user's with ``auth:user:write`` on its tenant."""

    @rpc(feature="biometric")
    async def passkey_update(
        self,
        caller: Principal,
        user_id: str,
        passkey_id: str,
        *,
        label: str | None = None,
        second_factor: bool | None = None,
    ) -> dict[str, Any]:
        """Rename a passkey or change whether a password login asks for it (one's own, or with..."""

    @rpc(feature="biometric")
    async def passkeys(self, caller: Principal, user_id: str) -> list[dict[str, Any]]:
        """A user's passkeys: one's own, or any user's with ``auth:user:read`` on its tenant."""

    @rpc(public=True, feature="sessions")
    async def refresh(self, caller: Principal, refresh_token: str) -> dict[str, Any]:
        """New tokens for a refresh token, which is spent (a spent one coming back ends its session)."""

    @rpc(feature="resource-access-control")
    async def register_resource(
        self,
        caller: Principal,
        kind: str,
        resource_id: str,
        *,
        owner: str | None = None,
        tenant: str | None = None,
    ) -> dict[str, Any]:
        """Register ``kind:resource_id`` with its owner and tenant (default: the owner's tenant)."""

    @rpc("auth:group:write", feature="resource-access-control")
    async def remove_group_member(self, caller: Principal, group_id: str, user_id: str) -> None:
        """Take a user out of the group."""

    @rpc("interface:session:write", scope="own", feature="webrtc-peer-auth")
    async def remove_peer_member(self, caller: Principal, room_id: str, user_id: str) -> None:
        """Remove a member (the creator or a moderator; a member may remove itself). The creator stays."""

    @rpc("auth:session:read", scope="any", feature="endpoint-protection")
    async def revocations(self, caller: Principal, since_cursor: str | None = None) -> dict[str, Any]:
        """Sessions ended, machine clients disabled and account lockouts begun or lifted since..."""

    @rpc(feature="resource-access-control")
    async def revoke(self, caller: Principal, kind: str, resource_id: str, grant_id: str) -> None:
        """Remove a grant (who may grant on the resource may revoke)."""

    @rpc(feature="sessions")
    async def revoke_all(self, caller: Principal, user_id: str) -> int:
        """End every session of a user (one's own, or with ``auth:session:delete``); how many were open."""

    @rpc(feature="sessions")
    async def revoke_session(self, caller: Principal, user_id: str, session_id: str) -> None:
        """End one of the caller's own sessions."""

    @rpc("auth:client:write", feature="service-auth")
    async def rotate_client_secret(self, caller: Principal, client_id: str) -> dict[str, Any]:
        """A new secret (shown only now); the old one stops working at once."""

    @rpc("auth:peer:rotate", scope="any", feature="webrtc-peer-auth")
    async def rotate_peer_secrets(self, caller: Principal) -> dict[str, Any]:
        """Rotate the TURN secret and the grant key now; the previous ones stay valid until the next..."""

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

    @rpc(public=True, feature="oauth2-oidc")
    async def sso_begin(self, caller: Principal, provider: str) -> dict[str, Any]:
        """Begin a login through ``provider``: the URL to send the browser to, and (with..."""

    @rpc(public=True, feature="oauth2-oidc")
    async def sso_complete(
        self,
        caller: Principal,
        provider: str,
        state: str,
        code: str | None = None,
        *,
        error: str | None = None,
        binding: str | None = None,
        user_agent: str | None = None,
        address: str | None = None,
    ) -> dict[str, Any]:
        """Finish a login: the provider's callback (``code`` and ``state``, or its ``error``) -> Aria..."""

    @rpc(feature="oauth2-oidc")
    async def sso_links(self, caller: Principal, user_id: str) -> list[dict[str, Any]]:
        """A user's links: one's own, or any user's with ``auth:user:read`` on its tenant."""

    @rpc(public=True, feature="oauth2-oidc")
    async def sso_providers(self, caller: Principal) -> list[str]:
        """The names of the outside providers one may log in through."""

    @rpc(feature="oauth2-oidc")
    async def sso_unlink(self, caller: Principal, link_id: str) -> None:
        """Remove a link: one's own, or any user's with ``auth:user:write`` on its tenant."""

    @rpc("interface:session:write", scope="own", feature="webrtc-peer-auth")
    async def turn_credentials(self, caller: Principal, ttl_s: int | None = None) -> dict[str, Any]:
        """TURN REST credentials for the caller (``username``, ``password``, ``ttl``, ``uris``)."""

    @rpc("auth:peer:secret", scope="any", feature="webrtc-peer-auth")
    async def turn_secrets(self, caller: Principal) -> dict[str, Any]:
        """The TURN shared secrets, for coturn's two ``static-auth-secret`` lines (administrators)."""

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

    @rpc(feature="webrtc-peer-auth")
    async def verify_peer_grant(self, caller: Principal, grant: str, room_id: str) -> dict[str, Any]:
        """The grant's room, peer and rights, if it is valid for the caller to join ``room_id`` now."""
