"""Token streams: pieces of a completion as they are produced, read in pieces by whoever polls.

A service call returns one value, so a stream crosses the actor boundary as a handle plus reads::

    start(pieces) -> stream id           a task drains the async iterator ``pieces``
                                          (a Serve streaming response, or a sampling loop in a
                                          thread through :func:`pieces_from_thread`)
    read(id) -> {"tokens": [...], "done"} waits (up to wait_s) for at least one new piece
    ... until done; the HTTP layer turns each read into server-sent events.

Guarantees and caveats
----------------------
- Pieces are the incremental decode of the ids so far, so their concatenation equals the
  non-streamed completion of the same prompt and seed (a test checks it).
- A stream is dropped once it has been read to the end, or ``ttl_s`` after its last read (a
  client that went away does not leak it; its producer runs to its end, bounded by
  ``max_new_tokens``).
- A stream started with an ``owner`` is read only by that owner (aria_shape passes the caller's
  subject); anyone else gets the same NotFound as for an unknown id.
- One event loop: start and read run on the loop of the service (an actor's loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aria_actors.runtime.errors import TRACEBACK, AriaError, NotFound, brief

log = logging.getLogger("aria.shape.streams")


@dataclass
class _Stream:
    owner: str | None = None
    pieces: list[str] = field(default_factory=list)
    read: int = 0
    done: bool = False
    error: str | None = None
    touched: float = field(default_factory=time.monotonic)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


def reader_message(exc: BaseException) -> str:
    """What a stream's reader is told of a failure: an Aria error's message, else the error's
    type and first line. An error raised inside a Ray replica carries the replica's traceback in
    its text; that goes to this service's log, never into a response."""
    cause = getattr(exc, "cause", None)
    if isinstance(exc, AriaError) or isinstance(cause, AriaError):
        err = exc if isinstance(exc, AriaError) else cause
        if TRACEBACK in err.message:
            log.warning("stream failed: %s", err.message)
        return f"{err.type}: {brief(err.message)}"
    log.warning("stream failed", exc_info=exc)
    first = brief(exc).splitlines()[0] if brief(exc) else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class StreamHub:
    """Open token streams of one service."""

    def __init__(self, ttl_s: float = 60.0) -> None:
        self.ttl_s = ttl_s
        self._streams: dict[str, _Stream] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, pieces: AsyncIterator[str], owner: str | None = None) -> str:
        """Drain ``pieces`` in a task; readers get them with :meth:`read` (only ``owner``, if given)."""
        self._expire()
        sid = uuid.uuid4().hex
        stream = _Stream(owner)
        self._streams[sid] = stream

        async def body() -> None:
            try:
                async for piece in pieces:
                    if piece:
                        stream.pieces.append(piece)
                        stream.changed.set()
            except Exception as exc:  # reported to the reader, who owns the request
                stream.error = reader_message(exc)
            finally:
                stream.done = True
                stream.changed.set()

        task = asyncio.ensure_future(body())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return sid

    async def read(self, sid: str, wait_s: float = 1.0, owner: str | None = None) -> dict[str, Any]:
        stream = self._streams.get(sid)
        # Someone else's stream reads as no stream: its id says nothing to whoever guessed it.
        if stream is None or stream.owner != owner:
            raise NotFound(f"no open stream {sid!r}", stream=sid)
        stream.touched = time.monotonic()
        if stream.read == len(stream.pieces) and not stream.done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stream.changed.wait(), wait_s)
        stream.changed.clear()
        new = stream.pieces[stream.read:]
        stream.read += len(new)
        # done only once everything pushed has been handed out
        done = stream.done and stream.read == len(stream.pieces)
        if done:
            del self._streams[sid]
        return {"tokens": new, "done": done, "error": stream.error if done else None}

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s for s, st in self._streams.items() if now - st.touched > self.ttl_s]:
            del self._streams[sid]

    def __len__(self) -> int:
        return len(self._streams)


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


async def pieces_from_thread(run: Callable[[Callable[[str], None]], None]) -> AsyncIterator[str]:
    """Run ``run(push)`` in a worker thread and yield each piece it pushes, as it is pushed.

    An exception of ``run`` is raised here after the pieces pushed before it.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def push(piece: str) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, piece)

    def body() -> None:
        try:
            run(push)
            loop.call_soon_threadsafe(queue.put_nowait, _END)
        except BaseException as exc:  # handed to the consumer, who owns the request
            loop.call_soon_threadsafe(queue.put_nowait, _Failed(exc))

    task = asyncio.ensure_future(asyncio.to_thread(body))
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        if task.done():
            task.result()
