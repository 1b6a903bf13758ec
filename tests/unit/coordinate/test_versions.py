"""API versioning: the versions served, a v2 mounted next to v1, and v1's deprecation headers."""

from __future__ import annotations

from datetime import date

import pytest

from aria_actors.coordinate.config import CoordinateSettings
from aria_actors.coordinate.versions import BadVersion, copy_router, http_date, mount_version, retarget, version_of
from aria_actors.runtime.errors import ConfigError
from aria_actors.runtime.settings import load_settings
from tests.unit.coordinate.apps import build, calls_router, client, directory

SUNSET = date(2027, 1, 31)


async def test_the_gateway_serves_v1_today() -> None:
    app = build(await directory())
    async with client(app) as http:
        body = (await http.get("/versions")).json()
        plain = await http.get("/v1/services")
    [v1] = body["versions"]
    assert v1["version"] == "v1" and v1["status"] == "current" and v1["sunset"] is None
    assert v1["routes"] > 5 and body["latest"] == "v1"
    assert "deprecation" not in plain.headers and "sunset" not in plain.headers


async def test_a_v2_next_to_a_deprecated_v1_and_the_headers_of_v1() -> None:
    app = build(await directory(), deprecated_versions={"v1": SUNSET})
    v2 = mount_version(app, calls_router(), "v2")
    assert {r.path for r in v2.routes} >= {"/v2/t/{service}/pid", "/v2/t/slow"}
    async with client(app) as http:
        old = await http.get("/v1/t/t_left/pid")
        new = await http.get("/v2/t/t_left/pid")
        assert old.status_code == new.status_code == 200 and old.json() == new.json()  # the same handler
        assert old.headers["deprecation"] == "true"
        assert old.headers["sunset"] == "Sun, 31 Jan 2027 00:00:00 GMT" == http_date(SUNSET)
        assert old.headers["link"] == '</v2/t/t_left/pid>; rel="successor-version"'
        assert "deprecation" not in new.headers and "link" not in new.headers
        # A v1 route with no v2 twin: deprecated, but no link to a page that does not exist.
        only_v1 = await http.get("/v1/services")
        assert only_v1.headers["deprecation"] == "true" and "link" not in only_v1.headers
        # Errors under v1 carry the headers too; paths outside every version never do.
        assert (await http.get("/v1/nothing")).headers["deprecation"] == "true"
        assert "deprecation" not in (await http.get("/health")).headers
        listing = (await http.get("/versions")).json()
        routes = (await http.get("/v2/t/slow", params={"seconds": 0})).status_code
    by_version = {v["version"]: v for v in listing["versions"]}
    assert by_version["v1"] == {**by_version["v1"], "status": "deprecated", "sunset": "2027-01-31", "successor": "v2"}
    assert by_version["v2"]["status"] == "current" and by_version["v2"]["routes"] == 4
    assert listing["latest"] == "v2" and routes == 200


async def test_a_route_keeps_its_permission_and_docs_under_the_new_version() -> None:
    from aria_actors.coordinate.gateway import route_permits
    from aria_actors.storage.api import router

    copy = copy_router(router, "v2")
    assert len(copy.routes) == len(router.routes) > 5
    pairs = {(r.path.replace("/v2/", "/v1/", 1), frozenset(r.methods)): r for r in copy.routes}
    for original in router.routes:
        twin = pairs[(original.path, frozenset(original.methods))]
        assert twin.summary == original.summary and twin.response_model == original.response_model
        assert [p.spec for p in route_permits(twin)] == [p.spec for p in route_permits(original)]


async def test_a_public_route_stays_public_under_the_new_version() -> None:
    from aria_actors.auth.api import router

    app = build(await directory(), require_auth=True)
    mount_version(app, router, "v2")
    async with client(app) as http:
        # The login route fronts a public method: past the bearer check to aria_auth (not running
        # here: 503 naming it), on v2 as on v1; a route needing a token stays a 401 on v2.
        for path in ("/v1/auth/login", "/v2/auth/login"):
            r = await http.post(path, json={})
            assert r.status_code == 503 and r.json()["service"] == "aria_auth", (path, r.text)
        assert (await http.get("/v2/auth/me")).status_code == 401


def test_version_helpers_and_bad_input() -> None:
    assert version_of("/v1/storage/x") == "v1" and version_of("/v12") == "v12"
    assert version_of("/health") is None and version_of("/v1beta/x") is None and version_of("/v0/x") is None
    assert retarget("/v1/storage/x", "v2") == "/v2/storage/x" and retarget("/storage", "v3") == "/v3/storage"
    with pytest.raises(BadVersion, match="not an API version"):
        copy_router(calls_router(), "2")
    with pytest.raises(ValueError, match="not an API version"):
        CoordinateSettings(deprecated_versions={"version1": SUNSET})


def test_deprecated_versions_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ARIA_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("ARIA_COORDINATE_DEPRECATED_VERSIONS", '{"v1": "2027-01-31"}')
    assert load_settings().coordinate.deprecated_versions == {"v1": SUNSET}
    monkeypatch.setenv("ARIA_COORDINATE_DEPRECATED_VERSIONS", '{"v1": "soon"}')
    with pytest.raises(ConfigError, match="ARIA_COORDINATE_DEPRECATED_VERSIONS"):
        load_settings()
