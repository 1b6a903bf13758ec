"""Errors of aria_auth's OpenID relying party (``/v1/auth/sso``). Each docstring is the message
and says how to fix the problem; each ``type`` is a stable slug of the problem+json answer."""

from __future__ import annotations

from aria_actors.auth.errors import AuthError


class SsoError(AuthError):
    """A login through an outside OpenID provider failed."""

    type = "sso"
    status = 400
    title = "Single sign-on failed"


class SsoUnknownProvider(SsoError):
    """No OpenID provider of this name is configured (``GET /v1/auth/sso/providers`` lists them)."""

    type = "sso-unknown-provider"
    status = 404
    title = "Unknown OpenID provider"


class SsoInvalidState(SsoError):
    """The login's state is unknown, expired, already used or not this browser's; start the login
    again (``GET /v1/auth/sso/<provider>/login``)."""

    type = "sso-invalid-state"
    status = 400
    title = "Invalid login state"


class SsoInvalidIdToken(SsoError):
    """The provider's ID token was refused (``reason`` says why: signature, issuer, audience,
    expired, nonce, replayed, ...); start the login again, and if it keeps failing check the
    provider's settings and the clocks."""

    type = "sso-invalid-id-token"
    status = 401
    title = "Invalid ID token"


class SsoNotProvisioned(SsoError):
    """No Aria account is linked to this identity and this provider does not create accounts
    (``jit`` is off); ask an administrator to turn it on or to create your account."""

    type = "sso-not-provisioned"
    status = 403
    title = "No account for this identity"


class SsoProviderDenied(SsoError):
    """The provider did not authorise the login (``error`` is what it said); try again."""

    type = "sso-provider-denied"
    status = 401
    title = "The provider refused the login"


class SsoProviderError(SsoError):
    """The OpenID provider could not be reached or answered something unusable (``reason`` says
    what); check its issuer URL and that it is up, then try again."""

    type = "sso-provider-error"
    status = 502
    title = "OpenID provider error"


class SsoMisconfigured(SsoError):
    """The relying party's settings are wrong (``setting`` names the one); fix ``[auth]`` in aria.toml."""

    type = "sso-misconfigured"
    status = 500
    title = "Single sign-on misconfigured"


class SsoLinkNotFound(SsoError):
    """No link of this user has this id (``GET /v1/auth/sso/links`` lists them)."""

    type = "sso-link-not-found"
    status = 404
    title = "Link not found"


class SsoLastLink(SsoError):
    """This link is the only way into an account without a password: ask an administrator to set
    one (``POST /v1/auth/users/<id>/password``), then remove the link."""

    type = "sso-last-link"
    status = 409
    title = "Last way to log in"


class SsoTenantMismatch(SsoError):
    """The account this identity is linked to belongs to another tenant than this provider's (its
    ``tenant`` setting changed since the link was made); an administrator must remove the link
    (``DELETE /v1/auth/sso/links/<id>``) or move the provider back to that tenant."""

    type = "sso-tenant-mismatch"
    status = 403
    title = "Linked account of another tenant"
