"""CORS from ``[coordinate]`` settings, and the section's validation."""

from __future__ import annotations

import pytest

from aria_actors.coordinate.config import CoordinateSettings
from aria_actors.runtime.errors import ConfigError
from aria_actors.runtime.settings import load_settings
from tests.unit.coordinate.apps import build, client, directory

STUDIO = "https://studio.example"
PREFLIGHT = {"Origin": STUDIO, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization,content-type"}


async def test_no_origins_no_cors_headers() -> None:
    app = build(await directory(), require_auth=True)
    async with client(app) as http:
        pre = await http.options("/v1/t/t_left/pid", headers=PREFLIGHT)
        get = await http.get("/health", headers={"Origin": STUDIO})
        policy = (await http.get("/v1/gateway/cors")).status_code
    assert not any(h.startswith("access-control-") for h in [*pre.headers, *get.headers])
    assert policy == 401  # the policy page needs a token


async def test_configured_origins_get_preflight_and_simple_headers() -> None:
    app = build(await directory(), require_auth=True, cors_origins=[STUDIO], cors_allow_credentials=True,
                cors_max_age_s=120)
    async with client(app) as http:
        # A preflight carries no token: answered before the bearer check.
        pre = await http.options("/v1/t/t_left/pid", headers=PREFLIGHT)
        get = await http.get("/health", headers={"Origin": STUDIO, "X-Request-ID": "cors-1"})
        other = await http.options("/v1/t/t_left/pid", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == STUDIO
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert pre.headers["access-control-allow-credentials"] == "true" and pre.headers["access-control-max-age"] == "120"
    assert {"authorization", "content-type"} <= {h.strip().lower() for h in
                                                 pre.headers["access-control-allow-headers"].split(",")}
    assert pre.headers["x-request-id"]  # preflights are observed too
    assert get.headers["access-control-allow-origin"] == STUDIO and get.headers["x-request-id"] == "cors-1"
    assert "X-Request-ID" in get.headers["access-control-expose-headers"]
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers


async def test_the_policy_page_shows_the_settings() -> None:
    app = build(await directory(), cors_origins=[STUDIO, "http://localhost:5173"])
    async with client(app) as http:
        body = (await http.get("/v1/gateway/cors")).json()
    assert body["enabled"] is True and body["origins"] == [STUDIO, "http://localhost:5173"]
    assert body["allow_credentials"] is False and "X-Request-ID" in body["expose_headers"]


def test_a_wildcard_origin_with_credentials_is_refused() -> None:
    with pytest.raises(ValueError, match="credentials cannot be allowed for the origin"):
        CoordinateSettings(cors_origins=["*"], cors_allow_credentials=True)
    assert CoordinateSettings(cors_origins=["*"]).cors_origins == ["*"]
    for bad in ("studio.example", "https://studio.example/", "https://x.example/path", "ftp://x.example"):
        with pytest.raises(ValueError, match="is not an origin"):
            CoordinateSettings(cors_origins=[bad])
    with pytest.raises(ValueError, match="not a method or header name"):
        CoordinateSettings(cors_headers=["X Bad"])


def test_the_section_reads_the_environment_and_names_a_bad_key(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ARIA_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("ARIA_COORDINATE_CORS_ORIGINS", f'["{STUDIO}"]')
    monkeypatch.setenv("ARIA_COORDINATE_REQUEST_TIMEOUT_S", "15")
    s = load_settings().coordinate
    assert s.cors_origins == [STUDIO] and s.request_timeout_s == 15.0 and s.access_log is True
    monkeypatch.setenv("ARIA_COORDINATE_CORS_ORIGINS", '["*"]')
    monkeypatch.setenv("ARIA_COORDINATE_CORS_ALLOW_CREDENTIALS", "true")
    with pytest.raises(ConfigError, match="ARIA_COORDINATE_CORS_ALLOW_CREDENTIALS"):
        load_settings()
