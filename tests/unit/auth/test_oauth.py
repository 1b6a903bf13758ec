"""The token endpoint's wire format (RFC 6749), without a server."""

from __future__ import annotations

import base64
import json

import pytest

from aria_actors.auth.errors import (
    AccountLocked,
    InvalidClient,
    InvalidCredentials,
    InvalidTokenRequest,
    UnsupportedGrantType,
)
from aria_actors.auth.oauth import grant_request, oauth_error, oauth_problem

FORM = {"content-type": "application/x-www-form-urlencoded"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {**FORM, "authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_client_credentials_in_the_body_or_in_basic_auth() -> None:
    body = grant_request(FORM, b"grant_type=client_credentials&client_id=abc&client_secret=aria_cs_x")
    header = grant_request(basic("abc", "aria_cs_x"), b"grant_type=client_credentials")
    assert body == header and body.client_id == "abc" and body.client_secret == "aria_cs_x"
    # RFC 6749 2.3.1: the Basic values are form-encoded before base64
    assert grant_request(basic("a%2Bb", "s%3Ac"), b"grant_type=client_credentials").client_secret == "s:c"


def test_password_and_refresh_grants_in_a_form_or_json() -> None:
    g = grant_request(FORM, b"grant_type=password&username=alice&password=p%20w&tenant=acme")
    assert (g.username, g.password, g.tenant) == ("alice", "p w", "acme")
    j = grant_request({"content-type": "application/json"},
                      json.dumps({"grant_type": "refresh_token", "refresh_token": "aria_rt_x"}).encode())
    assert j.type == "refresh_token" and j.refresh_token == "aria_rt_x"


@pytest.mark.parametrize(("headers", "body", "error"), [
    (FORM, b"", InvalidTokenRequest),
    (FORM, b"grant_type=authorization_code&code=x", UnsupportedGrantType),
    (FORM, b"grant_type=password&username=a", InvalidTokenRequest),
    (FORM, b"grant_type=password&username=a&password=b&password=c", InvalidTokenRequest),
    (FORM, b"grant_type=refresh_token", InvalidTokenRequest),
    (FORM, b"grant_type=client_credentials&client_id=a", InvalidClient),
    (basic("a", "b"), b"grant_type=client_credentials&client_id=a", InvalidTokenRequest),
    ({**FORM, "authorization": "Basic !!!"}, b"grant_type=client_credentials", InvalidClient),
    ({"content-type": "application/json"}, b"[1]", InvalidTokenRequest),
    ({"content-type": "application/json"}, b"{nope", InvalidTokenRequest),
    (FORM, b"\xff\xfe", InvalidTokenRequest),
    (FORM, b"grant_type=password&" + b"x" * 9000, InvalidTokenRequest),
])
def test_malformed_requests_name_the_problem(headers, body, error) -> None:
    with pytest.raises(error):
        grant_request(headers, body)


def test_errors_map_to_rfc6749_codes_and_statuses() -> None:
    assert oauth_error(InvalidClient()) == ("invalid_client", 401)
    assert oauth_error(UnsupportedGrantType()) == ("unsupported_grant_type", 400)
    assert oauth_error(InvalidTokenRequest()) == ("invalid_request", 400)
    assert oauth_error(InvalidCredentials()) == ("invalid_grant", 400)
    assert oauth_error(AccountLocked(retry_after_s=3)) == ("invalid_grant", 400)
    response = oauth_problem(InvalidClient(), "/v1/auth/token")
    doc = json.loads(response.body)
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Basic")
    assert doc["error"] == "invalid_client" and doc["type"].endswith("/auth-invalid-client")
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("headers", "body"), [
    (FORM, "&".join(f"f{i}=x" for i in range(30)).encode()),  # more than 20 fields
    ({"content-type": "application/json"}, b'{"grant_type": "password", "grant_type": "refresh_token"}'),
    ({"content-type": "text/plain"}, b"grant_type=client_credentials"),
])
def test_more_malformed_requests_are_invalid_requests(headers, body) -> None:
    with pytest.raises(InvalidTokenRequest):
        grant_request(headers, body)


def test_client_credentials_sent_with_other_grants_are_kept_for_checking() -> None:
    g = grant_request(basic("cid", "aria_cs_s"), b"grant_type=refresh_token&refresh_token=aria_rt_x")
    assert (g.client_id, g.client_secret) == ("cid", "aria_cs_s")
    blank = grant_request(basic("cid", "aria_cs_s"), b"grant_type=client_credentials&client_id=")
    assert blank.client_id == "cid"  # a blank parameter counts as omitted (RFC 6749 3.1)
