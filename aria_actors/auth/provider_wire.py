"""The OpenID provider's wire rules, Ray-free: parameters, redirect URIs, scopes, PKCE, client
authentication headers, and the redirect back to a client.

Guarantees and caveats
----------------------
- Parameters are bounded (count, length) and may not repeat (RFC 6749 3.1, 3.2); a violation is
  :class:`OidcInvalidRequest`, never a 500.
- A registered redirect URI is absolute, ``https`` (``http`` only for a loopback host: 127.0.0.1,
  [::1], localhost), has no fragment and no user info; a request's redirect URI must equal a
  registered one as a string (no prefix, wildcard or normalisation: RFC 9700 4.1.3).
- PKCE is S256 only (RFC 7636 4.2): ``plain`` or a missing method is refused. The verifier is
  compared with the stored challenge in constant time.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from aria_actors.auth import oauth
from aria_actors.auth.provider_errors import (
    OidcInvalidClient,
    OidcInvalidClientMetadata,
    OidcInvalidGrant,
    OidcInvalidRequest,
)

SCOPES = ("openid", "profile", "email")
MAX_PARAMS = 30
MAX_PARAM_CHARS = 2048
MAX_BODY = 16384
MAX_REDIRECT_URIS = 10
MAX_URI_CHARS = 2000
MAX_STATE_CHARS = 1024
MAX_NONCE_CHARS = 512
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_PKCE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 4.1: unreserved characters
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")    # base64url(SHA-256), no padding


def params(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Parameters as a dict, once they are few, short and none repeats; an empty value is absent."""
    out: dict[str, str] = {}
    for n, (key, value) in enumerate(pairs):
        if n >= MAX_PARAMS:
            raise OidcInvalidRequest(f"more than {MAX_PARAMS} parameters")
        if len(key) > 64 or len(value) > MAX_PARAM_CHARS:
            raise OidcInvalidRequest(f"parameter {key[:64]!r} is longer than {MAX_PARAM_CHARS} characters")
        if key in out:
            raise OidcInvalidRequest(f"parameter {key[:64]!r} is given more than once", parameter=key[:64])
        if value != "":  # RFC 6749 3.1: a parameter sent without a value is treated as omitted
            out[key] = value
    return out


def form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body's parameters (see :func:`params`)."""
    if len(body) > MAX_BODY:
        raise OidcInvalidRequest(f"the request body is larger than {MAX_BODY} bytes")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_PARAMS, strict_parsing=False)
    except UnicodeDecodeError:
        raise OidcInvalidRequest("the request body is not UTF-8") from None
    except ValueError:
        raise OidcInvalidRequest(f"more than {MAX_PARAMS} parameters") from None
    return params(pairs)


def basic_credentials(header: str) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` of an ``Authorization: Basic`` header (RFC 6749 2.3.1), else None."""
    return oauth.basic_credentials(header, OidcInvalidClient)


def check_redirect_uri(uri: object, what: str = "redirect_uris") -> str:
    """A redirect URI fit to register (see the module's notes); OidcInvalidClientMetadata otherwise."""
    if not isinstance(uri, str) or not 0 < len(uri) <= MAX_URI_CHARS or not uri.isprintable() or " " in uri:
        raise OidcInvalidClientMetadata(f"{what}: each must be 1-{MAX_URI_CHARS} printable characters without spaces",
                                        field=what)
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (why: urlsplit checks the port only when it is read)
    except ValueError:
        raise OidcInvalidClientMetadata(f"{what}: {uri[:100]!r} does not parse as a URL", field=what) from None
    if "#" in uri:
        raise OidcInvalidClientMetadata(f"{what}: {uri[:100]!r} has a fragment (RFC 6749 3.1.2)", field=what)
    if parts.username is not None or parts.password is not None:
        raise OidcInvalidClientMetadata(f"{what}: {uri[:100]!r} holds user info", field=what)
    if not host:
        raise OidcInvalidClientMetadata(f"{what}: {uri[:100]!r} is not an absolute URL with a host", field=what)
    if parts.scheme == "http" and host not in LOOPBACK:
        raise OidcInvalidClientMetadata(f"{what}: {uri[:100]!r} must be https (http only for a loopback host)",
                                        field=what)
    if parts.scheme not in ("https", "http"):
        raise OidcInvalidClientMetadata(f"{what}: {uri[:100]!r} must be https", field=what)
    return uri


def check_redirect_uris(uris: object, what: str = "redirect_uris", *, required: bool = True) -> list[str]:
    if not isinstance(uris, list | tuple) or len(uris) > MAX_REDIRECT_URIS or (required and not uris):
        raise OidcInvalidClientMetadata(f"{what}: give {'1' if required else '0'}-{MAX_REDIRECT_URIS} URIs",
                                        field=what)
    checked = [check_redirect_uri(u, what) for u in uris]
    return list(dict.fromkeys(checked))


def check_scopes(scopes: object, what: str = "scopes") -> list[str]:
    """Scopes a client may be registered for: known ones, ``openid`` among them."""
    if not isinstance(scopes, list | tuple) or not all(isinstance(s, str) for s in scopes):
        raise OidcInvalidClientMetadata(f"{what} must be a list of scope names", field=what)
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise OidcInvalidClientMetadata(f"unknown scopes {unknown[:5]}; known: {', '.join(SCOPES)}", field=what)
    if "openid" not in scopes:
        raise OidcInvalidClientMetadata("scopes must include openid", field=what)
    return [s for s in SCOPES if s in scopes]


def requested_scopes(scope: str | None, allowed: Iterable[str]) -> list[str] | None:
    """The scopes of a request in canonical order, or None when one is unknown, not allowed for
    the client, or ``openid`` is missing (the caller answers ``invalid_scope``)."""
    wanted = (scope or "").split()
    if "openid" not in wanted or not set(wanted) <= set(allowed):
        return None
    return [s for s in SCOPES if s in wanted]


def check_code_challenge(challenge: str | None, method: str | None) -> str:
    """The S256 code challenge of an authorization request; OidcInvalidRequest otherwise."""
    if not challenge:
        raise OidcInvalidRequest("code_challenge is required (PKCE, S256)")
    if method != "S256":
        raise OidcInvalidRequest("code_challenge_method must be S256 (plain is not accepted)")
    if not _CHALLENGE.match(challenge):
        raise OidcInvalidRequest("code_challenge must be the 43-character base64url SHA-256 of the verifier")
    return challenge


def verify_pkce(verifier: str | None, challenge: str) -> None:
    """Refuse unless ``verifier`` is well formed and its S256 challenge is ``challenge``."""
    if not verifier or not _PKCE.match(verifier):
        raise OidcInvalidGrant("code_verifier is missing or malformed (43-128 unreserved characters)")
    if not hmac.compare_digest(create_s256_code_challenge(verifier).encode(), challenge.encode()):
        raise OidcInvalidGrant("code_verifier does not match the code_challenge")


def with_query(uri: str, values: Mapping[str, str | None]) -> str:
    """``uri`` with ``values`` (None left out) added to its query, its own query kept."""
    extra = urlencode({k: v for k, v in values.items() if v is not None})
    if not extra:
        return uri
    return uri + ("&" if "?" in uri else "?") + extra


def origin(uri: str) -> str:
    """``scheme://host[:port]`` of a URL (for a Content-Security-Policy's form-action)."""
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"
