"""The in-process engine service and its HTTP client, configured by the test module's ``CONFIG``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from aria_actors.engine.api import router
from aria_actors.engine.service import EngineService
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.testing import api_app


@pytest.fixture
async def service(request, tmp_path):
    svc = EngineService(AriaSettings(home=tmp_path), config=request.module.CONFIG)
    await svc.start(Deps())
    yield svc
    await svc.stop()


@pytest.fixture
def client(service):
    return TestClient(api_app(router, clients={"aria_engine": LocalClient(service)}))
