"""The OAuth 2.0 token endpoint's wire format (RFC 6749 sections 2.3, 4.3, 4.4, 5, 6), Ray-free.

:func:`grant_request` turns a request's headers and body into a :class:`Grant`; the API then
calls the service. :func:`oauth_problem` renders an Aria error as problem+json that also carries
RFC 6749 5.2's ``error`` and ``error_description`` members and its status codes, so OAuth
clients and problem+json clients both understand it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote_plus

from fastapi.responses import JSONResponse

from aria_actors.auth.errors import (
    AccountDisabled,
    AccountLocked,
    InvalidClient,
    InvalidCredentials,
    InvalidRefreshToken,
    InvalidTokenRequest,
    UnsupportedGrantType,
)
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.http import PROBLEM_JSON

GRANTS = ("client_credentials", "password", "refresh_token")
MAX_BODY = 8192
_INVALID_GRANT = (InvalidCredentials, InvalidRefreshToken, AccountDisabled, AccountLocked)


@dataclass(frozen=True)
class Grant:
    type: str
    client_id: str = ""
    client_secret: str = ""
    username: str = ""
    password: str = ""
    tenant: str = ""
    refresh_token: str = ""


def _params(content_type: str, body: bytes) -> dict[str, str]:
    if len(body) > MAX_BODY:
        raise InvalidTokenRequest(f"the request body is larger than {MAX_BODY} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidTokenRequest("the request body is not UTF-8") from None
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json":
        try:
            data = json.loads(text or "{}", object_pairs_hook=_unique_keys)
        except json.JSONDecodeError:
            raise InvalidTokenRequest("the JSON body does not parse") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise InvalidTokenRequest("the JSON body must be an object of strings")
        return data
    if media_type not in ("", "application/x-www-form-urlencoded"):
        raise InvalidTokenRequest(f"send the parameters as application/x-www-form-urlencoded, not {media_type}")
    try:
        values = parse_qs(text, keep_blank_values=True, max_num_fields=20)
    except ValueError:  # more fields than max_num_fields
        raise InvalidTokenRequest("too many parameters") from None
    repeated = sorted(k for k, v in values.items() if len(v) > 1)
    if repeated:  # RFC 6749 3.2: parameters MUST NOT be included more than once
        raise InvalidTokenRequest(f"parameters given more than once: {', '.join(repeated)}")
    return {k: v[0] for k, v in values.items()}


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise InvalidTokenRequest(f"parameters given more than once: {', '.join(repeated)}")
    return dict(pairs)


def basic_credentials(header: str, error: type[AriaError] = InvalidClient) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` of an ``Authorization: Basic`` header (RFC 6749 2.3.1), None
    for another scheme; ``error`` (the caller's invalid-client error) when it does not decode."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise error("the Basic authorization header does not decode") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise error("the Basic authorization header holds no client_id:client_secret")
    return unquote_plus(client_id), unquote_plus(secret)  # RFC 6749 2.3.1: form-encoded first


def grant_request(headers: Mapping[str, str], body: bytes) -> Grant:
    params = _params(headers.get("content-type", "application/x-www-form-urlencoded"), body)
    grant_type = params.get("grant_type", "")
    if not grant_type:
        raise InvalidTokenRequest("grant_type is missing")
    if grant_type not in GRANTS:
        raise UnsupportedGrantType(grant_type=grant_type[:64])
    basic = basic_credentials(headers.get("authorization", ""))
    if basic is not None and (params.get("client_id") or params.get("client_secret")):  # blank = omitted
        raise InvalidTokenRequest("send client credentials once: in the Authorization header or in the body")
    client_id, client_secret = basic or (params.get("client_id", ""), params.get("client_secret", ""))
    if grant_type == "client_credentials":
        if not client_id or not client_secret:
            raise InvalidClient("client_credentials needs client_id and client_secret")
        return Grant(grant_type, client_id=client_id, client_secret=client_secret)
    # Credentials a client sends with the other grants are checked too (RFC 6749 3.2.1).
    creds = {"client_id": client_id, "client_secret": client_secret}
    if grant_type == "password":
        missing = [k for k in ("username", "password") if not params.get(k)]
        if missing:
            raise InvalidTokenRequest(f"the password grant needs {' and '.join(missing)}")
        return Grant(grant_type, username=params["username"], password=params["password"],
                     tenant=params.get("tenant", ""), **creds)
    if not params.get("refresh_token"):
        raise InvalidTokenRequest("the refresh_token grant needs refresh_token")
    return Grant(grant_type, refresh_token=params["refresh_token"], **creds)


def oauth_error(exc: AriaError) -> tuple[str, int]:
    """RFC 6749 5.2's error code and status for an Aria error."""
    if isinstance(exc, InvalidClient):
        return "invalid_client", 401
    if isinstance(exc, UnsupportedGrantType):
        return "unsupported_grant_type", 400
    if isinstance(exc, InvalidTokenRequest):
        return "invalid_request", 400
    if isinstance(exc, _INVALID_GRANT):
        return "invalid_grant", 400
    if exc.status == 503:
        return "temporarily_unavailable", 503
    if exc.status >= 500:
        return "server_error", exc.status
    return "invalid_request", exc.status


def oauth_problem(exc: AriaError, instance: str) -> JSONResponse:
    error, status = oauth_error(exc)
    doc = {**exc.problem(instance=instance), "status": status, "error": error, "error_description": exc.message}
    headers = {"cache-control": "no-store"}
    if error == "invalid_client":
        headers["www-authenticate"] = 'Basic realm="aria"'
    return JSONResponse(doc, status_code=status, media_type=PROBLEM_JSON, headers=headers)
