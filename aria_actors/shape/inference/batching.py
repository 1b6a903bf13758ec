"""Batches formed when the engine can take one: the replica's request batcher. Plain asyncio.

::

    submit(prompt, key) --> pending (arrival order)
                               |
    dispatcher:
      no batch running:  the oldest request's key, every pending request with it (up to
                         max_batch_size); a caller that has not waited behind a batch yet gets
                         up to wait_s for others to join, unless the batch is full already
      one batch running: only a full batch goes too, queued behind it at the engine, so the
                         engine goes from one batch to the next without a trip through this loop
      run(prompts, key) --> results to each caller (an error to every caller of that batch)

Why not ``@serve.batch``: it forms a batch when its timeout fires, whether or not the engine is
free, so with two batches in flight the second one closes after ``wait_s`` while the first one
still decodes, and the requests arriving after it wait for a third. Under load the batches came
out uneven (mean 11.5-13 of 16 with 32 clients on the 2-core machine, ``bench/shape.py``), and
for a small model a batch costs about the same whatever its size. Here a batch that is not full
closes only when the engine is free to take it, so everything that arrived while the engine was
busy goes in it (continuous batching, at the granularity of whole requests).

Guarantees and caveats
----------------------
- At most two batches are handed to ``run`` at once (the second only when full); ``run`` is
  expected to serialise them (the engine's lock). Requests of different keys (lengths) never
  share a batch.
- A lone request on an idle engine waits at most ``wait_s``; a full batch goes at once.
- Arrival order within a key; a key that is not the oldest waits until it is (no starvation:
  the oldest request always goes next).
- A caller that gave up (its future cancelled) before its batch formed is left out of it.
- The dispatcher lives on the loop of the first ``submit`` (a replica's user-code loop).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

__all__ = ["EngineBatcher", "settle"]


def settle(futures: Sequence[asyncio.Future[Any]], results: Sequence[Any] | BaseException) -> None:
    """Give each waiting caller its result, or every one of them the error (also when the
    results do not match the callers one to one)."""
    if not isinstance(results, BaseException) and len(results) != len(futures):
        results = RuntimeError(f"{len(results)} results for {len(futures)} requests")
    for i, fut in enumerate(futures):
        if fut.done():
            continue
        if isinstance(results, BaseException):
            fut.set_exception(results)
        else:
            fut.set_result(results[i])


@dataclass
class _Request(Generic[K]):
    prompt: str
    key: K
    future: asyncio.Future[Any]
    finished_before: int  # batches finished when it arrived


RECENT_BATCHES = 1024


class EngineBatcher(Generic[K, R]):
    """Gathers prompts into batches for ``run(prompts, key) -> one result per prompt``."""

    def __init__(self, run: Callable[[list[str], K], Awaitable[Sequence[R]]], *,
                 max_batch_size: int = 16, wait_s: float = 0.01) -> None:
        if max_batch_size < 1 or wait_s < 0:
            raise ValueError("max_batch_size must be >= 1 and wait_s >= 0")
        self._run = run
        self.max_batch_size = max_batch_size
        self.wait_s = wait_s
        # Totals for stats, and the sizes of recent batches only: a replica runs for weeks.
        self.batches = 0
        self.requests = 0
        self.max_batch = 0
        self._recent_sizes: collections.deque[int] = collections.deque(maxlen=RECENT_BATCHES)
        self._pending: list[_Request[K]] = []
        self._running = 0  # batches handed to run() and not finished
        self._finished = 0  # batches finished so far
        self._changed: asyncio.Event | None = None  # a request arrived or a batch finished
        self._dispatcher: asyncio.Task[None] | None = None
        self._batches: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references

    @property
    def batch_sizes(self) -> list[int]:
        """Sizes of the last ``RECENT_BATCHES`` batches, oldest first."""
        return list(self._recent_sizes)

    async def submit(self, prompt: str, key: K) -> R:
        loop = asyncio.get_running_loop()
        if self._dispatcher is None or self._dispatcher.done():
            self._changed = asyncio.Event()
            self._dispatcher = loop.create_task(self._dispatch(), name="aria-shape-batcher")
        request: _Request[K] = _Request(prompt, key, loop.create_future(), self._finished)
        self._pending.append(request)
        self._changed.set()  # type: ignore[union-attr]
        return await request.future

    async def _dispatch(self) -> None:
        changed = self._changed
        assert changed is not None
        while True:
            self._pending = [r for r in self._pending if not r.future.done()]
            if self._running == 0 and self._pending:
                # A window only for callers that have not already waited behind a batch.
                if self._pending[0].finished_before == self._finished and not self._full():
                    await self._gather()
                self._launch(self._take())
            elif self._running == 1 and self._full():
                # A full batch waits behind the running one at the engine, so the engine goes
                # from one to the next without a round trip through this loop in between.
                self._launch(self._take())
            else:
                changed.clear()
                await changed.wait()

    def _full(self) -> bool:
        key = self._pending[0].key if self._pending else None
        return sum(r.key == key for r in self._pending) >= self.max_batch_size

    async def _gather(self) -> None:
        """The engine is idle: give concurrent callers ``wait_s`` to join, or until a batch is full."""
        changed = self._changed
        assert changed is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_s
        while not self._full():
            left = deadline - loop.time()
            if left <= 0:
                return
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), left)
            except TimeoutError:
                return

    def _take(self) -> list[_Request[K]]:
        live = [r for r in self._pending if not r.future.done()]
        if not live:
            self._pending = []
            return []
        key = live[0].key
        batch = [r for r in live if r.key == key][: self.max_batch_size]
        taken = {id(r) for r in batch}
        self._pending = [r for r in live if id(r) not in taken]
        return batch

    def _launch(self, batch: list[_Request[K]]) -> None:
        if not batch:
            return
        self._running += 1
        task = asyncio.get_running_loop().create_task(self._run_batch(batch))
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _run_batch(self, batch: list[_Request[K]]) -> None:
        self.batches += 1
        self.requests += len(batch)
        self.max_batch = max(self.max_batch, len(batch))
        self._recent_sizes.append(len(batch))
        futures = [r.future for r in batch]
        try:
            results: Sequence[R] | BaseException = await self._run([r.prompt for r in batch], batch[0].key)
        except Exception as exc:  # every caller of this batch gets it; the dispatcher goes on
            results = exc
        finally:
            self._running -= 1
            self._finished += 1
            if self._changed is not None:
                self._changed.set()
        settle(futures, results)
