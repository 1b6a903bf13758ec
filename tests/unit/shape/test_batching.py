"""The replica's EngineBatcher: batches close when the engine takes them. No Ray, no model: the
engine is a coroutine that records each batch and can be held until the test lets it finish."""

from __future__ import annotations

import asyncio

import pytest

from aria_actors.shape.inference.batching import EngineBatcher, settle


class HeldEngine:
    """Records batches; a batch waits for ``release()`` while ``hold`` is set."""

    def __init__(self, hold: bool = False) -> None:
        self.batches: list[tuple[list[str], str]] = []
        self.hold = hold
        self.started = asyncio.Event()
        self._release = asyncio.Event()
        self.fail_next: Exception | None = None

    async def run(self, prompts: list[str], key: str) -> list[str]:
        self.batches.append((list(prompts), key))
        self.started.set()
        if self.hold:
            await self._release.wait()
            self._release.clear()
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        return [f"{key}:{p}" for p in prompts]

    def release(self) -> None:
        self._release.set()


async def _settle_loop(rounds: int = 5) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def test_callers_arriving_together_share_one_batch() -> None:
    engine = HeldEngine()
    batcher = EngineBatcher(engine.run, max_batch_size=4, wait_s=60.0)
    out = await asyncio.gather(*[batcher.submit(f"p{i}", "k") for i in range(4)])
    # A full batch goes at once (no 60 s wait), in arrival order, each caller gets its own result.
    assert out == ["k:p0", "k:p1", "k:p2", "k:p3"]
    assert engine.batches == [(["p0", "p1", "p2", "p3"], "k")]


async def test_an_idle_engine_waits_for_callers_that_come_shortly_after() -> None:
    engine = HeldEngine()
    batcher = EngineBatcher(engine.run, max_batch_size=3, wait_s=60.0)
    first = asyncio.ensure_future(batcher.submit("a", "k"))
    await _settle_loop()
    assert engine.batches == []  # not sent alone: the window is open
    rest = [asyncio.ensure_future(batcher.submit(p, "k")) for p in ("b", "c")]
    assert await asyncio.gather(first, *rest) == ["k:a", "k:b", "k:c"]
    assert batcher.batch_sizes == [3]


async def test_a_lone_caller_goes_alone_after_the_wait() -> None:
    engine = HeldEngine()
    batcher = EngineBatcher(engine.run, max_batch_size=16, wait_s=0.001)
    assert await batcher.submit("a", "k") == "k:a"
    assert batcher.batch_sizes == [1]


async def test_what_arrives_while_the_engine_is_busy_goes_next_and_only_a_full_batch_queues() -> None:
    engine = HeldEngine(hold=True)
    batcher = EngineBatcher(engine.run, max_batch_size=4, wait_s=0.0)
    first = asyncio.ensure_future(batcher.submit("a", "k"))
    await engine.started.wait()
    later = [asyncio.ensure_future(batcher.submit(p, "k")) for p in "bcd"]
    await _settle_loop()
    assert len(engine.batches) == 1  # three waiting are not a full batch: they wait for the engine
    later += [asyncio.ensure_future(batcher.submit(p, "k")) for p in "ef"]
    await _settle_loop()
    # now a full batch waits: it goes at once, queued behind the running one; "f" stays pending
    assert [b for b, _ in engine.batches] == [["a"], ["b", "c", "d", "e"]]
    for _ in range(3):
        engine.release()
        await _settle_loop()
    assert await first == "k:a"
    assert [await t for t in later] == ["k:b", "k:c", "k:d", "k:e", "k:f"]
    assert [b for b, _ in engine.batches] == [["a"], ["b", "c", "d", "e"], ["f"]]


async def test_after_a_batch_the_waiting_callers_go_without_a_new_wait() -> None:
    engine = HeldEngine(hold=True)
    batcher = EngineBatcher(engine.run, max_batch_size=4, wait_s=60.0)
    first = [asyncio.ensure_future(batcher.submit(p, "k")) for p in "abcd"]  # full: goes at once
    await engine.started.wait()
    later = [asyncio.ensure_future(batcher.submit(p, "k")) for p in "ef"]
    await _settle_loop()
    engine.release()
    await asyncio.gather(*first)
    await _settle_loop()
    # They waited a whole batch already: sent as soon as the engine was free, not 60 s later.
    assert [b for b, _ in engine.batches] == [["a", "b", "c", "d"], ["e", "f"]]
    engine.release()
    assert await asyncio.gather(*later) == ["k:e", "k:f"]


async def test_keys_never_share_a_batch_and_the_oldest_goes_first() -> None:
    engine = HeldEngine(hold=True)
    batcher = EngineBatcher(engine.run, max_batch_size=8, wait_s=0.0)
    first = asyncio.ensure_future(batcher.submit("a", "short"))
    await engine.started.wait()
    tasks = [asyncio.ensure_future(batcher.submit(p, k))
             for p, k in (("b", "long"), ("c", "short"), ("d", "long"))]
    await _settle_loop()
    for _ in range(3):
        engine.release()
        await _settle_loop()
    assert await first == "short:a"
    assert [await t for t in tasks] == ["long:b", "short:c", "long:d"]
    assert engine.batches == [(["a"], "short"), (["b", "d"], "long"), (["c"], "short")]


async def test_an_engine_error_reaches_every_caller_of_its_batch_only() -> None:
    engine = HeldEngine()
    engine.fail_next = RuntimeError("engine died")
    batcher = EngineBatcher(engine.run, max_batch_size=2, wait_s=60.0)
    outs = await asyncio.gather(batcher.submit("a", "k"), batcher.submit("b", "k"), return_exceptions=True)
    assert all(isinstance(o, RuntimeError) and str(o) == "engine died" for o in outs)
    assert await asyncio.gather(batcher.submit("c", "k"), batcher.submit("d", "k")) == ["k:c", "k:d"]


async def test_a_caller_that_gave_up_is_left_out_of_its_batch() -> None:
    engine = HeldEngine(hold=True)
    batcher = EngineBatcher(engine.run, max_batch_size=8, wait_s=0.0)
    first = asyncio.ensure_future(batcher.submit("a", "k"))
    await engine.started.wait()
    gone = asyncio.ensure_future(batcher.submit("gone", "k"))
    kept = asyncio.ensure_future(batcher.submit("kept", "k"))
    await _settle_loop()
    gone.cancel()
    engine.release()
    await first
    await _settle_loop()
    engine.release()
    assert await kept == "k:kept"
    assert [b for b, _ in engine.batches] == [["a"], ["kept"]]


def test_bad_settings_are_refused() -> None:
    async def run(prompts: list[str], key: str) -> list[str]:
        return prompts

    with pytest.raises(ValueError):
        EngineBatcher(run, max_batch_size=0)
    with pytest.raises(ValueError):
        EngineBatcher(run, wait_s=-1)


async def test_settle_skips_callers_that_are_done() -> None:
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(3)]
    futures[1].cancel()
    settle(futures, ["x", "y", "z"])
    assert futures[0].result() == "x" and futures[1].cancelled() and futures[2].result() == "z"
    more = [loop.create_future() for _ in range(2)]
    settle(more, KeyError("boom"))
    assert all(isinstance(f.exception(), KeyError) for f in more)


async def test_results_that_do_not_match_the_callers_are_an_error_for_each() -> None:
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(3)]
    settle(futures, ["only one"])
    assert all(isinstance(f.exception(), RuntimeError) for f in futures)  # none left waiting


async def test_stats_are_totals_and_only_recent_sizes_are_kept(monkeypatch) -> None:
    # A replica serves for weeks: its batch history must not grow without bound.
    from aria_actors.shape.inference import batching

    monkeypatch.setattr(batching, "RECENT_BATCHES", 3)

    async def run(prompts, key):
        return [p.upper() for p in prompts]

    batcher = batching.EngineBatcher(run, max_batch_size=1, wait_s=0)
    for i in range(5):
        assert await batcher.submit(f"p{i}", 0) == f"P{i}"
    assert batcher.batches == 5 and batcher.requests == 5 and batcher.max_batch == 1
    assert batcher.batch_sizes == [1, 1, 1]
