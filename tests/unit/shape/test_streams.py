"""Token streams: a failure reaches the reader as a short message, never a remote traceback."""

from __future__ import annotations

import asyncio

from aria_actors.shape.errors import InvalidCharacter
from aria_actors.shape.inference.streams import StreamHub, reader_message


class _RemoteError(Exception):
    """Stands in for a RayTaskError: its text is the replica's whole traceback."""


REMOTE = _RemoteError("ray::ServeReplica:shape:base.stream() (pid=1, ip=127.0.0.1)\n"
                      "Traceback (most recent call last):\n  File \"/x.py\", line 3, in f\nValueError: no")


def test_reader_message_keeps_aria_errors_and_drops_tracebacks() -> None:
    assert reader_message(InvalidCharacter("bad")) == "shape-invalid-character: bad"
    wrapped = _RemoteError("x")
    wrapped.cause = InvalidCharacter("inner")  # how Ray hands back an error raised in an actor
    assert reader_message(wrapped) == "shape-invalid-character: inner"
    # an Aria error whose message was built from a remote error (a failed deploy)
    from aria_actors.shape.errors import ModelLoadError

    built = reader_message(ModelLoadError(f"cannot deploy model version 'base': {REMOTE}"))
    assert "Traceback" not in built and built.startswith("shape-model-load")
    text = reader_message(REMOTE)
    assert "Traceback" not in text and "File" not in text
    assert text.startswith("_RemoteError: ray::ServeReplica")


async def test_a_failed_stream_tells_its_reader_without_a_traceback() -> None:
    async def pieces():
        yield "a"
        raise REMOTE

    hub = StreamHub()
    sid = hub.start(pieces(), owner="u1")
    out: dict = {"done": False}
    while not out["done"]:
        out = await hub.read(sid, wait_s=1.0, owner="u1")
        await asyncio.sleep(0)
    assert out["error"] and "Traceback" not in out["error"]
