"""``POST /v1/shape/personality`` and the service's personality method, in-process."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.testing import api_app
from aria_actors.shape.characters.personality import DIMENSIONS, MAX_TEXT
from aria_actors.shape.errors import InvalidText

pytest.importorskip("torch")

OP = Principal.operator()
VIEWER = Principal("vi", ("viewer",))


@pytest.fixture(scope="module")
async def service(tmp_path_factory):
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.service import ShapeService

    home = tmp_path_factory.mktemp("shape-home")
    svc = ShapeService(AriaSettings(home=home), ShapeConfig(pretrain_steps=0))
    await svc.start(Deps())
    yield svc
    await svc.stop()


@pytest.fixture
def http(service) -> TestClient:
    from aria_actors.shape.api import router

    return TestClient(api_app(router, clients={"aria_shape": LocalClient(service)}, caller=OP))


def test_personality_route_reads_text_and_traits(http, service) -> None:
    r = http.post("/v1/shape/personality", json={"text": "I love parties. I talk to everyone there.",
                                                 "traits": ["cheerful", "shy"]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out["scores"]) == set(DIMENSIONS) and out["description"]["sentences"] == 2
    assert set(out["traits"]["contributions"]) == {"cheerful", "shy"}
    assert -1 <= out["consistency"] <= 1
    assert out["model"]["embedding_model"].endswith("all-MiniLM-L6-v2")
    assert all(0.5 < v <= 1 for v in out["model"]["cv_accuracy"].values())
    # the head was cached under the service's data dir, for the next start
    assert list((service.settings.home / "shape" / "personality").glob("personality-head-*.json"))


async def test_health_shows_the_personality_model_once_loaded(service) -> None:
    await service.personality(OP, "I am calm.")
    assert set((await service.health()).details["personality"]["cv_accuracy"]) == set("OCEAN")


@pytest.mark.parametrize("body", [
    {},
    {"text": ""},
    {"text": "   \n "},
    {"text": "x" * (MAX_TEXT + 1)},
    {"text": "bad \x00 byte"},
    {"text": "fine", "traits": ["a"] * 33},
    {"text": "fine", "traits": ["x" * 65]},
    {"text": "fine", "extra": 1},
    {"text": 7},
])
def test_bad_input_is_a_422_problem(http, body) -> None:
    r = http.post("/v1/shape/personality", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_the_method_refuses_blank_or_long_text_itself(service) -> None:
    """Callers other than the route (services, jobs) get the same bounds."""
    for text in ("", "  ", "x" * (MAX_TEXT + 1)):
        with pytest.raises(InvalidText) as err:
            await service.personality(OP, text)
        assert err.value.status == 422 and err.value.fields["max_chars"] == MAX_TEXT


async def test_a_viewer_may_read_a_personality(service) -> None:
    out = await LocalClient(service).call("personality", VIEWER, "I am tidy.")
    assert set(out["scores"]) == set(DIMENSIONS)


async def test_generated_characters_carry_the_models_personality(service) -> None:
    out = await service.generate(OP, "fantasy", seed=3, describe=False)
    personality = out["personality"]
    assert set(personality["traits"]["contributions"]) == set(out["character"]["traits"])
    assert personality["description"] is None and personality["consistency"] is None
    assert personality["scores"] == personality["traits"]["scores"]


async def test_a_model_that_cannot_load_is_a_typed_error(tmp_path, monkeypatch) -> None:
    from aria_actors.shape import service as service_module
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.errors import ModelLoadError
    from aria_actors.shape.service import ShapeService

    def broken(cache_dir):
        raise OSError("model.safetensors: truncated")

    monkeypatch.setattr(service_module, "shared_model", broken)
    svc = ShapeService(AriaSettings(home=tmp_path), ShapeConfig(pretrain_steps=0))
    await svc.start(Deps())
    with pytest.raises(ModelLoadError) as err:
        await svc.personality(OP, "I am calm.")
    assert err.value.status == 503 and "truncated" in err.value.message
    await svc.stop()
