"""``POST /v1/shape/personality`` and the service's personality method, in-process."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.testing import api_app
from aria_actors.shape.api import PersonalityRequest
from aria_actors.shape.characters.personality import DIMENSIONS, MAX_TEXT, MAX_TRAIT_CHARS, MAX_TRAITS
from aria_actors.shape.errors import InvalidText

from .test_personality_cache import FakeEmbedder

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


@pytest.mark.parametrize(("text", "traits", "error"), [
    (7, None, "InvalidText"),
    (None, None, "InvalidText"),
    (b"I am calm.", None, "InvalidText"),
    ("bad \x00 byte", None, "InvalidText"),
    ("fine", "kind", "BadRequest"),  # a string is no list: it would be scored letter by letter
    ("fine", {"kind": 1}, "BadRequest"),
    ("fine", ["a"] * (MAX_TRAITS + 1), "BadRequest"),
    ("fine", ["x" * (MAX_TRAIT_CHARS + 1)], "BadRequest"),
    ("fine", [7], "BadRequest"),
    ("fine", ["two\nlines"], "BadRequest"),
])
async def test_the_method_checks_types_and_bounds_as_the_route_does(service, text, traits, error) -> None:
    """Callers other than the route (services, jobs) get a 4xx for what the route refuses."""
    with pytest.raises(AriaError) as err:
        await service.personality(OP, text, traits)
    assert type(err.value).__name__ == error and 400 <= err.value.status < 500


async def test_the_methods_bounds_admit_what_the_route_admits(service) -> None:
    out = await service.personality(OP, "I am calm.\tReally.", ("kind", "x" * MAX_TRAIT_CHARS))
    assert set(out["traits"]["contributions"]) == {"kind", "x" * MAX_TRAIT_CHARS}
    assert PersonalityRequest(text="fine", traits=["a"] * MAX_TRAITS).traits == ["a"] * MAX_TRAITS


def _broken(cache_dir):
    raise OSError("model.safetensors: truncated")


async def test_a_character_is_generated_without_a_personality_model(tmp_path, monkeypatch) -> None:
    """generate is best-effort about the personality: the character, and why its profile is missing."""
    from aria_actors.shape import service as service_module
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.service import ShapeService

    monkeypatch.setattr(service_module, "shared_model", _broken)
    svc = ShapeService(AriaSettings(home=tmp_path), ShapeConfig(pretrain_steps=0))
    await svc.start(Deps())
    try:
        out = await svc.generate(OP, "fantasy", seed=3, describe=False)
        assert out["character"]["traits"] and out["portrait_svg"]
        problem = out["personality"]["error"]
        assert problem["status"] == 503 and problem["type"].endswith("shape-model-load")
        assert "truncated" in problem["detail"]
    finally:
        await svc.stop()


async def test_an_unwritable_cache_folder_still_serves_and_trains_once(tmp_path, monkeypatch) -> None:
    from aria_actors.shape.characters import personality as pm
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.service import ShapeService

    embedder = FakeEmbedder(tmp_path / "embedder")
    monkeypatch.setattr(pm, "_shared", {})
    monkeypatch.setattr(pm, "default_embedder", lambda: embedder)
    trained = []
    original = pm.PersonalityModel.train.__func__
    monkeypatch.setattr(pm.PersonalityModel, "train",
                        classmethod(lambda cls, *a, **k: trained.append(1) or original(cls, *a, **k)))
    (tmp_path / "a-file").write_text("")
    for _ in range(2):  # two service instances of one process: one training
        svc = ShapeService(AriaSettings(home=tmp_path / "home"), ShapeConfig(pretrain_steps=0))
        monkeypatch.setattr(svc, "_personality_dir", lambda: tmp_path / "a-file" / "personality")
        await svc.start(Deps())
        try:
            for text in ("I am calm.", "I love parties."):
                assert set((await svc.personality(OP, text, ["kind"]))["scores"]) == set(DIMENSIONS)
            assert set((await svc.generate(OP, "fantasy", seed=1, describe=False))["personality"]["scores"]) \
                == set(DIMENSIONS)
        finally:
            await svc.stop()
    assert len(trained) == 1
