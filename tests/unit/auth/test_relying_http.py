"""The relying party's HTTP side (discovery, JWKS, token endpoint) against an in-memory provider
(httpx.MockTransport): caching, bounded answers, issuer checks, no redirects."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aria_actors.auth.relying_errors import SsoProviderError
from aria_actors.auth.relying_http import ProviderHttp
from aria_actors.auth.relying_settings import SsoProvider

ISSUER = "https://login.example.com"
PROVIDER = SsoProvider(name="corp", issuer=ISSUER, client_id="aria id", client_secret_name="corp")
DISCOVERY = {"issuer": ISSUER, "authorization_endpoint": ISSUER + "/authorize",
             "token_endpoint": ISSUER + "/token", "jwks_uri": ISSUER + "/jwks"}


class FakeProvider:
    def __init__(self, **answers: Any) -> None:
        self.answers: dict[str, Any] = {"/.well-known/openid-configuration": DISCOVERY,
                                        "/jwks": {"keys": []}, "/token": {"id_token": "x"}, **answers}
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.answers[request.url.path]
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.seen]


def http(fake: FakeProvider, **options: Any) -> ProviderHttp:
    out = ProviderHttp(**options)
    out._client = httpx.AsyncClient(transport=httpx.MockTransport(fake), follow_redirects=False)
    return out


async def test_discovery_and_jwks_are_cached_and_refreshed_at_most_so_often() -> None:
    fake = FakeProvider()
    client = http(fake, min_refresh_s=3600)
    assert (await client.discovery(PROVIDER))["token_endpoint"] == ISSUER + "/token"
    first = await client.jwks(PROVIDER)
    assert await client.jwks(PROVIDER) is first
    assert await client.jwks(PROVIDER, refresh=True) is first  # fetched just now: not again
    assert fake.paths() == ["/.well-known/openid-configuration", "/jwks"]
    client.min_refresh_s = 0
    assert await client.jwks(PROVIDER, refresh=True) is not first
    assert fake.paths().count("/jwks") == 2
    client.ttl_s = 0  # expired cache: fetched again
    await client.discovery(PROVIDER)
    assert fake.paths().count("/.well-known/openid-configuration") == 2


async def test_answers_are_bounded_and_must_be_json_objects() -> None:
    big = {"issuer": ISSUER, "padding": "x" * 10000}
    with pytest.raises(SsoProviderError) as info:
        await http(FakeProvider(**{"/.well-known/openid-configuration": big}), max_bytes=4096).discovery(PROVIDER)
    assert info.value.fields["reason"] == "too-large" and info.value.status == 502
    for answer in (httpx.Response(200, text="<html>"), httpx.Response(200, json=[1]),
                   httpx.Response(500, json={"error": "server_error"}),
                   httpx.Response(302, headers={"location": "https://evil.example.com/"})):
        with pytest.raises(SsoProviderError) as info:
            await http(FakeProvider(**{"/.well-known/openid-configuration": answer})).discovery(PROVIDER)
        assert info.value.fields["reason"] == "bad-answer"


async def test_a_discovery_document_of_another_issuer_is_refused() -> None:
    fake = FakeProvider(**{"/.well-known/openid-configuration": {**DISCOVERY, "issuer": "https://evil.example.com"}})
    with pytest.raises(SsoProviderError) as info:
        await http(fake).discovery(PROVIDER)
    assert info.value.fields["reason"] == "issuer-mismatch"


async def test_unreachable_and_slow_providers_are_502() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    for fail, reason in ((down, "unreachable"), (slow, "timeout")):
        client = ProviderHttp()
        client._client = httpx.AsyncClient(transport=httpx.MockTransport(fail))
        with pytest.raises(SsoProviderError) as info:
            await client.discovery(PROVIDER)
        assert info.value.fields["reason"] == reason


async def test_the_code_exchange_sends_pkce_and_the_secret() -> None:
    fake = FakeProvider()
    client = http(fake)
    await client.exchange_code(PROVIDER, code="c0de", redirect_uri="https://aria.example.com/cb", verifier="v" * 64,
                               client_secret="s:cret")
    token = fake.seen[-1]
    form = dict(httpx.QueryParams(token.content.decode()))
    assert form == {"grant_type": "authorization_code", "code": "c0de", "redirect_uri": "https://aria.example.com/cb",
                    "code_verifier": "v" * 64, "client_id": "aria id"}
    # RFC 6749 2.3.1: id and secret form-encoded inside Basic
    assert token.headers["authorization"] == httpx.BasicAuth("aria%20id", "s%3Acret")._auth_header
    post = PROVIDER.model_copy(update={"token_auth": "client_secret_post"})
    await client.exchange_code(post, code="c", redirect_uri="https://a/cb", verifier="v" * 64, client_secret="s")
    assert "authorization" not in fake.seen[-1].headers
    assert dict(httpx.QueryParams(fake.seen[-1].content.decode()))["client_secret"] == "s"
