"""Token streams: generation in a worker thread, read in pieces by whoever polls the stream.

A service call returns one value, so a stream crosses the actor boundary as a handle plus reads::

    start(prompt) -> stream id           generation runs in a thread, pushing text pieces
    read(id) -> {"tokens": [...], "done"} waits (up to wait_s) for at least one new piece
    ... until done; the HTTP layer turns each read into server-sent events.

Guarantees and caveats
----------------------
- Pieces are the incremental decode of the ids so far, so their concatenation equals the
  non-streamed completion of the same prompt and seed (a test checks it).
- A stream is dropped once it has been read to the end, or ``ttl_s`` after its last read (a
  client that went away does not leak it).
- One generation at a time per model (the caller's lock); a stream waits for its turn.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aria_actors.runtime.errors import NotFound


@dataclass
class _Stream:
    pieces: list[str] = field(default_factory=list)
    read: int = 0
    done: bool = False
    error: str | None = None
    touched: float = field(default_factory=time.monotonic)
    changed: threading.Event = field(default_factory=threading.Event)


class StreamHub:
    """Open token streams of one model server."""

    def __init__(self, ttl_s: float = 60.0) -> None:
        self.ttl_s = ttl_s
        self._streams: dict[str, _Stream] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, run: Callable[[Callable[[str], None]], None]) -> str:
        """Start ``run(push)`` in a thread; it calls ``push(piece)`` for each new text piece."""
        self._expire()
        sid = uuid.uuid4().hex
        stream = _Stream()
        self._streams[sid] = stream

        def push(piece: str) -> None:
            if piece:
                stream.pieces.append(piece)
                stream.changed.set()

        def body() -> None:
            try:
                run(push)
            except Exception as exc:  # reported to the reader, who owns the request
                stream.error = f"{type(exc).__name__}: {exc}"
            finally:
                stream.done = True
                stream.changed.set()

        task = asyncio.ensure_future(asyncio.to_thread(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return sid

    async def read(self, sid: str, wait_s: float = 1.0) -> dict[str, Any]:
        stream = self._streams.get(sid)
        if stream is None:
            raise NotFound(f"no open stream {sid!r}", stream=sid)
        stream.touched = time.monotonic()
        if stream.read == len(stream.pieces) and not stream.done:
            await asyncio.to_thread(stream.changed.wait, wait_s)
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
        for sid in [s for s, st in self._streams.items() if st.done and now - st.touched > self.ttl_s]:
            del self._streams[sid]

    def __len__(self) -> int:
        return len(self._streams)
