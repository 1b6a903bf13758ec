"""Errors of aria_auth's OpenID provider. Each docstring is the message and says how to fix it.

Guarantees and caveats
----------------------
- Each has a stable slug (``oidc-...``) and, as ``oauth_error``, the RFC 6749 / OIDC error code
  a client expects in an ``error`` member or redirect parameter.
- :class:`OidcRedirectError` is never sent to the client as problem+json: it goes back to the
  (validated) redirect URI as ``error=``; only errors before that validation are problems.
"""

from __future__ import annotations

from typing import ClassVar

from aria_actors.auth.errors import AuthError


class OidcError(AuthError):
    """The OpenID Connect request was refused."""

    type = "oidc"
    status = 400
    title = "OpenID Connect request refused"
    oauth_error: ClassVar[str] = "invalid_request"


class OidcInvalidRequest(OidcError):
    """The request is malformed (the message says which parameter); see OpenID Connect Core 3.1."""

    type = "oidc-invalid-request"
    title = "Invalid OpenID Connect request"


class OidcUnknownClient(OidcError):
    """No OpenID client has this client_id (``aria auth oidc clients ls`` lists them)."""

    type = "oidc-unknown-client"
    title = "Unknown OpenID client"
    oauth_error = "invalid_client"


class OidcInvalidRedirectUri(OidcError):
    """The redirect URI is not one the client registered (compared as exact strings); register it
    with ``aria auth oidc clients add --redirect-uri`` or send the registered one."""

    type = "oidc-invalid-redirect-uri"
    title = "Invalid redirect URI"


class OidcInvalidClient(OidcError):
    """Client authentication failed: unknown client, wrong or missing secret, or a public client
    sending one (which of these is not said)."""

    type = "oidc-invalid-client"
    status = 401
    title = "Invalid OpenID client"
    oauth_error = "invalid_client"


class OidcInvalidGrant(OidcError):
    """The authorization code or refresh token is invalid, expired, already used, issued to
    another client or redirect URI, or the PKCE code_verifier does not match; start a new login."""

    type = "oidc-invalid-grant"
    title = "Invalid grant"
    oauth_error = "invalid_grant"


class OidcUnsupportedGrantType(OidcError):
    """This grant_type is not supported here: use authorization_code or refresh_token."""

    type = "oidc-unsupported-grant-type"
    title = "Unsupported grant type"
    oauth_error = "unsupported_grant_type"


class OidcCsrf(OidcError):
    """The form's CSRF token is missing or does not belong to this authorization request; start
    the login again from the application."""

    type = "oidc-csrf"
    status = 403
    title = "CSRF check failed"


class OidcRequestExpired(OidcError):
    """This login page expired or was already answered; start the login again from the application."""

    type = "oidc-request-expired"
    title = "Authorization request expired"


class OidcInsufficientScope(OidcError):
    """This access token was not granted the ``openid`` scope (or is not a user's OIDC token)."""

    type = "oidc-insufficient-scope"
    status = 403
    title = "Insufficient scope"
    oauth_error = "insufficient_scope"


class OidcInvalidToken(OidcError):
    """The access token's session has ended or the id_token_hint is not one Aria issued; log in again."""

    type = "oidc-invalid-token"
    status = 401
    title = "Invalid token"
    oauth_error = "invalid_token"


class OidcChallengeMismatch(OidcError):
    """This MFA challenge was not issued by this authorization request's own login form; sign in
    again on the form the application opened."""

    type = "oidc-challenge-mismatch"
    status = 403
    title = "MFA challenge not of this authorization request"
    oauth_error = "access_denied"


class OidcTenantMismatch(OidcError):
    """The user is not of the OpenID client's tenant: only that tenant's users log in through it."""

    type = "oidc-tenant-mismatch"
    status = 403
    title = "User not of the client's tenant"
    oauth_error = "access_denied"


class OidcInvalidClientMetadata(OidcError):
    """A client field is invalid (the message names it): redirect URIs are https (http only for a
    loopback host), with no fragment, at most 10 of at most 2000 characters."""

    type = "oidc-invalid-client-metadata"
    title = "Invalid client metadata"
    oauth_error = "invalid_client_metadata"


class OidcClientExists(OidcError):
    """An OpenID client with this name already exists in this tenant; choose another name."""

    type = "oidc-client-exists"
    status = 409
    title = "OpenID client exists"


class OidcClientNotFound(OidcError):
    """No OpenID client has this id (``aria auth oidc clients ls`` lists them)."""

    type = "oidc-client-not-found"
    status = 404
    title = "OpenID client not found"


class OidcRedirectError(OidcError):
    """Sent back to the client's redirect URI as ``error=`` (the message is its error_description)."""

    type = "oidc-redirect-error"
    title = "Authorization error"

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description, error=error)
        self.oauth_error = error  # type: ignore[misc]  (why: per instance, the RFC 6749 4.1.2.1 code)
