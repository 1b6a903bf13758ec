"""Errors of aria_auth. Each docstring is the message and says how to fix the problem."""

from __future__ import annotations

from aria_actors.runtime.errors import AriaError


class AuthError(AriaError):
    """Something went wrong in authentication."""

    type = "auth"
    status = 500
    title = "Authentication error"


class InvalidCredentials(AuthError):
    """Wrong username or password (which of the two is not said); check both and log in again."""

    type = "auth-invalid-credentials"
    status = 401
    title = "Invalid credentials"


class AccountLocked(AuthError):
    """Too many wrong passwords in a row: this account refuses logins for a while
    (``retry_after_s`` says how long); an administrator can unlock it."""

    type = "auth-account-locked"
    status = 429
    title = "Account locked"


class AccountDisabled(AuthError):
    """This account is disabled; an administrator can enable it again."""

    type = "auth-account-disabled"
    status = 403
    title = "Account disabled"


class InvalidRefreshToken(AuthError):
    """The refresh token is unknown, expired or its session was ended; log in again."""

    type = "auth-invalid-refresh-token"
    status = 401
    title = "Invalid refresh token"


class RefreshTokenReused(InvalidRefreshToken):
    """This refresh token was already exchanged once: a copy of it is in someone else's hands, so
    its whole session was ended. Log in again."""

    type = "auth-refresh-token-reused"
    title = "Refresh token reused"


class InvalidMfaCode(AuthError):
    """The one-time code is wrong, expired or already used; enter the current code from the
    authenticator app (or an unused recovery code)."""

    type = "auth-invalid-mfa-code"
    status = 401
    title = "Invalid one-time code"


class InvalidChallenge(AuthError):
    """The MFA challenge is unknown, expired or used up; log in with the password again."""

    type = "auth-invalid-challenge"
    status = 401
    title = "Invalid MFA challenge"


class MfaState(AuthError):
    """MFA is not in a state that allows this (e.g. confirming without enrolling first, or
    enrolling while it is already on); check ``GET /v1/auth/me``."""

    type = "auth-mfa-state"
    status = 409
    title = "MFA state conflict"


class WeakPassword(AuthError):
    """The password does not meet the policy (the message says why); choose another."""

    type = "auth-weak-password"
    status = 400
    title = "Weak password"


class InvalidUser(AuthError):
    """A user field is invalid (the message names it); fix it and send it again."""

    type = "auth-invalid-user"
    status = 400
    title = "Invalid user"


class UserExists(AuthError):
    """A user with this username already exists in this tenant; choose another username."""

    type = "auth-user-exists"
    status = 409
    title = "User exists"


class UserNotFound(AuthError):
    """No user has this id (``aria auth users ls`` lists them)."""

    type = "auth-user-not-found"
    status = 404
    title = "User not found"


class SessionNotFound(AuthError):
    """No session of this user has this id (``GET /v1/auth/sessions`` lists them)."""

    type = "auth-session-not-found"
    status = 404
    title = "Session not found"


class InvalidClient(AuthError):
    """Client authentication failed: unknown client id, wrong secret or a disabled client (which
    of these is not said); check both, or ask an administrator for a new secret."""

    type = "auth-invalid-client"
    status = 401
    title = "Invalid client"


class InvalidTokenRequest(AuthError):
    """The token request is malformed (the message says what is missing or repeated); see
    RFC 6749 section 4 for the parameters of each grant."""

    type = "auth-invalid-token-request"
    status = 400
    title = "Invalid token request"


class UnsupportedGrantType(InvalidTokenRequest):
    """This grant_type is not supported here: use client_credentials, password or refresh_token."""

    type = "auth-unsupported-grant-type"
    title = "Unsupported grant type"


class ClientExists(AuthError):
    """A client with this name already exists in this tenant; choose another name."""

    type = "auth-client-exists"
    status = 409
    title = "Client exists"


class ClientNotFound(AuthError):
    """No client has this id (``aria auth clients ls`` lists them)."""

    type = "auth-client-not-found"
    status = 404
    title = "Client not found"


class AuthNotStarted(AuthError):
    """aria_auth is not started yet; wait for ``aria status`` to show it ready."""

    type = "auth-not-started"
    status = 503
    title = "Authentication not started"
