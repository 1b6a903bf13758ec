"""Templates, characters with versions and model versions in a real PostgreSQL."""

from __future__ import annotations

import pytest

from aria_actors.runtime.errors import NotFound
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status
from aria_actors.shape.errors import InvalidCharacter, UnknownModelVersion

pytest.importorskip("torch")
pytestmark = pytest.mark.asyncio(loop_scope="session")
OP = Principal.operator()  # the tests call the service as the local operator
EDITOR = Principal("ed", ("editor",))  # and its routes as an editor


@pytest.fixture
async def service(shape_deps, tmp_path_factory):
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.service import ShapeService

    home = tmp_path_factory.mktemp("shape-records")
    svc = ShapeService(AriaSettings(home=home), ShapeConfig(pretrain_steps=0, max_new_tokens=8))
    await svc.start(shape_deps)
    await svc.wait_ready()
    yield svc
    await svc.stop()


async def test_health_probes_the_database(service) -> None:
    health = await service.health()
    assert health.status == Status.READY, health
    assert health.details["store"]["pool_size"] >= 1


async def test_character_evolves_through_versions(service) -> None:
    created = await service.create_character(OP, "fantasy", name="Ada", seed=3)
    cid = created["id"]
    assert created["version"] == 1
    first_traits = created["character"]["traits"]
    gone = first_traits[0]
    evolved = await service.evolve_character(OP, cid, remove_traits=[gone], add_traits=["curious"],
                                             attributes={"age": 40}, change="grew up")
    assert evolved["version"] == 2
    latest = await service.get_character(OP, cid)
    assert latest["version"] == 2 and latest["latest"] == 2
    assert gone not in latest["character"]["traits"] and "curious" in latest["character"]["traits"]
    assert (await service.get_character(OP, cid, 1))["character"]["traits"] == first_traits
    history = await service.character_history(OP, cid)
    assert [h["version"] for h in history] == [1, 2]
    assert [h["change"] for h in history] == ["created", "grew up"]


async def test_a_character_is_its_owners_and_its_tenants(service) -> None:
    from aria_actors.runtime.errors import Forbidden

    ada = Principal("ada", ("editor",), tenant="north")
    made = await service.create_character(ada, "fantasy", name="Ada", seed=3)
    assert (made["owner"], made["tenant"]) == ("ada", "north")
    cid = made["id"]
    colleague = Principal("bo", ("viewer",), tenant="north")
    assert (await service.get_character(colleague, cid))["version"] == 1
    assert [h["version"] for h in await service.character_history(colleague, cid)] == [1]
    with pytest.raises(Forbidden):  # a viewer reads, does not write
        await service.evolve_character(colleague, cid, add_traits=["curious"])
    stranger = Principal("cy", ("editor",), tenant="south")
    for read in (service.get_character(stranger, cid), service.character_history(stranger, cid),
                 service.evolve_character(stranger, cid, add_traits=["curious"])):
        with pytest.raises(Forbidden):
            await read
    # whether a character exists is told only to callers allowed characters at all
    nobody = Principal("dee", ("user",), tenant="north")
    with pytest.raises(Forbidden):
        await service.get_character(nobody, "00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound):
        await service.get_character(stranger, "00000000-0000-0000-0000-000000000000")
    assert [h["version"] for h in await service.character_history(OP, cid)] == [1]


async def test_the_default_tenants_characters_are_not_every_tenants(service) -> None:
    from aria_actors.runtime.errors import Forbidden

    dot = Principal("dot", ("editor",))  # a user of the default tenant: no tenant claim
    made = await service.create_character(dot, "fantasy", name="Dot", seed=4)
    assert made["tenant"] == ""
    mate = Principal("eve", ("viewer",))  # the same (default) tenant reads it
    assert (await service.get_character(mate, made["id"]))["version"] == 1
    assert made["id"] in {c["id"] for c in (await service.list_characters(mate, limit=200))["items"]}
    acme = Principal("fay", ("editor",), tenant="acme")
    for call in (service.get_character(acme, made["id"]), service.delete_character(acme, made["id"])):
        with pytest.raises(Forbidden):
            await call
    assert made["id"] not in {c["id"] for c in (await service.list_characters(acme, limit=200))["items"]}


async def test_characters_are_listed_by_tenant_and_deleted_by_who_may(service) -> None:
    from aria_actors.runtime.errors import BadRequest, Forbidden

    ada = Principal("ada", ("editor",), tenant="north")
    cy = Principal("cy", ("editor",), tenant="south")
    mine = {(await service.create_character(ada, "fantasy", name=f"n{i}", seed=i))["id"] for i in range(3)}
    theirs = (await service.create_character(cy, "fantasy", name="s", seed=9))["id"]
    seen, after = [], ""
    while True:  # two per page: the cursor walks every page once
        page = await service.list_characters(ada, after=after, limit=2)
        seen += [c["id"] for c in page["items"]]
        if not page["next"]:
            break
        after = page["next"]
    assert mine <= set(seen) and theirs not in seen and len(seen) == len(set(seen))
    assert theirs in {c["id"] for c in (await service.list_characters(OP, limit=200))["items"]}
    with pytest.raises(BadRequest):
        await service.list_characters(ada, limit=0)
    with pytest.raises(Forbidden):
        await service.delete_character(cy, next(iter(mine)))
    with pytest.raises(Forbidden):  # a viewer of the tenant reads but does not delete
        await service.delete_character(Principal("bo", ("viewer",), tenant="north"), next(iter(mine)))
    gone = mine.pop()
    await service.delete_character(ada, gone)
    with pytest.raises(NotFound):
        await service.get_character(ada, gone)
    with pytest.raises(NotFound):
        await service.delete_character(ada, gone)


async def test_an_edit_on_a_stale_version_is_refused_and_stores_nothing(service) -> None:
    from aria_actors.shape.errors import VersionConflict

    cid = (await service.create_character(OP, "fantasy", name="Ada", seed=3))["id"]
    await service.evolve_character(OP, cid, name="Ada I", expected_version=1)  # two people read version 1
    with pytest.raises(VersionConflict) as stale:
        await service.evolve_character(OP, cid, name="Ada B", expected_version=1)
    assert stale.value.fields["latest"] == 2 and stale.value.status == 409
    assert (await service.get_character(OP, cid))["character"]["name"] == "Ada I"
    assert (await service.evolve_character(OP, cid, name="Ada B", expected_version=2))["version"] == 3


async def test_invalid_evolution_is_refused_and_stores_nothing(service) -> None:
    created = await service.create_character(
        OP, "fantasy", {"template": "fantasy", "name": "Pax", "traits": ["pacifist", "kind"],
                    "attributes": {"age": 30, "role": "monk"}})
    with pytest.raises(InvalidCharacter) as info:
        await service.evolve_character(OP, created["id"], add_traits=["bloodthirsty"])
    assert info.value.fields["errors"][0]["field"] == "constraints.no-bloodthirsty-pacifist"
    assert [h["version"] for h in await service.character_history(OP, created["id"])] == [1]
    with pytest.raises(NotFound):
        await service.get_character(OP, created["id"], 7)


async def test_templates_survive_a_restart(service, shape_deps, tmp_path) -> None:
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.service import ShapeService

    await service.put_template(OP, {"name": "pair", "traits": ["a", "b"], "min_traits": 1, "max_traits": 2})
    again = ShapeService(AriaSettings(home=service.settings.home), ShapeConfig(pretrain_steps=0))
    await again.start(shape_deps)
    try:
        assert "pair" in {t["name"] for t in await again.list_templates(OP)}
    finally:
        await again.stop()


async def test_model_versions_and_unknown_version(service) -> None:
    base = await service.register_model(OP, "tiny-v1", "/models/tiny-v1", metrics={"reward": 0.1})
    child = await service.register_model(OP, "tiny-v2", "/models/tiny-v2", parent="tiny-v1",
                                         metrics={"reward": 0.3}, training_config={"lr": 0.01})
    assert child["parent"] == base["id"] and child["training_config"] == {"lr": 0.01}
    assert [m["id"] for m in await service.list_models(OP)] == ["tiny-v1", "tiny-v2"]
    with pytest.raises(UnknownModelVersion) as info:
        await service.get_model(OP, "tiny-v9")
    assert info.value.status == 404 and info.value.fields["model_version"] == "tiny-v9"
    with pytest.raises(UnknownModelVersion):
        await service.register_model(OP, "orphan", "/x", parent="nope")


async def test_records_over_http(service) -> None:
    import httpx

    from aria_actors.runtime.local import LocalClient
    from aria_actors.runtime.testing import api_app
    from aria_actors.shape.api import router

    app = api_app(router, clients={"aria_shape": LocalClient(service)}, caller=EDITOR)
    # In this event loop (the service's pool lives here), not in TestClient's own thread.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        r = await http.post("/v1/shape/characters", json={"template": "fantasy", "name": "Bo", "seed": 1,
                                                          "describe": False})
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        r2 = await http.post(f"/v1/shape/characters/{cid}/versions",
                             json={"name": "Bo the Bold", "change": "renamed"})
        assert r2.status_code == 201 and r2.json()["version"] == 2
        first = await http.get(f"/v1/shape/characters/{cid}?version=1")
        assert first.json()["character"]["name"] == "Bo"
        assert len((await http.get(f"/v1/shape/characters/{cid}/versions")).json()) == 2
        missing = await http.get("/v1/shape/models/nope")
        assert missing.status_code == 404
        assert missing.json()["type"].endswith("shape-unknown-model-version")


async def test_ab_test_between_registered_versions_then_promote(service, tmp_path) -> None:
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.model import build_tiny

    for i, seed in enumerate((1, 2)):
        path = build_tiny(ShapeConfig(seed=seed, pretrain_steps=0), tmp_path / f"v{i}")
        await service.register_model(OP, f"v{i}", str(path))
    with pytest.raises(UnknownModelVersion):
        await service.set_traffic(OP, {"v0": 1, "v9": 1})
    await service.set_traffic(OP, {"v0": 1, "v1": 1})
    served = [await service.complete_ab(OP, "Traits: brave.\nDescription:", key=f"user-{k}", max_new_tokens=4)
              for k in range(12)]
    assert {s["version"] for s in served} == {"v0", "v1"}
    again = await service.complete_ab(OP, "Traits: brave.\nDescription:", key="user-3", max_new_tokens=4)
    assert again["version"] == served[3]["version"]  # sticky per key
    first = {s["version"]: s["response_id"] for s in reversed(served)}
    await service.feedback(OP, "v0", first["v0"], 0.2)
    await service.feedback(OP, "v1", first["v1"], 0.8)
    report = await service.traffic_report(OP)
    assert sum(v["requests"] for v in report["versions"].values()) == 13
    assert report["leader"] == "v1"
    out = await service.promote(OP)
    assert out["promoted"] == "v1"
    inference = (await service.health()).details["inference"]
    assert inference["served_version"] == "v1" and set(inference["versions"]) == {"v1"}
    assert out["removed"] == ["base", "v0"]
    assert (await service.complete_ab(OP, "Traits: shy.\nDescription:", max_new_tokens=3))["version"] == "v1"

