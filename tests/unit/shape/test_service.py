"""ShapeService and its router, in-process (LocalClient pickles like a Ray call)."""

from __future__ import annotations

import sys

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aria_actors.runtime.http import install_problem_handlers
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status

pytest.importorskip("torch")


def test_service_module_is_import_light() -> None:
    import subprocess

    code = ("import sys; import aria_actors.shape.service; "
            "print(any(m in sys.modules for m in ('torch', 'transformers', 'ray')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
async def service(tmp_path_factory):
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.service import ShapeService

    home = tmp_path_factory.mktemp("shape-home")
    svc = ShapeService(AriaSettings(home=home), ShapeConfig(pretrain_steps=150))
    assert (await svc.health()).status == Status.STARTING
    await svc.start(Deps())
    health = await svc.wait_ready()
    yield svc
    await svc.stop()
    assert (await svc.health()).status == Status.STOPPED
    assert health.status == Status.READY


async def test_health_reports_the_loaded_model(service) -> None:
    health = await service.health()
    assert health.status == Status.READY
    inference = health.details["inference"]
    assert inference["backend"] == "local" and inference["served_version"] == "base"
    base = inference["versions"]["base"]
    assert base["state"] == "loaded" and base["model_type"] == "qwen3"
    assert base["parameters"] > 50_000 and base["model"] == "tiny"


async def test_start_loads_no_model_and_the_first_generation_does(tmp_path) -> None:
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.service import ShapeService

    svc = ShapeService(AriaSettings(home=tmp_path), ShapeConfig(pretrain_steps=0, max_new_tokens=4))
    await svc.start(Deps())
    health = await svc.health()
    assert health.status == Status.READY  # templates and store work; no model yet
    assert health.details["inference"]["versions"]["base"]["state"] == "not loaded"
    assert not (tmp_path / "shape").exists()  # not even built
    assert isinstance(await svc.describe(["brave"]), str)
    assert (await svc.health()).details["inference"]["versions"]["base"]["state"] == "loaded"
    await svc.stop()


async def test_pretrained_tiny_model_writes_the_corpus_format(service) -> None:
    from aria_actors.shape.rewards import format_validity

    texts = await service.complete(["Traits: brave.\nDescription:"] * 8, max_new_tokens=16, seed=0)
    assert sum(format_validity([""] * 8, texts)) >= 4, texts


async def test_broken_model_path_degrades_but_templates_work(tmp_path) -> None:
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.errors import ModelLoadError
    from aria_actors.shape.service import ShapeService

    svc = ShapeService(AriaSettings(home=tmp_path), ShapeConfig(model_path=str(tmp_path / "missing")))
    await svc.start(Deps())
    assert (await svc.health()).status == Status.READY  # nothing tried yet
    health = await svc.wait_ready()
    assert health.status == Status.DEGRADED and "missing" in health.message
    assert health.details["inference"]["versions"]["base"]["state"] == "error"
    out = await svc.generate("fantasy", seed=1, describe=False)
    assert out["character"]["template"] == "fantasy"
    with pytest.raises(ModelLoadError):
        await svc.describe(["brave"])
    await svc.stop()


@pytest.fixture
def http(service) -> TestClient:
    from aria_actors.shape.api import router

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    app.state.clients = {"aria_shape": LocalClient(service)}
    return TestClient(app)


def test_generate_over_http_is_multimodal_and_valid(http) -> None:
    r = http.post("/v1/shape/characters/generate", json={"template": "fantasy", "name": "Ada", "seed": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    char = body["character"]
    assert char["name"] == "Ada" and 2 <= len(char["traits"]) <= 4 and char["description"]
    assert len(body["embedding"]) == 64
    assert body["portrait_svg"].startswith("<svg")
    assert set(body["personality"]["scores"]) == {"openness", "conscientiousness", "extraversion",
                                                  "agreeableness", "neuroticism"}
    v = http.post("/v1/shape/characters/validate", json={"template": "fantasy", "character": char})
    assert v.status_code == 200 and v.json()["valid"] is True
    again = http.post("/v1/shape/characters/generate", json={"template": "fantasy", "name": "Ada", "seed": 4})
    assert again.json()["character"] == char


def test_invalid_character_is_problem_json_naming_fields(http) -> None:
    bad = {"template": "fantasy", "traits": ["pacifist", "bloodthirsty", "wizardly"],
           "attributes": {"age": 20, "role": "monk"}}
    r = http.post("/v1/shape/characters/validate", json={"template": "fantasy", "character": bad})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    doc = r.json()
    assert doc["type"].endswith("shape-invalid-character")
    assert {e["field"] for e in doc["errors"]} == {"traits[2]", "constraints.no-bloodthirsty-pacifist"}


def test_impossible_template_is_refused_over_http(http) -> None:
    body = {"traits": ["a", "b"], "min_traits": 2, "max_traits": 2,
            "constraints": [{"name": "a-not-b", "kind": "excludes", "if": {"trait": "a"},
                             "then": {"trait": "b"}}]}
    r = http.put("/v1/shape/templates/pair", json=body)
    assert r.status_code == 422 and r.json()["type"].endswith("shape-impossible-template")
    assert r.json()["constraints"] == ["a-not-b"]
    assert http.get("/v1/shape/templates/pair").json()["type"].endswith("shape-unknown-template")


def test_put_and_use_a_template(http) -> None:
    body = {"traits": ["shy", "bold"], "min_traits": 1, "max_traits": 1,
            "attributes": [{"kind": "choice", "name": "mood", "values": ["up", "down"]}],
            "constraints": [{"name": "bold-up", "kind": "requires", "if": {"trait": "bold"},
                             "then": {"attribute": "mood", "in": ["up"]}}]}
    assert http.put("/v1/shape/templates/moods", json=body).status_code == 200
    assert "moods" in {t["name"] for t in http.get("/v1/shape/templates").json()}
    for seed in range(10):
        c = http.post("/v1/shape/characters/generate",
                      json={"template": "moods", "seed": seed, "describe": False}).json()["character"]
        assert not (c["traits"] == ["bold"] and c["attributes"]["mood"] != "up")


def test_describe_and_portrait_routes(http) -> None:
    r = http.post("/v1/shape/describe", json={"traits": ["brave", "kind"], "seed": 2, "max_new_tokens": 12})
    assert r.status_code == 200 and isinstance(r.json()["description"], str)
    p = http.post("/v1/shape/characters/portrait", json={"template": "fantasy", "traits": ["kind"]})
    assert p.status_code == 200 and p.headers["content-type"].startswith("image/svg+xml")
    assert http.post("/v1/shape/describe", json={"traits": []}).status_code == 422


async def test_stream_pieces_add_up_to_the_plain_completion(service) -> None:
    prompt = "Traits: brave, kind.\nDescription:"
    plain = (await service.complete([prompt], max_new_tokens=10, seed=7))[0]
    sid = (await service.start_stream(prompt, max_new_tokens=10, seed=7))["stream_id"]
    pieces, reads = [], 0
    while True:
        chunk = await service.read_stream(sid)
        reads += 1
        pieces += chunk["tokens"]
        if chunk["done"]:
            assert chunk["error"] is None
            break
    assert "".join(pieces) == plain and len(pieces) > 1
    from aria_actors.runtime.errors import NotFound

    with pytest.raises(NotFound):
        await service.read_stream(sid)  # dropped once read to the end


def test_stream_over_http_is_server_sent_events(http) -> None:
    import json

    with http.stream("POST", "/v1/shape/stream", json={"prompt": "Traits: shy.\nDescription:",
                                                      "max_new_tokens": 8, "seed": 1}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        body = "".join(r.iter_text())
    events = [e for e in body.split("\n\n") if e]
    tokens = [json.loads(e.removeprefix("data: "))["token"] for e in events if e.startswith("data: ")]
    assert events[-1].startswith("event: done") and len(tokens) >= 2
