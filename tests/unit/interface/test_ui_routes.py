"""The web UI's routes (aria_actors/interface/ui/routes.py), without Ray: the page and its files
are served with a strict CSP and the other security headers, nothing outside static/ is ever
served, and inside the real gateway app (``create_app``) the page and files need no token while
every data route still does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from aria_actors.coordinate.gateway import create_app, is_public
from aria_actors.interface.ui import STATIC
from aria_actors.interface.ui.routes import assets, content_security_policy, router
from aria_actors.runtime.http import install_problem_handlers


class NoServices:
    """The gateway's view of a system with no services: enough for its routes and auth."""

    async def status(self) -> dict[str, Any]:
        return {"phase": "none", "services": [], "counts": {}}

    async def service(self, name: str) -> dict[str, Any]:
        return {}

    def client(self, name: str) -> None:
        return None


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def gateway() -> Iterator[TestClient]:
    app = create_app(NoServices())  # type: ignore[arg-type]  # a directory by shape
    app.include_router(router)  # as the gateway wires it
    with TestClient(app) as c:
        yield c


def csp_of(response: Any) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in policy.split("; ")}


def test_the_page_is_html_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/", headers={"host": "aria.example:8000"})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="en">' in page.text and '<main id="main"' in page.text
    csp = csp_of(page)
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'" and csp["base-uri"] == "'none'"
    assert csp["connect-src"] == "'self' ws://aria.example:8000 wss://aria.example:8000"
    assert csp["img-src"] == "'self' blob:"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"


def test_the_page_has_no_inline_script_or_style_or_handler() -> None:
    html = (STATIC / "index.html").read_text()
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
    assert scripts and all(not body.strip() for body in scripts)  # every script is a file: src=...
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+\s*=", html)  # no onclick= and the like
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from another origin


def test_scripts_insert_data_as_text_only() -> None:
    for path in STATIC.glob("*.js"):
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in source, f"{path.name} uses {sink}"


def test_a_hostile_host_header_is_not_copied_into_the_policy() -> None:
    assert content_security_policy("evil.example; script-src *").split("; ")[5] == "connect-src 'self'"
    assert content_security_policy("a b").split("; ")[5] == "connect-src 'self'"
    assert content_security_policy("[::1]:8000").split("; ")[5] == "connect-src 'self' ws://[::1]:8000 wss://[::1]:8000"
    assert content_security_policy(None).split("; ")[5] == "connect-src 'self'"


@pytest.mark.parametrize(("name", "media_type"), [
    ("app.js", "text/javascript; charset=utf-8"), ("api.js", "text/javascript; charset=utf-8"),
    ("live.js", "text/javascript; charset=utf-8"), ("dom.js", "text/javascript; charset=utf-8"),
    ("app.css", "text/css; charset=utf-8"), ("favicon.svg", "image/svg+xml"),
])
def test_static_files_are_served_with_their_type_and_headers(client: TestClient, name: str, media_type: str) -> None:
    response = client.get(f"/ui/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.content == (STATIC / name).read_bytes()
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"
    again = client.get(f"/ui/{name}", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_every_file_the_page_links_exists(client: TestClient) -> None:
    html = client.get("/").text
    linked = re.findall(r"(?:src|href)=\"/ui/([^\"]+)\"", html)
    assert {"app.js", "app.css"} <= set(linked)
    imports = {m for p in STATIC.glob("*.js") for m in re.findall(r"from \"\./([^\"]+)\"", p.read_text())}
    for name in set(linked) | imports:
        assert client.get(f"/ui/{name}").status_code == 200, name


def test_head_answers_without_a_body(client: TestClient) -> None:
    head = client.head("/ui/app.js")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len((STATIC / "app.js").read_bytes()))


@pytest.mark.parametrize("path", [
    "/ui/../routes.py", "/ui/%2e%2e/routes.py", "/ui/..%2froutes.py", "/ui/%2e%2e%2f__init__.py",
    "/ui/..%5c__init__.py", "/ui//etc/passwd", "/ui/%2fetc%2fpasswd", "/ui/static/app.js", "/ui/.hidden",
    "/ui/nope.js", "/ui/", "/ui/app.js/", "/ui/app.js%00.css",
])
def test_nothing_outside_the_static_folder_is_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, (path, response.text[:200])
    assert "import " not in response.text  # no Python source leaked
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        assert response.json()["type"].endswith(("interface-ui-not-found", "not-found"))


def test_only_plain_visible_files_are_listed(tmp_path: Path) -> None:
    (tmp_path / "ok.js").write_text("1")
    (tmp_path / ".secret").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.js").write_text("2")
    (tmp_path / "link.js").symlink_to(tmp_path / "ok.js")
    assert set(assets(tmp_path)) == {"ok.js"}


def test_in_the_gateway_the_page_and_files_are_public_and_data_is_not(gateway: TestClient) -> None:
    assert gateway.get("/").status_code == 200
    assert gateway.get("/ui/app.js").status_code == 200
    for path in ("/v1/interface/topics", "/v1/shape/characters", "/v1/auth/users"):
        assert gateway.get(path).status_code == 401, path  # no token: refused before any service
    assert gateway.post("/").status_code in (401, 405)  # only GET/HEAD of the page are public


def test_the_exemption_is_exactly_the_page_and_the_ui_folder() -> None:
    def request(method: str, path: str) -> Request:
        return Request({"type": "http", "method": method, "path": path, "headers": [], "query_string": b""})

    assert is_public(request("GET", "/")) and is_public(request("HEAD", "/"))
    assert is_public(request("GET", "/ui/app.js"))
    assert not is_public(request("POST", "/"))
    assert not is_public(request("GET", "/ui"))  # not under the folder
    assert not is_public(request("GET", "/uix/app.js"))
    assert not is_public(request("GET", "/v1/interface/docs"))
