"""Pure helpers: retry delays, retryable errors, partition names, named SQL files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aria_actors.data import archival
from aria_actors.data.errors import DataError
from aria_actors.data.sql_files import queries
from aria_actors.data.transactions import RetryPolicy, is_retryable


def test_full_jitter_delays_are_bounded() -> None:
    policy = RetryPolicy(attempts=6, base_delay_s=0.01, max_delay_s=0.05)
    for attempt in range(1, 7):
        ceiling = min(0.05, 0.01 * 2 ** (attempt - 1))
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jittered across the range, not a constant


def test_retryable_sqlstates() -> None:
    class Err(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.sqlstate = sqlstate

    assert is_retryable(Err("40001")) and is_retryable(Err("40P01"))
    assert not is_retryable(Err("23505")) and not is_retryable(ValueError())


def test_partition_names_and_periods() -> None:
    nov = datetime(2026, 11, 25, 13, tzinfo=UTC)
    assert archival._start_of(nov, "month") == datetime(2026, 11, 1, tzinfo=UTC)
    assert archival._next(datetime(2026, 12, 1, tzinfo=UTC), "month") == datetime(2027, 1, 1,
                                                                                 tzinfo=UTC)
    assert archival._suffix(nov, "day") == "20261125"
    assert archival._parse("events_p202611", "events", "month") == datetime(2026, 11, 1, tzinfo=UTC)
    assert archival._parse("events_p20261125", "events", "month") is None
    assert archival._parse("other_p202611", "events", "month") is None
    with pytest.raises(DataError):
        archival._split("NoSchema")


def test_named_queries_load() -> None:
    for file in ("migrations", "backup", "archival", "optimize", "health", "tenancy"):
        named = queries("aria_actors.data", file)
        assert named and all(q.strip() for q in named.values())
    assert "bootstrap" in queries("aria_actors.data", "migrations")
