"""``aria.auth``'s OpenID Connect methods: Aria as a provider (discovery, keys, token, userinfo,
clients) and as a relying party (outside providers, the caller's links).

The authorization endpoint's pages, RP-initiated logout and the SSO login/callback redirects are
for browsers, not for this SDK (see tests/unit/sdk/test_sections.py's BROWSER_ONLY).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

import aria_actors.auth.provider_errors
import aria_actors.auth.relying_errors  # noqa: F401
from aria_actors.sdk.section import Req, Section, route
from aria_actors.sdk.sections._util import body


class OidcSDK(Section):
    # -- Aria as an OpenID provider -------------------------------------------------------------
    @route("GET", "/v1/auth/oidc/.well-known/openid-configuration")
    def oidc_configuration(self) -> dict[str, Any]:
        """The provider's discovery document."""
        return Req()

    @route("GET", "/v1/auth/oidc/jwks")
    def oidc_jwks(self) -> dict[str, Any]:
        """The public keys that verify the provider's ID tokens."""
        return Req()

    @route("POST", "/v1/auth/oidc/token")
    def oidc_token(self, grant_type: str, *, client_id: str, client_secret: str | None = None,
                   code: str | None = None, redirect_uri: str | None = None, code_verifier: str | None = None,
                   refresh_token: str | None = None) -> dict[str, Any]:
        """The provider's token endpoint: ``authorization_code`` (with ``code_verifier``) or
        ``refresh_token``; a confidential client's credentials go in HTTP Basic auth."""
        form = body(grant_type=grant_type, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier,
                    refresh_token=refresh_token)
        if client_secret is None:  # a public client names itself in the form
            form["client_id"] = client_id
            return Req(data=form)
        return Req(data=form, auth=(quote_plus(client_id), quote_plus(client_secret)))

    @route("GET", "/v1/auth/oidc/userinfo")
    def oidc_userinfo(self) -> dict[str, Any]:
        """Claims of the access token's user, by its scopes."""
        return Req()

    @route("POST", "/v1/auth/oidc/clients")
    def oidc_create_client(self, name: str, redirect_uris: list[str], *,
                           post_logout_redirect_uris: list[str] | None = None, scopes: list[str] | None = None,
                           public: bool = False, trusted: bool = False, tenant: str | None = None) -> dict[str, Any]:
        """Register a relying party (administrators); its secret is shown only now."""
        return Req(json=body(name=name, redirect_uris=redirect_uris,
                             post_logout_redirect_uris=post_logout_redirect_uris, scopes=scopes, public=public,
                             trusted=trusted, tenant=tenant))

    @route("GET", "/v1/auth/oidc/clients")
    def oidc_list_clients(self, tenant: str | None = None) -> list[dict[str, Any]]:
        return Req(params={"tenant": tenant})

    @route("DELETE", "/v1/auth/oidc/clients/{client_id}")
    def oidc_delete_client(self, client_id: str) -> None:
        return Req(path={"client_id": client_id})

    # -- Aria as a relying party ----------------------------------------------------------------
    @route("GET", "/v1/auth/sso/providers")
    def sso_providers(self) -> list[str]:
        """Names of the outside providers one may log in through."""
        return Req()

    @route("GET", "/v1/auth/sso/links")
    def my_sso_links(self) -> list[dict[str, Any]]:
        """Your links to outside identities."""
        return Req()

    @route("DELETE", "/v1/auth/sso/links/{link_id}")
    def sso_unlink(self, link_id: str) -> None:
        return Req(path={"link_id": link_id})

    @route("GET", "/v1/auth/users/{user_id}/sso/links")
    def sso_links(self, user_id: str) -> list[dict[str, Any]]:
        """A user's links (administrators)."""
        return Req(path={"user_id": user_id})
