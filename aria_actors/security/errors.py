"""Errors of aria_security. Each says how to fix the problem and names the culprit."""

from __future__ import annotations

from aria_actors.runtime.errors import AriaError


class SecurityError(AriaError):
    """aria_security failed; the message says which part."""

    type = "security"
    status = 500
    title = "Security service error"


class SecretNotFound(SecurityError):
    """No secret at this path; list the parent path (`aria secrets ls`) to see what exists."""

    type = "secret-not-found"
    status = 404
    title = "Secret not found"


class SecretAccessDenied(SecurityError):
    """OpenBao refused the caller: a service may only use `services/<its name>/...` and shared paths."""

    type = "secret-access-denied"
    status = 403
    title = "Secret access denied"


class InvalidSecretPath(SecurityError):
    """The secret path is malformed; use `services/<service>/<name>` (letters, digits, -_./)."""

    type = "invalid-secret-path"
    status = 400
    title = "Invalid secret path"


class OpenBaoRejected(SecurityError):
    """OpenBao refused the request as given (a certificate name its role does not allow, a
    malformed value); the message carries OpenBao's reason. Fix the request and send it again."""

    type = "openbao-rejected"
    status = 400


class OpenBaoConflict(SecurityError):
    """The write's check-and-set version is not the secret's current one; read it and retry."""

    type = "openbao-conflict"
    status = 409


class OpenBaoUnavailable(SecurityError):
    """OpenBao is sealed, down or unreachable; check `aria status` and ARIA_HOME/openbao/bao.log."""

    type = "openbao-unavailable"
    status = 503
    title = "OpenBao unavailable"


class HsmError(SecurityError):
    """The HSM token could not be opened or refused an operation; check the PIN and SOFTHSM2_CONF."""

    type = "hsm"
    status = 500
    title = "HSM error"


class UnsealError(SecurityError):
    """OpenBao could not be unsealed with the wrapped key; the HSM token or the key file changed."""

    type = "unseal"
    status = 500
    title = "Unseal failed"


class InvalidToken(SecurityError):
    """The bearer token is malformed, forged or expired; log in again to get a new one."""

    type = "invalid-token"
    status = 401
    title = "Invalid token"


class PermissionDenied(SecurityError):
    """The principal lacks the permission for this action on this resource; ask an admin for a role."""

    type = "permission-denied"
    status = 403
    title = "Permission denied"


class LockedOut(SecurityError):
    """Too many denied requests from this principal; wait for the lockout to end."""

    type = "locked-out"
    status = 429
    title = "Locked out"


class KeyNotFound(SecurityError):
    """No transit key of this name; keys are created on first use by `encrypt` or by rotation."""

    type = "key-not-found"
    status = 404
    title = "Key not found"


class DecryptionFailed(SecurityError):
    """The ciphertext is malformed or was not made by this key; pass exactly what encrypt returned."""

    type = "decryption-failed"
    status = 400
    title = "Decryption failed"
