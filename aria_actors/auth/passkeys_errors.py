"""Errors of aria_auth's passkeys part (:mod:`aria_actors.auth.passkeys`), each a problem+json
``type`` slug; cheap to import (the SDK imports it to raise these types). Each docstring is the
message and says how to fix the problem."""

from __future__ import annotations

from aria_actors.auth.errors import AuthError

__all__ = ["PasskeyBadRequest", "PasskeyChallengeExpired", "PasskeyChallengeInvalid", "PasskeyCloned",
           "PasskeyDisabled", "PasskeyExists", "PasskeyInvalid", "PasskeyLimit", "PasskeyMalformed",
           "PasskeyNotFound", "PasskeyReauthRequired"]


class PasskeyInvalid(AuthError):
    """The passkey's response does not verify (the message says why): run the ceremony again
    from its options, on an origin this server accepts, with a passkey registered here."""

    type = "passkey-invalid"
    status = 401
    title = "Invalid passkey response"


class PasskeyMalformed(PasskeyInvalid):
    """The credential is not a PublicKeyCredential JSON object of the expected shape (the message
    names the field): send what ``credential.toJSON()`` gives, base64url-encoded."""

    type = "passkey-malformed"
    status = 400
    title = "Malformed passkey credential"


class PasskeyChallengeInvalid(AuthError):
    """This passkey ceremony is unknown, already used or not yours: ask for new options."""

    type = "passkey-challenge-invalid"
    status = 401
    title = "Invalid passkey ceremony"


class PasskeyChallengeExpired(PasskeyChallengeInvalid):
    """This passkey ceremony expired: ask for new options and answer within ``passkey_timeout_s``."""

    type = "passkey-challenge-expired"
    title = "Passkey ceremony expired"


class PasskeyCloned(AuthError):
    """This passkey's signature counter went back: a copy of the authenticator is in use. The
    passkey was disabled; remove it and register the authenticator again."""

    type = "passkey-cloned"
    status = 401
    title = "Cloned passkey"


class PasskeyDisabled(AuthError):
    """This passkey is disabled (``GET /v1/auth/passkeys`` says why); remove it and register again."""

    type = "passkey-disabled"
    status = 401
    title = "Passkey disabled"


class PasskeyNotFound(AuthError):
    """This user has no passkey with this id (``GET /v1/auth/passkeys`` lists them)."""

    type = "passkey-not-found"
    status = 404
    title = "Passkey not found"


class PasskeyExists(AuthError):
    """This authenticator's credential is registered already; use it, or remove it first."""

    type = "passkey-exists"
    status = 409
    title = "Passkey already registered"


class PasskeyLimit(AuthError):
    """This user has as many passkeys as allowed (``passkey_max_per_user``); remove one first."""

    type = "passkey-limit"
    status = 409
    title = "Too many passkeys"


class PasskeyBadRequest(AuthError):
    """A field of the passkey request is invalid (the message names it); fix it and send it again."""

    type = "passkey-bad-request"
    status = 400
    title = "Bad passkey request"


class PasskeyReauthRequired(AuthError):
    """Registering a passkey needs a recent login with a password (or a passkey) in this session
    (``reason``: ``age``, the login is older than ``passkey_reauth_s``; ``method``, the session was
    not opened with a password or a passkey, e.g. single sign-on): log in again, then register."""

    type = "passkey-reauth-required"
    status = 401
    title = "Log in again to register a passkey"
