"""The wire protocol of the real-time channel (``/v1/interface/ws``): frames, limits, close codes.

::

    client                                         server
    ── connect: Authorization: Bearer <jwt>  ──>   verify (aria_security's JWKS, as the gateway)
       or Sec-WebSocket-Protocol: bearer, <jwt>      refused: close 1008 before accepting (HTTP 403)
    <─ accepted (subprotocol "bearer" echoed when offered; the token never is)
    ── {"op": "subscribe", "topic": "workflow:<run id>", "id": 1} ──>
    <─ {"type": "subscribed", "topic": ..., "id": 1, "last_id": 0, "snapshot": {...}}
    <─ {"type": "event", "topic": ..., "id": 1, "data": {...}}      ids count up per topic: a gap
    <─ {"type": "lagged", "dropped": 3, "topics": {...}}             means messages were dropped
    ── {"op": "unsubscribe", "topic": ..., "id": 2}  ──>  <─ {"type": "unsubscribed", ...}
    ── {"op": "ping", "id": 3}                       ──>  <─ {"type": "pong", "id": 3}
    ── {"op": "join" | "leave" | "signal", "room": ..., ...} ──>  WebRTC signalling: see
                                                      aria_actors.interface.signalling
    ── {"op": "here" | "gone", "topic": "presence:character:<id>"} ──>  presence: see
                                                      aria_actors.interface.presence
    <─ {"type": "error", "error": "interface-unknown-topic", "status": 404, "title": ...,
        "detail": ..., "id": <the request's id>, "topic": ..., "ended": true|false}

Guarantees and caveats
----------------------
- Client frames are JSON text of at most :data:`MAX_FRAME_BYTES` (a ``signal`` frame, which carries
  an SDP: :data:`MAX_SIGNAL_FRAME_BYTES`); anything else (binary, larger,
  not JSON, not an object, an unknown ``op``, a bad ``topic`` or ``id``) is answered with an error
  frame naming the problem and the connection stays open, until :data:`MAX_BAD_FRAMES` of them
  (then close 1008). The transport's own cap (uvicorn ``ws_max_size``, 16 MiB by default) closes
  with 1009 before a frame reaches the channel.
- ``id`` is the client's correlation value (a string of at most 64 characters or an integer), echoed
  in the answer; it is optional.
- An error frame with ``"ended": true`` ends that topic's subscription (refused or no longer
  readable); ``"ended": false`` is a passing problem (the source's service is down: events resume
  when it is back).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aria_actors.interface.errors import FrameTooLarge, InvalidFrame, UnknownOp
from aria_actors.runtime.errors import AriaError, brief

PATH = "/v1/interface/ws"
MAX_FRAME_BYTES = 4096       # a client frame: an op, a topic, an id
MAX_SUBSCRIPTIONS = 32       # per connection
MAX_BAD_FRAMES = 100         # error frames answered before the connection is closed (1008)
QUEUE_CAPACITY = 256         # messages waiting for one slow client before the oldest are dropped
STALL_TIMEOUT_S = 10.0       # a client whose queue stays full this long is closed (1013)
MAX_CONNECTIONS = 1_000      # per gateway process (below the gateway's max_ongoing_requests)
MAX_CONNECTIONS_PER_USER = 8  # per principal and gateway process
MAX_TOPIC_CHARS = 200
MAX_ID_CHARS = 64
MAX_SIGNAL_FRAME_BYTES = 64 * 1024 + 4096  # a signal frame: an SDP of at most 64 KiB and its envelope
SIGNAL_OPS = ("join", "leave", "signal")  # WebRTC signalling (aria_actors.interface.signalling)
PRESENCE_OPS = ("here", "gone")  # presence (aria_actors.interface.presence); they name a topic as subscribe does
OPS = ("subscribe", "unsubscribe", "ping", *SIGNAL_OPS, *PRESENCE_OPS)

# Close codes (RFC 6455 section 7.4.1).
CLOSE_POLICY = 1008      # no or invalid token, token expired, too many bad frames
CLOSE_TOO_BIG = 1009     # the transport's frame cap (uvicorn ws_max_size)
CLOSE_INTERNAL = 1011    # a fault of the server
CLOSE_TRY_LATER = 1013   # too slow a reader (queue full too long), tokens cannot be verified now, too many connections
MAX_REASON_BYTES = 123   # a close frame's reason (125 bytes less the code)


@dataclass(frozen=True, slots=True)
class Frame:
    """A client frame, validated."""

    op: str
    topic: str | None = None
    id: str | int | None = None
    body: dict[str, Any] | None = None  # a signalling frame's JSON object (signalling.parse_signal reads it)


def _id(value: Any) -> str | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidFrame("id must be a string or an integer", field="id")
    if isinstance(value, str) and len(value) > MAX_ID_CHARS:
        raise InvalidFrame(f"id is at most {MAX_ID_CHARS} characters", field="id")
    if isinstance(value, int) and not -(2**53) < value < 2**53:
        raise InvalidFrame("id must fit a JSON number exactly (|id| < 2**53)", field="id")
    return value


def parse_frame(text: str | None, data: bytes | None = None) -> Frame:
    """A client frame from a WebSocket message (text or bytes): :class:`Frame`, or a typed error."""
    if text is None:
        size = len(data or b"")
        if size > MAX_FRAME_BYTES:
            raise FrameTooLarge(f"frame is {size} bytes; at most {MAX_FRAME_BYTES}", limit=MAX_FRAME_BYTES)
        raise InvalidFrame("binary frames are not read: send JSON text", field="frame")
    # len(text) <= bytes <= 4 * len(text): encode only when the characters alone do not decide
    cap = MAX_SIGNAL_FRAME_BYTES
    size = len(text) if len(text) > cap or 4 * len(text) <= MAX_FRAME_BYTES else len(text.encode(errors="replace"))
    too_large = FrameTooLarge(f"frame is over {MAX_FRAME_BYTES} bytes; client frames are small JSON objects "
                              f"(a signal frame: at most {cap})", limit=MAX_FRAME_BYTES)
    if size > cap:
        raise too_large
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: not JSON, or an integer over 4,300 digits
        if size > MAX_FRAME_BYTES:
            raise too_large from None
        why = exc.msg if isinstance(exc, json.JSONDecodeError) else (
            "nested too deeply" if isinstance(exc, RecursionError) else "a number is too large")
        raise InvalidFrame(f"frame is not JSON: {why}", field="frame") from None
    if size > MAX_FRAME_BYTES and not (isinstance(doc, dict) and doc.get("op") == "signal"):
        raise too_large  # only a signal frame (an SDP) may be larger
    if not isinstance(doc, dict):
        raise InvalidFrame("frame must be a JSON object {\"op\": ..., \"topic\": ..., \"id\": ...}", field="frame")
    req_id = _id(doc.get("id"))
    op = doc.get("op")
    if not isinstance(op, str):
        raise InvalidFrame("op is missing: one of " + ", ".join(OPS), field="op", id=req_id)
    if op not in OPS:
        raise UnknownOp(f"unknown op {op[:40]!r}: one of " + ", ".join(OPS), op=op[:40], id=req_id)
    if op in SIGNAL_OPS:  # their fields are checked by signalling.parse_signal
        return Frame(op, None, req_id, doc)
    unknown = sorted(set(doc) - {"op", "topic", "id"})
    if unknown:
        raise InvalidFrame(f"unknown fields: {', '.join(k[:40] for k in unknown[:5])}", field=unknown[0][:40],
                           id=req_id)
    topic = doc.get("topic")
    if op == "ping":
        if topic is not None:
            raise InvalidFrame("ping takes no topic", field="topic", id=req_id)
        return Frame(op, None, req_id)
    if not isinstance(topic, str) or not topic:
        raise InvalidFrame(f"{op} needs a topic (a string; GET /v1/interface/topics lists them)", field="topic",
                           id=req_id)
    if len(topic) > MAX_TOPIC_CHARS:
        raise InvalidFrame(f"topic is at most {MAX_TOPIC_CHARS} characters", field="topic", id=req_id)
    return Frame(op, topic, req_id)


def dumps(doc: dict[str, Any]) -> str:
    """A server frame as JSON text (datetimes and other values as their string form)."""
    return json.dumps(doc, separators=(",", ":"), default=str, allow_nan=False)


def error_frame(exc: AriaError, *, id: str | int | None = None, topic: str | None = None,
                ended: bool | None = None) -> dict[str, Any]:
    """The error frame of ``exc``: its stable ``type`` as ``error``, with the problem's fields."""
    # brief(): a service's error text may carry a remote traceback (paths, hosts): its first line
    # only, as the REST handlers do; a server fault says no more than its title
    detail = brief(exc.message) if exc.status < 500 else f"{exc.title}: {brief(exc.message)[:200]}"
    doc: dict[str, Any] = {"type": "error", "error": exc.type, "status": exc.status, "title": exc.title,
                           "detail": detail}
    if id is None:
        id = exc.fields.get("id")
    if id is not None:
        doc["id"] = id
    if topic is not None:
        doc["topic"] = topic
    if ended is not None:
        doc["ended"] = ended
    for key in ("field", "limit", "op", "room", "peer", "right"):
        if key in exc.fields:
            doc[key] = exc.fields[key]
    return doc


def describe() -> dict[str, Any]:
    """The protocol, as ``GET /v1/interface/topics`` tells clients."""
    return {
        "url": PATH,
        "authentication": {
            "header": "Authorization: Bearer <token> (non-browser clients)",
            "subprotocol": "Sec-WebSocket-Protocol: bearer, <token> (browsers: "
                           "new WebSocket(url, ['bearer', token])); the server selects 'bearer'",
            "query": "not accepted: a token in a URL ends up in access logs and browser history",
            "refused": "close 1008 before the handshake completes (an HTTP 403 to the client)",
            "expiry": "the connection is closed with 1008 when the token expires; reconnect with a fresh one",
        },
        "client_frames": {
            "subscribe": {"op": "subscribe", "topic": "<topic>", "id": "<optional: string or integer>"},
            "unsubscribe": {"op": "unsubscribe", "topic": "<topic>", "id": "<optional>"},
            "ping": {"op": "ping", "id": "<optional>"},
            "here": {"op": "here", "topic": "presence:character:<id>", "id": "<optional>"},
            "gone": {"op": "gone", "topic": "presence:character:<id>", "id": "<optional>"},
        },
        "server_frames": {
            "subscribed": {"type": "subscribed", "topic": "<topic>", "id": "<echoed>", "last_id": "<int>",
                           "snapshot": "<the topic's current state>"},
            "event": {"type": "event", "topic": "<topic>", "id": "<int, +1 per message of the topic>",
                      "data": "<the topic's event shape>"},
            "lagged": {"type": "lagged", "dropped": "<int>", "topics": {"<topic>": "<int>"}},
            "unsubscribed": {"type": "unsubscribed", "topic": "<topic>", "id": "<echoed>"},
            "pong": {"type": "pong", "id": "<echoed>"},
            "error": {"type": "error", "error": "<stable type slug>", "status": "<HTTP-like status>",
                      "title": "<str>", "detail": "<str>", "id": "<echoed>", "topic": "<topic>",
                      "ended": "<true: the subscription ended>"},
        },
        "close_codes": {
            str(CLOSE_POLICY): "no, invalid or expired token; too many bad frames",
            str(CLOSE_TOO_BIG): "a frame over the transport's cap",
            str(CLOSE_INTERNAL): "a server fault",
            str(CLOSE_TRY_LATER): "too slow a reader, too many connections, or tokens cannot be verified now",
        },
        "limits": {
            "max_frame_bytes": MAX_FRAME_BYTES, "max_subscriptions": MAX_SUBSCRIPTIONS,
            "queue_capacity": QUEUE_CAPACITY, "stall_timeout_s": STALL_TIMEOUT_S,
            "max_bad_frames": MAX_BAD_FRAMES,
        },
    }
