"""Metrics pushed through the GCS key-value store (runtime/metrics_push.py): the inbox's freshness
(a sequence that stops moving), bounds and forgetting, and the shell's push (own series reused
while young)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aria_actors.runtime import metrics_push
from aria_actors.runtime.metrics_push import (
    FORGET_AFTER,
    MAX_TEXT_BYTES,
    MetricsInbox,
    encode,
    first_delay,
    instance,
    key,
)
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.shell import ServiceHost
from aria_actors.runtime.spec import ServiceSpec

SOURCES = frozenset({"aria_queue", "aria_coordinate"})


def _push(source: str, pid: int, seq: int, text: str) -> dict[bytes, bytes]:
    process = instance("node1", pid)
    return {key(source, process): encode(source, process, seq, 0.001, 0.0005, text)}


def test_a_text_is_fresh_while_its_sequence_moves() -> None:
    inbox = MetricsInbox(SOURCES, stale_s=5.0)
    assert inbox.fresh("aria_queue", 0.0) is None
    inbox.take(_push("aria_queue", 10, 1, "a 1\n"), 100.0)
    inbox.take(_push("aria_queue", 10, 2, "a 2\n"), 101.0)
    got = inbox.fresh("aria_queue", 105.9)
    assert got is not None and got.text == "a 2\n" and got.cpu_s == 0.0005
    inbox.take(_push("aria_queue", 10, 2, "a 2\n"), 104.0)  # read again, not moved: keeps its time
    assert inbox.fresh("aria_queue", 106.1) is None  # a killed process stops pushing
    assert inbox.fresh("aria_coordinate", 101.0) is None


def test_several_replicas_read_as_one_stable_replica_and_gone_keys_are_forgotten() -> None:
    inbox = MetricsInbox(SOURCES, stale_s=5.0)
    both = {**_push("aria_coordinate", 30, 1, "b 3\n"), **_push("aria_coordinate", 20, 1, "b 2\n")}
    inbox.take(both, 100.0)
    got = inbox.fresh("aria_coordinate", 101.0)
    assert got is not None and got.process == instance("node1", 20)  # not whichever pushed last
    later = {**_push("aria_coordinate", 30, 2, "b 5\n"), **_push("aria_coordinate", 20, 1, "b 2\n")}
    inbox.take(later, 106.0)  # pid 20 stopped moving
    got = inbox.fresh("aria_coordinate", 106.0)
    assert got is not None and got.text == "b 5\n"
    forget = inbox.take({**_push("aria_coordinate", 30, 9, "b 6\n"), **_push("aria_coordinate", 20, 1, "b 2\n")},
                        100.0 + FORGET_AFTER * 5.0 + 1)
    assert forget == [key("aria_coordinate", instance("node1", 20))]  # the reader deletes it from the store


@pytest.mark.parametrize(("k", "value"), [
    (key("aria_nothing", "n-1"), encode("aria_nothing", "n-1", 1, 0, 0, "")),      # not a service here
    (key("aria_queue", "n-2"), encode("aria_queue", "n-1", 1, 0, 0, "")),          # not under its own key
    (key("aria_queue", "n-1"), b"no header"),
    (key("aria_queue", "n-1"), b"aria_queue n-1 x 0 0\n"),
    (key("aria_queue", "n-1"), encode("aria_queue", "n-1", 1, 0, 0, "") + b"\xff"),  # not UTF-8
    (key("aria_queue", "n-1"), encode("aria_queue", "n-1", 1, 0, 0, "x" * MAX_TEXT_BYTES))])
def test_a_bad_value_is_left_out_and_deleted(k: bytes, value: bytes) -> None:
    inbox = MetricsInbox(SOURCES, 5.0)
    assert inbox.take({k: value}, 1.0) == [k]
    assert inbox.fresh("aria_queue", 1.0) is None and k in inbox.refused


def test_first_pushes_spread_over_an_interval() -> None:
    assert all(1.0 <= first_delay(10.0) <= 10.0 for _ in range(100))


class _Own:
    EXPOSITION_IO = True  # its own series need I/O: pushes may reuse them

    def __init__(self) -> None:
        self.renders = 0

    async def exposition(self) -> str:
        self.renders += 1
        return f"own_renders {self.renders}\n"


def test_a_push_puts_the_shell_series_and_reuses_young_own_series(monkeypatch: pytest.MonkeyPatch) -> None:
    host = ServiceHost.__new__(ServiceHost)  # the shell's methods without a Ray worker behind them
    host.spec = ServiceSpec(name="aria_tune", layer=5, kind="actor", entrypoint="x:y")
    host.settings = AriaSettings(monitor={"own_series_max_age_s": 30.0})
    host.service = service = _Own()  # type: ignore[assignment]
    host._started = True
    host._own_text, host._own_at, host._push_cpu_s, host._push_seq = None, 0.0, 0.0, 0

    class _Telemetry:
        def render(self) -> str:
            return "shell_calls 1\n"

        def own_series_failed(self, exc: BaseException) -> None:
            raise AssertionError(exc)

    host.telemetry = _Telemetry()  # type: ignore[assignment]
    put: list[tuple[bytes, bytes, bytes]] = []

    class _Gcs:
        def internal_kv_put(self, k: bytes, value: bytes, overwrite: bool, namespace: bytes, timeout: float) -> None:
            assert overwrite and timeout == metrics_push.PUT_TIMEOUT_S
            put.append((k, value, namespace))

    monkeypatch.setattr(metrics_push_kv(), "global_gcs_client", _Gcs(), raising=False)

    async def run() -> None:
        await host.push_metrics()
        await host.push_metrics()
        assert await host.exposition() == "shell_calls 1\nown_renders 2\n"  # the door is always current

    asyncio.run(run())
    inbox = MetricsInbox(frozenset({"aria_tune"}), 5.0)
    inbox.take({put[0][0]: put[0][1]}, 1.0)
    first = inbox.fresh("aria_tune", 1.0)
    inbox.take({put[1][0]: put[1][1]}, 2.0)
    second = inbox.fresh("aria_tune", 2.0)
    assert first is not None and second is not None
    assert first.text == second.text == "shell_calls 1\nown_renders 1\n"  # own series reused
    assert (first.seq, second.seq, first.cpu_s) == (1, 2, 0.0)  # the previous push's CPU rides along
    assert {p[2] for p in put} == {metrics_push.namespace(host.settings.namespace)}
    assert service.renders == 2
    service.EXPOSITION_IO = False  # type: ignore[misc]  # cheap own series: rendered on every push
    asyncio.run(host.push_metrics())
    assert service.renders == 3


def metrics_push_kv() -> Any:
    from aria_actors.runtime import shell

    return shell.internal_kv
