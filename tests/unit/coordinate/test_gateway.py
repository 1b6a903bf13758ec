from __future__ import annotations

import httpx
import pytest

from aria_actors.coordinate.gateway import create_app
from aria_actors.coordinate.testing import LocalDirectory
from aria_actors.runtime.supervisor import Supervisor
from aria_actors.runtime.testing import LocalLauncher
from tests.fixtures.services import diamond, spec


@pytest.fixture
async def gateway():
    specs = [*diamond(), spec("t_broken", 1, cls="FailingStartService")]
    sup = Supervisor(specs, LocalLauncher())
    await sup.boot()
    app = create_app(LocalDirectory(sup))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


async def test_services_lists_every_service_with_status(gateway) -> None:
    body = (await gateway.get("/v1/services")).json()
    by_name = {s["name"]: s for s in body["services"]}
    assert set(by_name) == {"t_base", "t_left", "t_right", "t_lone", "t_top", "t_broken"}
    assert by_name["t_broken"]["status"] == "failed"
    assert "not writable" in by_name["t_broken"]["last_error"]
    assert by_name["t_top"]["status"] == "ready"


async def test_one_service_and_unknown_service_problem(gateway) -> None:
    ok = await gateway.get("/v1/services/t_left")
    assert ok.status_code == 200 and ok.json()["depends_on"] == ["t_base"]
    missing = await gateway.get("/v1/services/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    doc = missing.json()
    assert doc["type"].endswith("/not-found") and doc["status"] == 404 and "nope" in doc["detail"]
    assert doc["instance"] == "/v1/services/nope"


async def test_unknown_route_is_problem_json(gateway) -> None:
    resp = await gateway.get("/v1/nothing/here")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"


async def test_health_reports_degraded_when_a_service_failed(gateway) -> None:
    body = (await gateway.get("/health")).json()
    assert body["status"] == "degraded" and body["counts"]["failed"] == 1


async def test_metrics_are_prometheus_text(gateway) -> None:
    await gateway.get("/v1/services")
    text = (await gateway.get("/metrics")).text
    assert 'aria_service_status{service="t_broken",status="failed"} 1.0' in text
    assert 'aria_http_requests_total{code="200",method="GET",route="/v1/services"}' in text


async def test_openapi_docs_are_served(gateway) -> None:
    assert (await gateway.get("/docs")).status_code == 200
    spec_ = (await gateway.get("/openapi.json")).json()
    assert "/v1/services/{name}" in spec_["paths"]


async def test_service_routes_need_a_bearer_token(gateway) -> None:
    paths = (await gateway.get("/openapi.json")).json()["paths"]
    protected = [p for p, ops in paths.items() if "get" in ops and p.startswith("/v1/")
                 and not p.startswith("/v1/services") and p != "/v1/security/jwks"]
    assert protected, "no service router with a GET route is mounted"
    path = protected[0].replace("{", "").replace("}", "")
    resp = await gateway.get(path)
    assert resp.status_code == 401, (path, resp.text)
    assert resp.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in resp.text
