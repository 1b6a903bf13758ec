"""The auto-tuner's records on a real PostgreSQL (migration 0003, autotune.sql): a raise kept and a
decrease rolled back with their windows stored, one open change per knob and target held by the
partial unique index, listing filters, and a change left measuring restored at the next start.
The knob is the unit tests' simulated queue (the path through aria_queue is
tests/e2e/test_features_tune_autotune.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.tune.autotune_knobs import QUEUE_CONCURRENCY
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import ChangeConflict
from aria_actors.tune.service import TuneService
from aria_actors.tune.testing import FakeQueue
from tests.fixtures.postgres import DataClientOverDsn
from tests.unit.tune.test_autotune import SimulatedQueues

EDITOR = Principal(subject="ed", roles=("editor",))
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _start(tmp_path: Any, dsn: str, knob: SimulatedQueues) -> TuneService:
    svc = TuneService(AriaSettings(home=tmp_path), TuneSettings(sweep_interval_s=3600, autotune_window_s=0.01,
                                                                autotune_settle_s=0), queue=FakeQueue())
    svc.at_knobs = {knob.name: knob}

    async def audit(**_: Any) -> None:
        return None

    svc.at_audit = audit
    await svc.start(Deps({"aria_data": DataClientOverDsn(dsn, "aria_tune")}))
    return svc


async def _settled(svc: TuneService, change_id: int) -> dict[str, Any]:
    await asyncio.gather(*list(svc._autotune_tasks.values()))
    return await svc.autotune_change(EDITOR, change_id)


async def test_changes_are_recorded_decided_once_and_restored_after_a_crash(tmp_path, fresh_database) -> None:
    knob = SimulatedQueues(slow=(1, 20.0), fine=(4, 10.0))
    svc = await _start(tmp_path, fresh_database, knob)
    try:
        (raise_,) = (await svc.autotune_scan(EDITOR))["proposed"]
        with pytest.raises(ChangeConflict):
            await svc.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "slow", 3)
        kept = await _settled(svc, (await svc.autotune_apply(EDITOR, raise_["id"]))["id"])
        assert kept["status"] == "kept" and kept["approved_by"] == "ed" and kept["decided_at"]
        assert kept["before"]["throughput"] == 9.0 and kept["after"]["throughput"] == 18.0
        lower = await svc.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "fine", 1, reason="must lose")
        back = await _settled(svc, (await svc.autotune_apply(EDITOR, lower["id"]))["id"])
        assert back["status"] == "rolled_back" and knob.values == {"slow": 2, "fine": 4}
        assert [c["id"] for c in await svc.autotune_changes(EDITOR)] == [lower["id"], raise_["id"]]
        assert [c["id"] for c in await svc.autotune_changes(EDITOR, target="slow", status="kept")] == [raise_["id"]]
        dropped = await svc.autotune_reject(EDITOR, (await svc.autotune_propose(EDITOR, QUEUE_CONCURRENCY,
                                                                                 "fine", 8))["id"])
        assert dropped["status"] == "rejected" and dropped["decided_by"] == "ed"
        # a change applied when the process died: left measuring in the table
        left = await svc.autotune_propose(EDITOR, QUEUE_CONCURRENCY, "fine", 6)
        assert await svc.at_store.start(left["id"], "ed") is not None  # type: ignore[union-attr]
        knob.values["fine"] = 6
    finally:
        await svc.stop()
    again = await _start(tmp_path, fresh_database, knob)
    try:
        row = await again.autotune_change(EDITOR, left["id"])
        assert row["status"] == "rolled_back" and knob.values["fine"] == 4
    finally:
        await again.stop()
