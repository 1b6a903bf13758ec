"""ShapeService and its router, in-process (LocalClient pickles like a Ray call)."""

from __future__ import annotations

import sys

import pytest
from fastapi.testclient import TestClient

from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status
from aria_actors.runtime.testing import api_app

pytest.importorskip("torch")

OP = Principal.operator()
EDITOR = Principal("ed", ("editor",))
VIEWER = Principal("vi", ("viewer",))
USER = Principal("us", ("user",))
OPERATOR = Principal("ops", ("operator",))


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
    assert isinstance(await svc.describe(OP, ["brave"]), str)
    assert (await svc.health()).details["inference"]["versions"]["base"]["state"] == "loaded"
    await svc.stop()


async def test_pretrained_tiny_model_writes_the_corpus_format(service) -> None:
    from aria_actors.shape.training.rewards import format_validity

    texts = await service.complete(OP, ["Traits: brave.\nDescription:"] * 8, max_new_tokens=16, seed=0)
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
    out = await svc.generate(OP, "fantasy", seed=1, describe=False)
    assert out["character"]["template"] == "fantasy"
    with pytest.raises(ModelLoadError):
        await svc.describe(OP, ["brave"])
    await svc.stop()


def _http(service, caller: Principal = OP) -> TestClient:
    from aria_actors.shape.api import router

    return TestClient(api_app(router, clients={"aria_shape": LocalClient(service)}, caller=caller))


@pytest.fixture
def http(service) -> TestClient:
    return _http(service)


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
    # from the trained model: the traits' profile, the description's, and how well they agree
    assert set(body["personality"]["traits"]["contributions"]) == set(char["traits"])
    assert body["personality"]["description"]["sentences"] >= 1
    assert -1 <= body["personality"]["consistency"] <= 1
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
    plain = (await service.complete(OP, [prompt], max_new_tokens=10, seed=7))[0]
    sid = (await service.start_stream(OP, prompt, max_new_tokens=10, seed=7))["stream_id"]
    pieces, reads = [], 0
    while True:
        chunk = await service.read_stream(OP, sid)
        reads += 1
        pieces += chunk["tokens"]
        if chunk["done"]:
            assert chunk["error"] is None
            break
    assert "".join(pieces) == plain and len(pieces) > 1
    from aria_actors.runtime.errors import NotFound

    with pytest.raises(NotFound):
        await service.read_stream(OP, sid)  # dropped once read to the end


def test_stream_over_http_is_server_sent_events(http) -> None:
    import json

    with http.stream("POST", "/v1/shape/stream", json={"prompt": "Traits: shy.\nDescription:",
                                                      "max_new_tokens": 8, "seed": 1}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        body = "".join(r.iter_text())
    events = [e for e in body.split("\n\n") if e]
    tokens = [json.loads(e.removeprefix("data: "))["token"] for e in events if e.startswith("data: ")]
    assert events[-1].startswith("event: done") and len(tokens) >= 2


# -- the boundary: every body validated before the service runs, every call authorized ----------
class Spy:
    """A transport that records which methods reached the service."""

    name = "aria_shape"

    def __init__(self, inner: LocalClient) -> None:
        self.inner, self.calls = inner, []

    async def call(self, method: str, *args, **kwargs):
        self.calls.append(method)
        return await self.inner.call(method, *args, **kwargs)


@pytest.fixture
def spied(service):
    from aria_actors.shape.api import router

    spy = Spy(LocalClient(service))
    return TestClient(api_app(router, clients={"aria_shape": spy})), spy


CHAR = {"template": "fantasy", "traits": ["kind"], "attributes": {"age": 30, "role": "bard"}}
MALFORMED = [
    ("post", "/v1/shape/characters/portrait", {"traits": "kind"}),  # no template, traits not a list
    ("post", "/v1/shape/characters/portrait", ["kind"]),
    ("post", "/v1/shape/characters/portrait", {**CHAR, "colour": "red"}),  # unknown field
    ("post", "/v1/shape/characters/portrait", {**CHAR, "traits": ["x" * 65]}),
    ("post", "/v1/shape/characters/portrait", {**CHAR, "traits": ["kind"] * 257}),
    ("post", "/v1/shape/characters/portrait", {**CHAR, "description": "d" * 20_001}),
    ("post", "/v1/shape/characters/portrait", {**CHAR, "attributes": {"age": [1]}}),
    ("post", "/v1/shape/characters/generate", {"template": "fantasy", "seed": -1}),
    ("post", "/v1/shape/characters/generate", {"template": "fantasy", "seed": 2**40}),
    ("post", "/v1/shape/characters/generate", {"template": "fantasy", "describe": False, "x": 1}),
    ("post", "/v1/shape/characters/generate", {"template": {"name": "t", "traits": []}}),
    ("post", "/v1/shape/characters/validate", {"template": "fantasy", "character": {"traits": []}}),
    ("post", "/v1/shape/describe", {"traits": ["brave"], "max_new_tokens": 10_000}),
    ("put", "/v1/shape/templates/pair", {"traits": ["a"], "mood": "up"}),
    ("put", "/v1/shape/templates/pair", {"traits": [f"t{i}" for i in range(300)]}),
    ("put", "/v1/shape/templates/-bad", {"traits": ["a"]}),
    ("post", "/v1/shape/characters", {"template": "fantasy", "character": {**CHAR, "x": 1}}),
    ("post", f"/v1/shape/characters/{'0' * 32}/versions", {"attributes": {f"a{i}": 1 for i in range(65)}}),
    ("post", "/v1/shape/characters/not-a-uuid/versions", {}),
    ("put", "/v1/shape/models/v1", {"path": ""}),
    ("put", "/v1/shape/models/.v1", {"path": "/m"}),
    ("put", "/v1/shape/traffic", {"weights": {}}),
    ("put", "/v1/shape/traffic", {"weights": {"a": -1}}),
    ("put", "/v1/shape/traffic", {"weights": {f"v{i}": 1 for i in range(17)}}),
    ("post", "/v1/shape/feedback", {"version": "a/b", "response_id": "n.m", "value": 1}),
    ("post", "/v1/shape/feedback", {"version": "a", "value": 1}),
    ("post", "/v1/shape/feedback", {"version": "a", "response_id": "no dot", "value": 1}),
    ("post", "/v1/shape/feedback", {"version": "a", "response_id": "n." + "m" * 200, "value": 1}),
    ("post", "/v1/shape/promote", {"version": "v1", "force": True}),
    ("post", "/v1/shape/complete", {"prompt": ""}),
    ("post", "/v1/shape/stream", {"prompt": "p" * 4001}),
    ("post", "/v1/shape/train", {"version": "v1", "steps": 0}),
    ("post", "/v1/shape/train", {"version": "v1", "settings": {f"k{i}": 1 for i in range(257)}}),
]


@pytest.mark.parametrize(("method", "path", "body"), MALFORMED, ids=[f"{m} {p}" for m, p, _ in MALFORMED])
def test_malformed_bodies_are_422_problem_json_before_the_service_runs(spied, method, path, body) -> None:
    http, spy = spied
    r = http.request(method.upper(), path, json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/validation") and r.json()["errors"]
    assert spy.calls == []


UUID0 = "0" * 32
NUL = [  # PostgreSQL's text and jsonb refuse NUL: each of these used to be a 500 from the store
    ("post", "/v1/shape/characters", {"template": "fantasy", "change": "made\u0000"}),
    ("post", "/v1/shape/characters", {"template": "fantasy", "name": "Ann\u0000"}),
    ("post", "/v1/shape/characters", {"template": "fantasy", "character": {**CHAR, "name": "A\u0000"}}),
    ("post", "/v1/shape/characters", {"template": "fantasy", "character": {**CHAR, "traits": ["kind\u0000"]}}),
    ("post", f"/v1/shape/characters/{UUID0}/versions", {"change": "\u0000"}),
    ("post", f"/v1/shape/characters/{UUID0}/versions", {"name": "A\nB"}),  # a name is one line
    ("post", f"/v1/shape/characters/{UUID0}/versions", {"description": "bell\u0007"}),
    ("post", f"/v1/shape/characters/{UUID0}/versions", {"add_traits": ["\u0000"]}),
    ("post", f"/v1/shape/characters/{UUID0}/versions", {"attributes": {"role": "bard\u0000"}}),
    ("post", f"/v1/shape/characters/{UUID0}/versions", {"attributes": {"r\u0000": 1}}),
    ("post", "/v1/shape/characters/generate", {"template": "fantasy", "name": "\u0000"}),
    ("post", "/v1/shape/characters/portrait", {**CHAR, "description": "\u0000"}),
    ("post", "/v1/shape/describe", {"traits": ["brave\u0000"]}),
    ("put", "/v1/shape/templates/pair", {"traits": ["a"], "description": "x\u0000"}),
    ("post", "/v1/shape/complete", {"prompt": "hi\u0000"}),
    ("post", "/v1/shape/stream", {"prompt": "hi", "key": "k\u0000"}),
    ("post", "/v1/shape/train", {"version": "v1", "settings": {"freeze": ["model.\u0000"]}}),
    ("put", "/v1/shape/models/v1", {"path": "/m\u0000"}),
    ("put", "/v1/shape/models/v1", {"path": "/m", "metrics": {"a\u0000": 1}}),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL, ids=[f"{m} {p} {b}" for m, p, b in NUL])
def test_nul_and_control_characters_in_text_are_422_before_the_service_runs(spied, method, path, body) -> None:
    http, spy = spied
    r = http.request(method.upper(), path, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/validation") and spy.calls == []


def test_text_fields_keep_line_breaks_and_tabs(spied) -> None:
    http, spy = spied
    r = http.post("/v1/shape/characters/portrait", json={**CHAR, "description": "one\n\ttwo\r\n"})
    assert r.status_code == 200, r.text
    r = http.post(f"/v1/shape/characters/{UUID0}/versions", json={"change": "why:\n- because"})
    assert r.status_code == 503  # valid: it reached the service, which has no database here
    assert spy.calls == ["portrait", "evolve_character"]


def test_a_body_that_is_not_json_is_422_and_so_are_bad_path_and_query_values(spied) -> None:
    http, spy = spied
    r = http.post("/v1/shape/characters/portrait", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    nan = http.put("/v1/shape/traffic", content=b'{"weights": {"a": NaN}}',
                   headers={"content-type": "application/json"})
    assert nan.status_code == 422, nan.text
    for path in ("/v1/shape/characters/nope", f"/v1/shape/characters/{'0' * 32}?version=0",
                 "/v1/shape/train/0", f"/v1/shape/train/{2**63}"):
        assert http.get(path).status_code == 422, path
    assert spy.calls == []
    # the same routes with good input reach the service (and fail there as domain errors, 4xx)
    assert http.post("/v1/shape/characters/portrait", json=CHAR).status_code == 200
    assert http.get(f"/v1/shape/characters/{'0' * 32}").status_code == 503  # no database here
    assert spy.calls == ["portrait", "get_character"]


async def test_a_malformed_character_is_a_4xx_domain_error_through_any_door(service) -> None:
    from aria_actors.shape.errors import InvalidCharacter

    with pytest.raises(InvalidCharacter) as info:
        await LocalClient(service).call("portrait", EDITOR, {"traits": "kind", "extra": 1})
    assert info.value.status == 422
    assert {e["field"] for e in info.value.fields["errors"]} == {"template", "traits", "extra"}


def test_ab_errors_without_a_split_are_409_not_500(http) -> None:
    r = http.post("/v1/shape/feedback", json={"version": "base", "response_id": "n.m", "value": 1.0})
    assert r.status_code == 409 and r.json()["type"].endswith("shape-no-traffic-split")
    r = http.post("/v1/shape/promote", json={})
    assert r.status_code == 409 and r.json()["type"].endswith("shape-nothing-to-promote")


ROUTES = [  # (method, path, body): each route, with a body that validates
    ("get", "/v1/shape/templates", None),
    ("post", "/v1/shape/characters/portrait", CHAR),
    ("post", "/v1/shape/characters/generate", {"template": "fantasy", "seed": 1, "describe": False}),
    # versions no store knows: refused inside (503 here, no database), nothing changes
    ("put", "/v1/shape/traffic", {"weights": {"zzz": 1}}),
    ("post", "/v1/shape/promote", {"version": "zzz"}),
    ("put", "/v1/shape/models/v1", {"path": "/models/v1"}),
    ("post", "/v1/shape/train", {"version": "v1"}),
]
# Who passes each route's permission check (the service may still refuse: 4xx/503 are fine).
ALLOWED = {
    "viewer": {"/v1/shape/templates", "/v1/shape/characters/portrait"},
    "editor": {"/v1/shape/templates", "/v1/shape/characters/portrait", "/v1/shape/characters/generate",
               "/v1/shape/train"},
    "operator": {"/v1/shape/templates", "/v1/shape/characters/portrait", "/v1/shape/traffic",
                 "/v1/shape/promote", "/v1/shape/models/v1", "/v1/shape/train"},
    "user": set(),
}


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_each_route_admits_the_roles_its_method_declares(service, role) -> None:
    from aria_actors.shape.api import router

    spy = Spy(LocalClient(service))
    http = TestClient(api_app(router, clients={"aria_shape": spy}, caller=Principal(role, (role,))))
    for method, path, body in ROUTES:
        r = http.request(method.upper(), path, json=body)
        if path in ALLOWED[role]:
            assert r.status_code != 403, (role, path, r.text)
        else:
            assert r.status_code == 403 and r.json()["type"].endswith("/forbidden"), (role, path, r.text)
    assert len(spy.calls) == len(ALLOWED[role])  # a refused route never reaches the service


def test_the_permission_is_checked_before_the_body_and_anonymous_callers_are_401(service) -> None:
    from aria_actors.shape.api import router

    clients = {"aria_shape": LocalClient(service)}
    user = TestClient(api_app(router, clients=clients, caller=USER))
    assert user.post("/v1/shape/characters/portrait", json={"traits": "kind"}).status_code == 403
    anonymous = TestClient(api_app(router, clients=clients, caller=Principal.anonymous()))
    assert anonymous.get("/v1/shape/templates").status_code == 401


async def test_the_service_checks_the_caller_itself_on_every_door(service) -> None:
    from aria_actors.runtime.errors import Forbidden, NotFound
    from aria_actors.shape.errors import NothingToPromote

    client = LocalClient(service)
    with pytest.raises(Forbidden):
        await client.call("promote", EDITOR, None)  # shape:model:promote@any: not an editor's
    with pytest.raises(NothingToPromote):
        await client.call("promote", OPERATOR, None)  # passes the check, then has nothing to do
    with pytest.raises(Forbidden):
        await client.call("generate", VIEWER, "fantasy", describe=False)
    assert (await client.call("generate", EDITOR, "fantasy", seed=1, describe=False))["character"]
    for undeclared in ("wait_ready", "flush_metrics", "sync_training", "start", "stop", "health"):
        with pytest.raises(NotFound):
            await client.call(undeclared, OP)


async def test_a_stream_is_read_only_by_the_caller_that_started_it(service) -> None:
    from aria_actors.runtime.errors import NotFound

    other = Principal("ed2", ("editor",))
    sid = (await service.start_stream(EDITOR, "Traits: kind.\nDescription:", max_new_tokens=4, seed=1))["stream_id"]
    with pytest.raises(NotFound):
        await service.read_stream(other, sid)
    while not (await service.read_stream(EDITOR, sid))["done"]:
        pass


def test_shape_permissions_fit_the_role_table() -> None:
    from aria_actors.runtime.rpc import surface
    from aria_actors.shape.service import ShapeService

    declared = surface(ShapeService)
    assert all(d.permission and d.permission.startswith("shape:") for d in declared.values())
    operator_only = {n for n, d in declared.items() if d.scope == "any"}
    assert operator_only == {"set_traffic", "promote", "load_version", "register_model"}
    assert declared["start_training"].permission == "shape:model:train"


def test_the_docs_table_of_who_may_call_what_matches_the_declarations() -> None:
    import re
    from pathlib import Path

    from aria_actors.runtime.errors import Forbidden
    from aria_actors.runtime.rpc import Gate, surface
    from aria_actors.shape.service import ShapeService

    doc = (Path(__file__).parents[3] / "docs" / "shape.md").read_text()
    section = doc.split("## Who may call what", 1)[1].split("\n## ", 1)[0]
    declared, gate, documented = surface(ShapeService), Gate(), set()
    holders: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        methods_col, _, permission_col, holders_col = [c.strip() for c in line.strip("|").split("|")]
        if holders_col != "same":
            holders = {r.strip() for r in holders_col.split(",")}
        for name, job in re.findall(r"`(\w+)`( \(job\))?", methods_col):
            spec = declared[name]
            documented.add(name)
            assert permission_col.strip("`") == spec.describe() and spec.job == bool(job), name
            granted = set()
            for role in ("admin", "operator", "editor", "viewer", "service", "user"):
                try:
                    gate.check(spec, Principal(role, (role,)))
                    granted.add(role)
                except Forbidden:
                    pass
            assert granted == holders, name
    assert documented == set(declared)


async def test_registering_a_directory_that_training_did_not_make_needs_node_path_rights(tmp_path) -> None:
    """``write@any`` (the machine ``service`` role holds it) registers checkpoints trained here;
    any other directory on the serving nodes is what ``shape:model:deploy@any`` is for."""
    from aria_actors.runtime.errors import Forbidden
    from aria_actors.runtime.rpc import Gate, invoke
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.service import ShapeService
    from aria_actors.shape.training.job import checkpoint_root

    svc = ShapeService(AriaSettings(home=tmp_path), ShapeConfig(pretrain_steps=0))
    machine = Principal("svc-client", ("service",), kind="service")
    for path in ("/etc", str(checkpoint_root(tmp_path) / ".." / ".." / "elsewhere")):
        with pytest.raises(Forbidden):
            await invoke(svc, "register_model", (machine, "v9", path), {}, Gate())
    inside = str(checkpoint_root(tmp_path) / "someone" / "0123456789abcdef" / "step-000001")
    with pytest.raises(Exception) as reached:  # past the check: the service is not started
        await invoke(svc, "register_model", (machine, "v9", inside), {}, Gate())
    assert not isinstance(reached.value, Forbidden)
