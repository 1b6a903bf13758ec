"""A/B tests' records on a real PostgreSQL (migrations 0006 and 0007, abtest.sql): the decision rule
(method, effect) is stored with the test and read back into the rule that judges it; the table's
checks refuse a rule the service would not write; one running test per target; a test recorded
before 0007 keeps Welch's rule."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.tune.abtest_store import ABTestStore
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.service import TuneService
from aria_actors.tune.testing import FakeQueue
from tests.fixtures.postgres import DataClientOverDsn

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _row(name: str, **change: Any) -> dict[str, Any]:
    return {"name": name, "target": "aria_shape", "control": "base", "candidate": "v2", "share": 0.5,
            "alpha": 0.05, "min_samples": 100, "max_samples": None, "direction": "maximize", "study": None,
            "started_by": "op", "method": "sequential", "effect": None, **change}


async def test_the_rule_is_stored_with_the_test_and_checked_by_the_table(tmp_path, fresh_database) -> None:
    svc = TuneService(AriaSettings(home=tmp_path), TuneSettings(sweep_interval_s=3600), queue=FakeQueue())
    await svc.start(Deps({"aria_data": DataClientOverDsn(fresh_database, "aria_tune")}))
    try:
        store = svc._ab_tests()
        assert isinstance(store, ABTestStore)
        made = await store.add(_row("seq", effect=0.35))
        assert made is not None and (made["method"], made["effect"]) == ("sequential", 0.35)
        rule = svc._rule(await store.get("seq"))  # type: ignore[arg-type]
        assert (rule.method, rule.effect, rule.alpha, rule.min_samples) == ("sequential", 0.35, 0.05, 100)
        assert await store.add(_row("other", method="fixed")) is None  # one running test per target
        for bad in ({"method": "bayesian"}, {"effect": 0.0}, {"effect": 11.0}):
            with pytest.raises(asyncpg.CheckViolationError):
                await store.add(_row("bad", target="aria_interpret", **bad))
        fixed = await store.add(_row("fix", target="aria_interpret", method="fixed"))
        assert fixed is not None and fixed["method"] == "fixed" and fixed["effect"] is None
        # a test written before migration 0007 (no method, no effect): judged by Welch's rule, as then
        conn = await asyncpg.connect(fresh_database)
        try:
            await conn.execute(
                "INSERT INTO aria_tune.ab_tests (name, target, control, candidate, share, alpha, min_samples,"
                " direction, started_by, status, ending, decided_at)"
                " VALUES ('old', 'aria_shape', 'base', 'v1', 0.5, 0.05, 100, 'maximize', 'op', 'kept', 'kept', now())")
        finally:
            await conn.close()
        old = await store.get("old")
        assert old is not None and (old["method"], old["effect"]) == ("fixed", None)
        assert svc._rule(old).method == "fixed"
    finally:
        await svc.stop()
