"""The ring of log records every service process keeps (runtime/logring.py): structure, bounds,
sequence numbers, what a late reader is told it missed, masking, quiet blocks, span ids."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from aria_actors.runtime import logring
from aria_actors.runtime.errors import BadRequest


@pytest.fixture
def ring() -> Iterator[tuple[logring.LogRing, logging.Logger]]:
    ring = logring.LogRing("aria_test", "node-1", capacity=5)
    logger = logging.getLogger("aria.test.logring")
    logger.addHandler(ring)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield ring, logger
    finally:
        logger.removeHandler(ring)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def test_a_record_is_structured(ring: tuple[logring.LogRing, logging.Logger]) -> None:
    r, logger = ring
    logger.warning("disk %s is %d%% full", "/data", 93)
    got = r.read(0, 10)
    assert got["service"] == "aria_test" and got["node"] == "node-1" and got["start_id"] == r.start_id
    [rec] = got["records"]
    assert rec["seq"] == 1 and rec["level"] == "WARNING" and rec["levelno"] == logging.WARNING
    assert rec["logger"] == "aria.test.logring" and rec["message"] == "disk /data is 93% full"
    assert rec["service"] == "aria_test" and rec["pid"] == got["pid"] and rec["exc_type"] is None
    assert rec["trace_id"] is None and rec["span_id"] is None and rec["at"] > 0


def test_exception_type_and_bounded_message(ring: tuple[logring.LogRing, logging.Logger]) -> None:
    r, logger = ring
    try:
        raise KeyError("x")
    except KeyError:
        logger.exception("failed: %s", "y" * 10_000)
    [rec] = r.read(0, 10)["records"]
    assert rec["exc_type"] == "KeyError" and rec["level"] == "ERROR"
    assert len(rec["message"]) == logring.MAX_MESSAGE


def test_a_bad_format_string_keeps_the_record(ring: tuple[logring.LogRing, logging.Logger]) -> None:
    r, _ = ring
    r.handle(logging.LogRecord("aria.x", logging.INFO, __file__, 1, "%d apples", ("many",), None))
    assert r.read(0, 10)["records"][0]["message"] == "%d apples"


def test_sequence_numbers_and_reading_after(ring: tuple[logring.LogRing, logging.Logger]) -> None:
    r, logger = ring
    for i in range(3):
        logger.info("m%d", i)
    assert [x["seq"] for x in r.read(1, 10)["records"]] == [2, 3]
    assert [x["seq"] for x in r.read(0, 2)["records"]] == [1, 2]
    got = r.read(3, 10)
    assert got["records"] == [] and got["dropped"] == 0 and got["last_seq"] == 3


def test_full_ring_drops_the_oldest_and_says_how_many_a_reader_missed(
        ring: tuple[logring.LogRing, logging.Logger]) -> None:
    r, logger = ring
    for i in range(12):
        logger.info("m%d", i)
    got = r.read(0, 100)
    assert [x["seq"] for x in got["records"]] == [8, 9, 10, 11, 12]
    assert got["dropped"] == 7 and got["evicted"] == 7
    assert r.read(9, 100)["dropped"] == 0
    assert [x["seq"] for x in r.read(9, 100)["records"]] == [10, 11, 12]
    assert r.read(5, 1)["dropped"] == 2


def test_quiet_blocks_are_not_kept(ring: tuple[logring.LogRing, logging.Logger]) -> None:
    r, logger = ring
    with logring.quiet():
        logger.warning("storing logs made this")
    logger.warning("kept")
    assert [x["message"] for x in r.read(0, 10)["records"]] == ["kept"]


def test_secrets_are_masked(ring: tuple[logring.LogRing, logging.Logger]) -> None:
    r, logger = ring
    logger.info("connect postgresql://aria:hunter2@db/aria with Authorization: Bearer abcdefgh12345678 "
                "password=s3cret token: xyz")
    message = r.read(0, 10)["records"][0]["message"]
    for secret in ("hunter2", "abcdefgh12345678", "s3cret", "xyz"):
        assert secret not in message
    assert "postgresql://aria:***@db/aria" in message


def test_valid_span_ids_are_recorded(ring: tuple[logring.LogRing, logging.Logger]) -> None:
    trace = pytest.importorskip("opentelemetry.trace")
    r, logger = ring
    ctx = trace.SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=False,
                            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED))
    with trace.use_span(trace.NonRecordingSpan(ctx)):
        logger.info("inside a span")
    [rec] = r.read(0, 10)["records"]
    assert rec["trace_id"] == f"{0xABC:032x}" and rec["span_id"] == f"{0xDEF:016x}"


@pytest.mark.parametrize(("after", "limit"), [(-1, 10), (True, 10), ("0", 10), (0, 0), (0, logring.MAX_READ + 1),
                                              (0, 1.5)])
def test_read_arguments_are_checked(ring: tuple[logring.LogRing, logging.Logger], after: object,
                                    limit: object) -> None:
    with pytest.raises(BadRequest):
        ring[0].read(after, limit)  # type: ignore[arg-type]


def test_install_is_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logring, "_ring", None)
    root = logging.getLogger()
    first = logring.install("aria_a", None, 100)
    try:
        assert logring.install("aria_b", None, 100) is first and first.service == "aria_a"
        assert root.handlers.count(first) == 1
        logging.getLogger("aria.test.install").warning("through the root logger")
        assert any(x["message"] == "through the root logger" for x in logring.read(0, 100)["records"])
    finally:
        root.removeHandler(first)


def test_read_without_a_ring_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logring, "_ring", None)
    got = logring.read(0, 10)
    assert got["records"] == [] and got["start_id"] is None


@pytest.mark.parametrize(("text", "masked"), [
    ('{"password": "hunter2"}', '{"password": "***"}'),
    ("{'token': 'abc123'}", "{'token': '***'}"),
    ('password = "pw"', 'password = "***"'),
    ("client_secret=xyz&a=1", "client_secret=***&a=1"),
    ("GET /x?access_token=abc&y=2", "GET /x?access_token=***&y=2"),
    ("tokens=5 passwords: none yet", "tokens=5 passwords: *** yet"),
])
def test_secrets_in_the_usual_shapes_are_masked(text: str, masked: str) -> None:
    assert logring.mask(text) == masked


def test_a_record_is_masked_before_it_is_cut_and_cleaned_for_postgresql() -> None:
    ring = logring.LogRing("aria_x")
    long_url = "x" * (logring.MAX_MESSAGE - 20) + " postgres://user:sup3rsecretpassword@db/x"
    for message in (long_url, "a\x00b\ud800c"):
        ring.emit(logging.LogRecord("aria.x", logging.WARNING, __file__, 1, message, None, None))
    cut, odd = (r["message"] for r in ring.records)
    assert "sup3r" not in cut and len(cut) <= logring.MAX_MESSAGE
    assert odd == "a\ufffdb?c"
    odd.encode("utf-8")
