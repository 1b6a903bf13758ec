"""Errors of aria_interface: each names what was wrong with the request or frame, and how to fix it.

On the WebSocket channel an error is an error frame (``{"type": "error", "error": <type>, ...}``,
see :mod:`aria_actors.interface.protocol`) and the connection stays open; over HTTP it is the usual
problem+json. The ``type`` slugs are stable: clients may switch on them.
"""

from __future__ import annotations

from aria_actors.runtime.errors import AriaError, BadRequest, Conflict, Forbidden, NotFound


class InterfaceError(AriaError):
    """Something went wrong in aria_interface."""

    type = "interface"
    status = 500
    title = "Interface error"


class InvalidFrame(InterfaceError, BadRequest):
    """A WebSocket frame is not a JSON object of the protocol (``{"op": ..., "topic": ..., "id": ...}``);
    the message names the field."""

    type = "interface-invalid-frame"
    status = 400
    title = "Invalid frame"


class FrameTooLarge(InterfaceError, BadRequest):
    """A WebSocket frame is larger than the channel reads; client frames are small JSON objects."""

    type = "interface-frame-too-large"
    status = 413
    title = "Frame too large"


class UnknownOp(InterfaceError, BadRequest):
    """The frame's ``op`` is not one the channel knows: subscribe, unsubscribe or ping."""

    type = "interface-unknown-op"
    status = 400
    title = "Unknown operation"


class UnknownTopic(InterfaceError, NotFound):
    """No topic of that kind; ``GET /v1/interface/topics`` lists what may be subscribed."""

    type = "interface-unknown-topic"
    status = 404
    title = "Unknown topic"


class InvalidTopic(InterfaceError, BadRequest):
    """The topic's kind is known but its argument is malformed (a run id is a UUID, a job id an integer)."""

    type = "interface-invalid-topic"
    status = 400
    title = "Invalid topic"


class NotSubscribed(InterfaceError, NotFound):
    """The connection is not subscribed to that topic."""

    type = "interface-not-subscribed"
    status = 404
    title = "Not subscribed"


class TooManySubscriptions(InterfaceError, BadRequest):
    """The connection holds as many subscriptions as one may; unsubscribe from one first."""

    type = "interface-too-many-subscriptions"
    status = 429
    title = "Too many subscriptions"


class UnknownService(InterfaceError, NotFound):
    """No service of that name has HTTP routes; ``GET /v1/interface/docs`` lists those that do."""

    type = "interface-unknown-service"
    status = 404
    title = "Unknown service"


# -- WebRTC signalling (aria_actors.interface.signalling) --
class NotJoined(InterfaceError, NotFound):
    """This connection has not joined that room: send ``{"op": "join", "room": ..., "grant": ...}`` first."""

    type = "interface-not-joined"
    status = 404
    title = "Room not joined"


class AlreadyJoined(InterfaceError, Conflict):
    """This connection has already joined that room (leave it first to join again)."""

    type = "interface-already-joined"
    status = 409
    title = "Already joined"


class UnknownPeer(InterfaceError, NotFound):
    """No peer of that id in the room (it may have left: watch for ``peer-left``)."""

    type = "interface-unknown-peer"
    status = 404
    title = "Unknown peer"


class RoomLimit(InterfaceError, BadRequest):
    """A signalling count is at its limit (rooms per connection, peers per room, signals per peer)."""

    type = "interface-signalling-limit"
    status = 429
    title = "Signalling limit reached"


class RightMissing(InterfaceError, Forbidden):
    """The grant this peer joined with does not hold the right the SDP needs (publish/subscribe for
    audio and video, data for a data channel); ask aria_auth for a grant with it."""

    type = "interface-right-missing"
    status = 403
    title = "Right missing"
