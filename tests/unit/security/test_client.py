"""make_client: environment settings resolved once, with requests' and hvac's precedence."""

from __future__ import annotations

import pytest

from aria_actors.security.secrets import make_client

_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
        "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "VAULT_CACERT",
        "VAULT_CAPATH")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


def test_environment_is_read_once_not_per_request(monkeypatch) -> None:
    client = make_client("http://openbao.example:8200", "t", 5.0)
    assert client.session.trust_env is False
    assert client.session.proxies == {}
    assert client.session.verify is True
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert client.session.proxies == {}  # a later change needs a new client


def test_proxy_from_environment_is_kept(monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    client = make_client("http://openbao.example:8200", "t", 5.0)
    assert client.session.proxies.get("http") == "http://proxy.example:3128"
    assert client.adapter._kwargs["proxies"] == client.session.proxies  # what hvac sends


def test_no_proxy_is_honoured(monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert make_client("http://127.0.0.1:8200", "t", 5.0).session.proxies == {}


def test_ca_bundle_precedence(monkeypatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/requests-ca.pem")
    client = make_client("https://openbao.example:8200", "t", 5.0)
    assert client.adapter._kwargs["verify"] == "/etc/requests-ca.pem"
    monkeypatch.setenv("VAULT_CACERT", "/etc/vault-ca.pem")
    assert make_client("https://openbao.example:8200", "t", 5.0).adapter._kwargs["verify"] == \
        "/etc/vault-ca.pem"


def test_token_and_timeout_reach_hvac() -> None:
    client = make_client("http://127.0.0.1:8200", "s.token", 2.5)
    assert client.token == "s.token"
    assert client.adapter._kwargs["timeout"] == 2.5
