"""aria_debugger's log search, without a database: every query parameter's check (logs.py), the
row a ring record becomes (logstore.py), and the 503 when there is no store."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from aria_actors.debugger import logs
from aria_actors.debugger.logstore import COLUMNS, row_of
from aria_actors.debugger.service import DebuggerService
from aria_actors.runtime.errors import BadRequest, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("value", "want"), [(None, None), ("", None), ("  ", None), (" disk full ", "disk full"),
                                             ('"a phrase" -not', '"a phrase" -not')])
def test_query_words(value: object, want: object) -> None:
    assert logs.check_query(value) == want


@pytest.mark.parametrize("value", ["x" * (logs.MAX_QUERY_CHARS + 1), "---", "a\x00b", 12, ["a"]])
def test_bad_query_words(value: object) -> None:
    with pytest.raises(BadRequest):
        logs.check_query(value)


def test_service_level_trace_id() -> None:
    assert logs.check_service("aria_engine") == "aria_engine" and logs.check_service(None) is None
    assert logs.check_level("warning") == 30 and logs.check_level("CRITICAL") == 50 and logs.check_level("") is None
    assert logs.check_trace_id("AB" * 16) == "ab" * 16 and logs.check_trace_id(None) is None


@pytest.mark.parametrize(("check", "value"), [
    (logs.check_service, "aria_nope"), (logs.check_service, "../etc"), (logs.check_service, 3),
    (logs.check_level, "LOUD"), (logs.check_level, "WARN"), (logs.check_level, 30),
    (logs.check_trace_id, "xyz"), (logs.check_trace_id, "a" * 31), (logs.check_trace_id, "g" * 32),
])
def test_bad_filters(check: object, value: object) -> None:
    with pytest.raises(BadRequest):
        check(value)  # type: ignore[operator]


@pytest.mark.parametrize("value", [1, 100, logs.MAX_LIMIT])
def test_limit(value: int) -> None:
    assert logs.check_limit(value) == value


@pytest.mark.parametrize("value", [0, -1, logs.MAX_LIMIT + 1, True, 1.0, "10"])
def test_bad_limit(value: object) -> None:
    with pytest.raises(BadRequest):
        logs.check_limit(value)


@pytest.mark.parametrize(("value", "want"), [
    (None, None), ("", None),
    ("2026-01-31T12:00:00Z", dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC)),
    ("2026-01-31T12:00:00", dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC)),
    ("2026-01-31T13:00:00+01:00", dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC)),
    ("1800000000", dt.datetime.fromtimestamp(NOW, dt.UTC)),
    (NOW, dt.datetime.fromtimestamp(NOW, dt.UTC)),
    ("15m", dt.datetime.fromtimestamp(NOW - 900, dt.UTC)),
    ("2h", dt.datetime.fromtimestamp(NOW - 7200, dt.UTC)),
    ("7d", dt.datetime.fromtimestamp(NOW - 7 * 86400, dt.UTC)),
])
def test_times(value: object, want: object) -> None:
    assert logs.check_time(value, "since", NOW) == want


@pytest.mark.parametrize("value", ["yesterday", "15x", "-5m", "2026-13-01", float("nan"), float("inf"), -1.0,
                                   True, "1" * 200, 1e12, ["2026"]])
def test_bad_times(value: object) -> None:
    with pytest.raises(BadRequest) as err:
        logs.check_time(value, "until", NOW)
    assert err.value.fields.get("field") == "until"


def test_a_ring_record_becomes_a_row() -> None:
    record = {"seq": 7, "at": NOW, "level": "ERROR", "levelno": 40, "logger": "aria.x", "message": "m",
              "service": "aria_x", "pid": 12, "node": "n", "trace_id": None, "span_id": None, "exc_type": "KeyError"}
    row = dict(zip(COLUMNS, row_of(record, "s1"), strict=True))
    assert row["at"] == dt.datetime.fromtimestamp(NOW, dt.UTC) and row["level"] == 40 and row["level_name"] == "ERROR"
    assert row["start_id"] == "s1" and row["seq"] == 7 and row["exc_type"] == "KeyError"


def _service() -> DebuggerService:
    svc = DebuggerService(AriaSettings())
    svc.deps = Deps({})
    return svc


def test_search_checks_before_the_store_and_needs_aria_data() -> None:
    svc = _service()
    admin = Principal.internal("test")
    with pytest.raises(BadRequest):
        asyncio.run(svc.logs(admin, limit=0))
    with pytest.raises(BadRequest):
        asyncio.run(svc.logs(admin, since="1h", until="2h"))  # since after until
    with pytest.raises(ServiceUnavailable) as err:
        asyncio.run(svc.logs(admin, q="disk"))
    assert err.value.fields.get("service") == "aria_data"


def test_collection_without_a_store_notes_the_problem() -> None:
    svc = _service()
    assert asyncio.run(svc.collect_logs()) == 0
    assert "store" in svc.log_problems
