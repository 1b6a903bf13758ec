"""The OpenID provider's HTML pages: login, MFA, consent, logout confirmation, logged out.
Minimal, server-rendered.

Guarantees and caveats
----------------------
- Every value put in a page is HTML-escaped (``html.escape`` with quotes); pages hold no script
  and no style, so the Content-Security-Policy allows nothing but posting forms to this gateway
  and (for the redirect that follows a post) to the client's redirect origin.
- Every page is sent with ``X-Frame-Options: DENY`` (and ``frame-ancestors 'none'``), ``no-store``,
  ``nosniff`` and ``no-referrer`` (the authorization request's parameters stay out of Referer).
- The CSRF token travels in a hidden field and in a cookie named after the request
  (``aria_oidc_<request hex>``: HttpOnly, SameSite=Strict, path-scoped to the provider, Secure
  when the issuer is https, living as long as the request).
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse

COOKIE_PREFIX = "aria_oidc_"
SCOPE_TEXT = {"openid": "know who you are (your user id)",
              "profile": "see your username and display name",
              "email": "see your email address"}


def cookie_name(request_id: object) -> str | None:
    """The CSRF cookie's name for a request id (None when it is not a UUID)."""
    try:
        return COOKIE_PREFIX + uuid.UUID(str(request_id)).hex
    except ValueError:
        return None


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _hidden(page: Mapping[str, Any], **extra: str) -> str:
    values = {"request": page["request_id"], "csrf": page["csrf"], **extra}
    return "".join(f'<input type="hidden" name="{_e(k)}" value="{_e(v)}">' for k, v in values.items())


def _action(page: Mapping[str, Any], step: str) -> str:
    return _e(urlsplit(page["issuer"]).path + "/authorize/" + step)


def _document(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{_e(title)}</title></head>'
            f"<body><main><h1>{_e(title)}</h1>{body}</main></body></html>")


def _error(message: str | None) -> str:
    return f'<p role="alert"><strong>{_e(message)}</strong></p>' if message else ""


def login(page: Mapping[str, Any], error: str | None = None) -> str:
    tenant = f" (tenant {_e(page['tenant'])})" if page.get("tenant") else ""
    return _document("Sign in", (
        f"<p>Sign in to continue to <strong>{_e(page['client_name'])}</strong>{tenant}.</p>{_error(error)}"
        f'<form method="post" action="{_action(page, "login")}">{_hidden(page)}'
        '<p><label>Username <input name="username" autocomplete="username" required maxlength="64"></label></p>'
        '<p><label>Password <input name="password" type="password" autocomplete="current-password" required '
        'maxlength="1024"></label></p><p><button type="submit">Sign in</button></p></form>'))


def mfa(page: Mapping[str, Any], error: str | None = None) -> str:
    return _document("Two-step verification", (
        f"<p>Enter the code from your authenticator app (or a recovery code).</p>{_error(error)}"
        f'<form method="post" action="{_action(page, "mfa")}">{_hidden(page, challenge=page["challenge"])}'
        '<p><label>Code <input name="code" autocomplete="one-time-code" required maxlength="64"></label></p>'
        '<p><button type="submit">Verify</button></p></form>'))


def consent(page: Mapping[str, Any]) -> str:
    items = "".join(f"<li>{_e(SCOPE_TEXT.get(s, s))}</li>" for s in page["scopes"])
    return _document("Allow access?", (
        f"<p><strong>{_e(page['client_name'])}</strong> asks to:</p><ul>{items}</ul>"
        f'<form method="post" action="{_action(page, "consent")}">{_hidden(page)}'
        '<p><button type="submit" name="decision" value="allow">Allow</button> '
        '<button type="submit" name="decision" value="deny">Deny</button></p></form>'))


def logout(page: Mapping[str, Any]) -> str:
    """Asks before signing out (an RP-initiated logout without a valid, recent id_token_hint)."""
    who = f" of <strong>{_e(page['client_name'])}</strong>" if page.get("client_name") else ""
    action = _e(urlsplit(page["issuer"]).path + "/logout/confirm")
    return _document("Sign out?", (
        f"<p>An application asks to sign you out{who}. Sign out?</p>"
        f'<form method="post" action="{action}">{_hidden(page)}'
        '<p><button type="submit">Sign out</button></p></form>'))


def logged_out() -> str:
    return _document("Signed out", "<p>You are signed out. You can close this window.</p>")


def headers(redirect_origin: str | None = None) -> dict[str, str]:
    form_action = "'self'" + (f" {redirect_origin}" if redirect_origin else "")
    return {
        "content-security-policy": (f"default-src 'none'; form-action {form_action}; frame-ancestors 'none'; "
                                    "base-uri 'none'"),
        "x-frame-options": "DENY", "cache-control": "no-store", "pragma": "no-cache",
        "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
    }


def respond(document: str, page: Mapping[str, Any] | None = None, status: int = 200,
            set_cookie: bool = False) -> HTMLResponse:
    """The page with its security headers; ``set_cookie``: also the request's CSRF cookie."""
    response = HTMLResponse(document, status_code=status,
                            headers=headers(page.get("redirect_origin") if page else None))
    if set_cookie and page is not None:
        name = cookie_name(page["request_id"])
        if name:
            issuer = urlsplit(page["issuer"])
            response.set_cookie(name, page["csrf"], max_age=int(page["expires_in"]), path=issuer.path,
                                secure=issuer.scheme == "https", httponly=True, samesite="strict")
    return response
