"""A study's winner trained into a model version of its service (tune/candidates.py) over the
in-memory store and a fake aria_interpret: the best trial's params reach the target's training as
the caller, who needs the target's own right; a named trial, multi-objective studies, objectives
without a trainer and bad input are refused naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from aria_actors.runtime.errors import BadRequest, Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import RpcSpec, default_gate, invoke
from aria_actors.runtime.service import Deps
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import StudyStateConflict, UnknownStudy
from aria_actors.tune.service import TuneService
from aria_actors.tune.testing import FakeQueue, MemoryStore
from tests.unit.tune.fixture_objectives import CONFIGURED

ADMIN = Principal("root", roles=("admin",))
EDITOR = Principal("ed", roles=("editor",), tenant="acme")


class FakeInterpret:
    """aria_interpret's start_training as the target answers it, checked as its caller."""

    TRAIN = "interpret:model:train"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def start_training(self, caller: Principal, version: str, dataset: str = "interactions",
                             config: dict[str, Any] | None = None, promote: bool = False,
                             params: dict[str, Any] | None = None) -> dict[str, Any]:
        default_gate().check(RpcSpec(self.TRAIN, self.TRAIN, "any"), caller)  # type: ignore[arg-type]
        self.calls.append({"caller": caller.subject, "version": version, "dataset": dataset, "config": config,
                           "promote": promote, "params": params})
        return {"job_id": len(self.calls), "version": version, "dataset": dataset, "state": "available"}


@pytest.fixture
async def tune() -> Iterator[TuneService]:
    service = TuneService(SimpleNamespace(health_timeout_s=5.0),
                          TuneSettings(objectives=CONFIGURED, sweep_interval_s=3600),
                          store=MemoryStore(), queue=FakeQueue())
    await service.start(Deps())
    service._ab_targets = {"aria_interpret": FakeInterpret()}
    events: list[dict[str, Any]] = []
    service.audited = events  # type: ignore[attr-defined]

    async def audit(event: dict[str, Any]) -> None:
        events.append(event)
    service._ab_audit = audit
    yield service
    await service.stop()


async def _study(tune: TuneService, caller: Principal, name: str, objective: str,
                 values: list[Any]) -> dict[str, Any]:
    """A study of ``objective`` whose trials completed with ``values`` (params: lr = 0.001 x number)."""
    made = await tune.create_study(caller, name, objective, budget=len(values) + 1, parallelism=1)
    store = tune._store
    await store.update_study(made["id"], "running", len(values) + 1, 1, caller.to_dict())  # type: ignore[union-attr]

    async def propose(study: dict[str, Any], trials: list[dict[str, Any]]) -> dict[str, Any]:
        return {"lr": 0.001 * (len(trials) + 1), "item_dim": 8 + len(trials)}
    for value in values:
        [trial] = await store.reserve(made["id"], propose)  # type: ignore[union-attr]
        await store.finish(made["id"], trial["number"], "complete", value, None)  # type: ignore[union-attr]
    return made


def _interpret(tune: TuneService) -> FakeInterpret:
    return tune._ab_targets["aria_interpret"]  # type: ignore[index, no-any-return]


async def test_the_best_trial_is_trained_as_the_caller_and_audited(tune: TuneService) -> None:
    await _study(tune, ADMIN, "ds", "din", [0.71, 0.78, 0.74])  # din maximises GAUC
    got = await invoke(tune, "train_candidate", (ADMIN, "ds", "din-v2"), {"config": {"epochs": 2}})
    assert got["trial"] == 1 and got["value"] == 0.78 and got["target"] == "aria_interpret"
    assert got["job"]["job_id"] == 1 and got["version"] == "din-v2"
    [call] = _interpret(tune).calls
    assert call == {"caller": "root", "version": "din-v2", "dataset": "interactions", "config": {"epochs": 2},
                    "promote": False, "params": {"lr": 0.002, "item_dim": 9}}
    assert tune.audited[-1]["op"] == "tune.study.candidate"  # type: ignore[attr-defined]
    assert "ds#1->din-v2 on interactions with {'epochs': 2}" in tune.audited[-1]["target"]  # type: ignore[attr-defined]
    named = await invoke(tune, "train_candidate", (ADMIN, "ds", "din-v3"), {"trial": 0, "dataset": "movielens-100k"})
    assert named["trial"] == 0 and _interpret(tune).calls[-1]["params"] == {"lr": 0.001, "item_dim": 8}


async def test_what_cannot_be_trained_is_refused(tune: TuneService) -> None:
    await _study(tune, ADMIN, "br", "branin", [1.0, 2.0])
    with pytest.raises(StudyStateConflict, match="no service that trains"):
        await invoke(tune, "train_candidate", (ADMIN, "br", "v"), {})
    await tune.create_study(ADMIN, "empty", "din", budget=2)
    with pytest.raises(StudyStateConflict, match="no complete trial"):
        await invoke(tune, "train_candidate", (ADMIN, "empty", "v"), {})
    await _study(tune, ADMIN, "ds", "din", [0.7])
    for args, field in (({"trial": 5}, "trial"), ({"trial": -1}, "trial"), ({"trial": True}, "trial"),
                        ({"dataset": "imdb"}, "dataset"), ({"config": [1]}, "config"),
                        ({"config": {"epochs": 1, "lr": 0.5}}, "config.lr")):
        with pytest.raises((BadRequest, StudyStateConflict)) as got:
            await invoke(tune, "train_candidate", (ADMIN, "ds", "v"), args)
        assert got.value.fields.get("field") == field, args
    with pytest.raises(UnknownStudy):
        await invoke(tune, "train_candidate", (ADMIN, "nope", "v"), {})
    assert _interpret(tune).calls == []


async def test_a_multi_objective_study_names_its_trial(tune: TuneService) -> None:
    made = await tune.create_arch_search(ADMIN, "arch", "din", budget=3)
    store = tune._store
    await store.update_study(made["id"], "running", 3, 1, ADMIN.to_dict())  # type: ignore[union-attr]

    async def propose(study: dict[str, Any], trials: list[dict[str, Any]]) -> dict[str, Any]:
        return {"item_dim": 8, "mlp_layers": 1}
    [trial] = await store.reserve(made["id"], propose)  # type: ignore[union-attr]
    await store.finish(made["id"], trial["number"], "complete", [0.8, 1e4, 1.0], None)  # type: ignore[union-attr]
    with pytest.raises(BadRequest, match="multi-objective") as got:
        await invoke(tune, "train_candidate", (ADMIN, "arch", "v"), {})
    assert got.value.fields["field"] == "trial"
    named = await invoke(tune, "train_candidate", (ADMIN, "arch", "arch-v1"), {"trial": 0})
    assert named["params"] == {"item_dim": 8, "mlp_layers": 1}


async def test_the_target_asks_for_its_own_right(tune: TuneService) -> None:
    # An editor owns its study (tune:study:write@own) but may not train a version every tenant is
    # served from: aria_interpret refuses it as the caller, and the refusal is audited.
    await _study(tune, EDITOR, "mine", "din", [0.7])
    with pytest.raises(Forbidden):
        await invoke(tune, "train_candidate", (EDITOR, "mine", "ed-v1"), {})
    assert [e["outcome"] for e in tune.audited[-2:]] == ["ok", "refused"]  # type: ignore[attr-defined]
    with pytest.raises(UnknownStudy):  # another tenant's study is not there for its callers
        await invoke(tune, "train_candidate", (Principal("x", roles=("editor",), tenant="globex"), "mine", "v"), {})
