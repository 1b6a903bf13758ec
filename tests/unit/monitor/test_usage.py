"""Usage analytics and business metrics, Ray-free: the per-process counter behind the shell's
``usage`` door (runtime/usage.py), and aria_monitor's deltas of it (monitor/usage.py) across
restarts, its answers, who may read which tenant, and bad arguments."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aria_actors.monitor.service import MonitorService
from aria_actors.monitor.usage import BUSINESS, UsageBook, business_view, check_days, check_service, usage_view
from aria_actors.runtime import introspect
from aria_actors.runtime.errors import BadRequest, Forbidden, NotFound
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.usage import MAX_SUBJECTS, UsageCounter, day_of, subject_digest

DAY = 86_400.0
T0 = 20_000 * DAY + 3600  # 2024-10-04 01:00 UTC
ALICE = Principal(subject="alice", roles=("editor",), tenant="acme")
BOB = Principal(subject="bob", roles=("editor",), tenant="acme")
CAROL = Principal(subject="carol", roles=("viewer",), tenant="globex")
OPERATOR = Principal(subject="op", roles=("operator",))


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _counter(t: float = T0) -> tuple[UsageCounter, Clock]:
    clock = Clock(t)
    return UsageCounter(frozenset({"create_character", "get_character"}), clock=clock), clock


# -- the process's counter -----------------------------------------------------------------------
def test_the_counter_counts_calls_errors_and_subjects_per_day_and_tenant() -> None:
    c, clock = _counter()
    c.record("create_character", ALICE, None)
    c.record("create_character", BOB, BadRequest("no"))
    c.record("get_character", ALICE, asyncio.CancelledError())  # the caller left: not an error
    c.record("get_character", CAROL, None)
    c.record("undeclared", CAROL, None)  # not a declared method: "other", as in telemetry
    c.record("get_character", Principal.internal("aria_engine"), None)  # a service for itself: not usage
    c.record("get_character", None, None)  # no principal: refused before it ran
    snap = c.snapshot()
    day = day_of(T0)
    rows = {(d, t, m): (n, e, ok) for d, t, m, n, e, ok in snap["rows"]}
    assert rows == {(day, "acme", "create_character"): (2, 1, 1), (day, "acme", "get_character"): (1, 0, 0),
                    (day, "globex", "get_character"): (1, 0, 1), (day, "globex", "other"): (1, 0, 1)}
    subjects = {(d, t): set(s) for d, t, s in snap["subjects"]}
    assert subjects == {(day, "acme"): {subject_digest("alice"), subject_digest("bob")},
                        (day, "globex"): {subject_digest("carol")}}
    assert "alice" not in str(snap)  # subjects leave the process as digests only
    clock.t += 2 * DAY  # two days on: the first day is forgotten
    c.record("get_character", ALICE, None)
    assert {r[0] for r in c.snapshot()["rows"]} == {day_of(clock.t)}


def test_the_counter_is_bounded_and_counts_what_does_not_fit() -> None:
    c, _ = _counter()
    for i in range(MAX_SUBJECTS + 3):
        c.record("get_character", Principal(subject=f"u{i}", roles=("viewer",), tenant="big"), None)
    snap = c.snapshot()
    assert len(snap["subjects"][0][2]) == MAX_SUBJECTS and snap["overflow"] == 3
    assert snap["rows"][0][3] == MAX_SUBJECTS + 3  # the calls are all counted


def test_only_aria_monitor_opens_the_usage_door() -> None:
    introspect.check_door("aria_monitor", "usage")
    for reader in ("aria_debugger", "aria_shape"):
        with pytest.raises(Forbidden):
            introspect.check_door(reader, "usage")
    with pytest.raises(NotFound):
        introspect.check_door("aria_monitor", "usages")


# -- the monitor's deltas ------------------------------------------------------------------------------
def _snap(start_id: str, started: float, rows: list[list[Any]], subjects: list[list[Any]] | None = None
          ) -> dict[str, Any]:
    return {"start_id": start_id, "started": started, "at": started, "rows": rows, "subjects": subjects or [],
            "overflow": 0}


def test_deltas_accumulate_across_a_restart_of_the_service() -> None:
    book = UsageBook(started=1000.0)
    day = "2024-10-04"
    # a process that started after the monitor: its counts are all new
    assert book.feed("aria_shape", _snap("p1", 1500.0, [[day, "acme", "create_character", 3, 1, 2]])) == 3
    assert book.feed("aria_shape", _snap("p1", 1500.0, [[day, "acme", "create_character", 5, 1, 4]])) == 2
    assert book.feed("aria_shape", _snap("p1", 1500.0, [[day, "acme", "create_character", 5, 1, 4]])) == 0
    # killed and restarted: counts from zero under a new start id, added, never subtracted
    assert book.feed("aria_shape", _snap("p2", 1900.0, [[day, "acme", "create_character", 2, 0, 2]])) == 2
    # a late read of the old process (another replica's door answering) still only adds its own delta
    assert book.feed("aria_shape", _snap("p1", 1500.0, [[day, "acme", "create_character", 6, 1, 5]])) == 1
    assert book.rows(day, None, None) == [(day, "acme", "aria_shape", "create_character", 8, 1, 7)]
    rows, _ = book.take()
    assert rows == [(day, "acme", "aria_shape", "create_character", 8, 1, 7)]
    assert book.take() == ([], [])  # taken once: the next flush writes only what came since


def test_a_process_older_than_the_monitor_is_a_baseline() -> None:
    book = UsageBook(started=1000.0)
    day = "2024-10-04"
    # running before this monitor started: its earlier calls were the previous monitor's to count
    assert book.feed("aria_engine", _snap("old", 10.0, [[day, "", "plan", 50, 0, 50]])) == 0
    assert book.feed("aria_engine", _snap("old", 10.0, [[day, "", "plan", 53, 1, 52]])) == 3
    assert book.rows(day, "", None) == [(day, "", "aria_engine", "plan", 3, 1, 2)]


def test_a_failed_write_waits_for_the_next_and_subjects_go_once() -> None:
    book = UsageBook(started=0.0)
    day = "2024-10-04"
    book.feed("aria_shape", _snap("p", 1.0, [[day, "acme", "get_character", 1, 0, 1]], [[day, "acme", ["a1"]]]))
    rows, subjects = book.take()
    book.put_back(rows, subjects)  # PostgreSQL was down
    book.feed("aria_shape", _snap("p", 1.0, [[day, "acme", "get_character", 4, 0, 4]], [[day, "acme", ["a1", "b2"]]]))
    rows, subjects = book.take()
    assert rows == [(day, "acme", "aria_shape", "get_character", 4, 0, 4)]
    assert subjects == [(day, "acme", "a1"), (day, "acme", "b2")]
    assert book.active(day, None) == {(day, "acme"): 2}


def test_the_answers() -> None:
    day = "2024-10-04"
    rows = [(day, "acme", "aria_shape", "create_character", 3, 1, 2), (day, "acme", "aria_engine", "plan", 4, 0, 4),
            (day, "acme", "aria_queue", "enqueue", 1, 0, 1), (day, "acme", "aria_shape", "get_character", 9, 0, 9),
            (day, "globex", "aria_interpret", "start_training", 1, 0, 1)]
    b = business_view(rows)
    assert set(b["metrics"]) == set(BUSINESS)
    assert b["totals"] == {"characters_created": 2, "plans_made": 4, "jobs_run": 1, "models_trained": 1}
    assert b["daily"][0] == {"day": day, "tenant": "acme", "characters_created": 2, "plans_made": 4, "jobs_run": 1,
                             "models_trained": 0}
    u = usage_view(rows, {(day, "acme"): 2})
    assert u["daily"] == [{"day": day, "tenant": "acme", "calls": 17, "errors": 1, "active_users": 2},
                          {"day": day, "tenant": "globex", "calls": 1, "errors": 0, "active_users": 0}]
    assert len(u["rows"]) == 5


# -- the service: scope and arguments ------------------------------------------------------------------
class Doors:
    def __init__(self) -> None:
        self.snaps: dict[str, dict[str, Any]] = {}

    async def door(self, name: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
        if door == "exposition":
            return "# TYPE aria_scrape_x gauge\n"
        if name not in self.snaps:
            raise TimeoutError
        return self.snaps[name]


def _monitor(doors: Doors) -> MonitorService:
    service = MonitorService(AriaSettings(monitor={"interval_s": 100.0, "builtin_rules": False}))

    async def start() -> None:
        await service.start(Deps({}, door_of=doors.door))
        await service.stop()  # the test drives the reads itself
    asyncio.run(start())
    assert service.collector is not None
    service.collector.services = ("aria_shape", "aria_engine")
    return service


def test_the_service_reads_every_door_and_scopes_reads_to_the_callers_tenant() -> None:
    doors = Doors()
    monitor = _monitor(doors)
    today = day_of(__import__("time").time())
    started = monitor.usage_book.started + 1
    doors.snaps["aria_shape"] = _snap("s", started, [[today, "acme", "create_character", 2, 0, 2],
                                                     [today, "globex", "create_character", 1, 0, 1]],
                                      [[today, "acme", ["x"]], [today, "globex", ["y"]]])
    assert asyncio.run(monitor.read_usage()) == 3  # aria_engine did not answer: it waits for the next read
    everyone = asyncio.run(monitor.usage(OPERATOR, 1))
    assert everyone["source"] == "memory" and {d["tenant"] for d in everyone["daily"]} == {"acme", "globex"}
    acme = asyncio.run(monitor.business(OPERATOR, 1, "acme"))
    assert acme["totals"]["characters_created"] == 2
    # a tenant's viewer reads its own tenant, whatever it asks for by default
    own = asyncio.run(monitor.usage(CAROL, 1))
    assert own["tenant"] == "globex" and [d["tenant"] for d in own["daily"]] == ["globex"]
    with pytest.raises(Forbidden):
        asyncio.run(monitor.business(CAROL, 1, "acme"))
    assert asyncio.run(monitor.usage(OPERATOR, 1, "nobody"))["rows"] == []  # an unknown tenant: nothing
    for bad in (0, 367, True, "7"):
        with pytest.raises(BadRequest):
            asyncio.run(monitor.usage(OPERATOR, bad))
    with pytest.raises(BadRequest):
        asyncio.run(monitor.usage(OPERATOR, 1, None, "aria_nothing"))
    assert check_days(366) == 366 and check_service("aria_shape") == "aria_shape"
    assert monitor.history_status()["store"] == "memory"


class SlowStore:
    """A history store whose write of a batch waits until the test lets it commit."""

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.merging, self.commit = asyncio.Event(), asyncio.Event()

    async def merge_usage(self, rows: list[Any], subjects: list[Any]) -> None:
        self.merging.set()
        await self.commit.wait()
        self.rows += rows

    async def usage_rows(self, since: str, tenant: str | None, service: str | None, limit: int) -> list[Any]:
        return [{"day": __import__("datetime").date.fromisoformat(r[0]), "tenant": r[1], "service": r[2],
                 "method": r[3], "calls": r[4], "errors": r[5], "ok": r[6]}
                for r in self.rows if service is None or r[2] == service]

    async def active_subjects(self, since: str, tenant: str | None) -> list[Any]:
        return []


def test_a_read_while_a_batch_is_written_sees_it_pending_or_stored() -> None:
    # The flush takes the batch from pending, then writes it: a read in between once saw it in
    # neither place (an e2e test read no rows for a service whose calls the read before had shown).
    doors = Doors()
    monitor = _monitor(doors)
    today = day_of(__import__("time").time())
    doors.snaps["aria_shape"] = _snap("s", monitor.usage_book.started + 1,
                                      [[today, "acme", "create_character", 2, 0, 2]])
    store = SlowStore()

    async def scenario() -> dict[str, Any]:
        await monitor.read_usage()
        monitor.history.store, monitor.history.error = store, None  # type: ignore[assignment]
        flush = asyncio.create_task(monitor.flush_usage())
        await store.merging.wait()  # the batch is in flight
        read = asyncio.create_task(monitor.usage(OPERATOR, 1, None, "aria_shape"))
        await asyncio.sleep(0.01)
        store.commit.set()
        await flush
        return await read

    got = asyncio.run(scenario())
    assert got["source"] == "postgres" and [(r["method"], r["calls"]) for r in got["rows"]] == [("create_character", 2)]
