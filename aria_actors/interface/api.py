"""HTTP and WebSocket surface of aria_interface under ``/v1/interface``.

::

    GET  /v1/interface/topics            the topics the channel serves (shapes) and its protocol
    GET  /v1/interface/ui                the web UI's manifest (views, the routes and topics each uses)
    GET  /v1/interface/limits            the caller's rate limits and what is left of each window
                                         (answered in the gateway process, from its limiter)
    GET  /v1/interface/docs              every service's OpenAPI (one link each) + the role table
    GET  /v1/interface/docs/{service}    one service's OpenAPI document
    WS   /v1/interface/ws                the real-time channel (protocol: aria_actors.interface.protocol)
                                         and WebRTC signalling (aria_actors.interface.signalling)

The WebSocket handler runs in the gateway process: it authenticates the connection itself with
aria_security's JWKS (the gateway's :class:`~aria_actors.security.middleware.BearerAuth`), reads
the client's frames, and hands subscriptions to this process's :class:`~aria_actors.interface.hub.Hub`,
whose sources read through the gateway's service clients as the subscriber.

Guarantees and caveats
----------------------
- Authentication happens before the handshake completes: no or an invalid token is a close 1008
  before ``accept`` (the client sees HTTP 403); aria_security unreachable with no keys cached is a
  1013. Browsers, which cannot set headers on a WebSocket, send the token as the second
  subprotocol (``new WebSocket(url, ["bearer", token])``); the server selects ``bearer`` and never
  echoes the token. A token in the query string is refused (it would reach access logs).
- The channel is a plain Starlette ``WebSocketRoute``, not a FastAPI one: the gateway's app-wide
  bearer dependency takes a ``Request`` and cannot run on a WebSocket scope, and a handshake
  refusal must be a close code, not a 401 body. It is authorized like a route fronting
  ``InterfaceClient.topics`` (``__aria_permits__``).
- Nothing a client sends can end the handler with an exception or touch another connection:
  every frame is parsed by ``protocol.parse_frame`` and every failure answered with an error
  frame; an unexpected fault is logged and answered as an internal error frame.
- The connection is closed (1008) when its token expires; the client reconnects with a fresh one.
- The handshake meets the gateway's checks of an HTTP route's token (``app.state.bearer``'s
  invalid-token lockout, ``app.state.protection``: an OpenID client's token, a revoked session or
  client), each refusal audited; an open connection is closed (1008) once the gateway learns
  that its session or client was revoked (within a poll of the revocation feed).
- Presence frames (here, gone) go to the connection's
  :class:`~aria_actors.interface.presence.PresenceOf`; being present on ``presence:character:<id>``
  is authorized as reading ``character:<id>``, as the connection's principal. When the connection
  ends, it leaves every presence topic (the others are told).
- Signalling frames (join, leave, signal) go to the connection's
  :class:`~aria_actors.interface.signalling.Signalling`; a join's grant is verified by aria_auth
  (``verify_peer_grant``) as the connection's principal. When the connection ends, its peers
  leave their rooms (the other peers are told).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from aria_actors.auth.client import AuthClient
from aria_actors.coordinate.protection import refuse_foreign
from aria_actors.interface.client import InterfaceClient
from aria_actors.interface.errors import NotSubscribed, TooManySubscriptions
from aria_actors.interface.hub import Hub, Subscriber, as_aria_error, cause_of
from aria_actors.interface.limits import live_view
from aria_actors.interface.presence import Presence, PresenceOf
from aria_actors.interface.protocol import (
    CLOSE_POLICY,
    CLOSE_TRY_LATER,
    MAX_BAD_FRAMES,
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_USER,
    MAX_REASON_BYTES,
    MAX_SUBSCRIPTIONS,
    PATH,
    PRESENCE_OPS,
    SIGNAL_OPS,
    error_frame,
    parse_frame,
)
from aria_actors.interface.signalling import Rooms, Signalling, parse_signal
from aria_actors.interface.topics import Context, canonical, source_for
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.http import Permits, ServiceRouter, permits, service_client, transport
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import bind, default_gate
from aria_actors.security import metrics as security_metrics
from aria_actors.security.errors import InvalidToken, LockedOut
from aria_actors.security.middleware import BearerAuth

log = logging.getLogger("aria.interface.ws")
router = ServiceRouter(prefix="/v1/interface", tags=["interface"])
Client = Annotated[InterfaceClient, Depends(service_client(InterfaceClient))]
ServicePath = Annotated[str, Path(pattern=r"^(aria_)?[a-z]{2,32}$", description="A service, e.g. aria_workflow.")]
SUBPROTOCOL = "bearer"
# The check a connection meets at the handshake: that of the method the channel stands for.
WS_PERMITS = Permits(InterfaceClient, "topics")


@router.get("/topics", summary="The topics the WebSocket channel serves, their shapes, and its protocol")
async def topics(client: Client, caller: Principal = permits(InterfaceClient.topics)) -> dict[str, Any]:
    return await client.topics(caller)


@router.get("/ui", summary="The web UI's manifest: its views and the REST routes and topics each one uses")
async def ui(client: Client, caller: Principal = permits(InterfaceClient.ui)) -> dict[str, Any]:
    return await client.ui(caller)


@router.get("/limits", summary="Your rate limits in force and what is left of each window now")
async def limits(request: Request, caller: Principal = permits(InterfaceClient.limits)) -> dict[str, Any]:
    # Answered here, in the gateway process, from the limiter that counts the caller's requests:
    # aria_interface's own limits() knows the configured rules but not the live windows.
    return live_view(getattr(request.app.state, "limiter", None), caller)


@router.get("/docs", summary="Every service's OpenAPI document, and the generated role/permission table")
async def docs_index(client: Client, caller: Principal = permits(InterfaceClient.docs_index)) -> dict[str, Any]:
    return await client.docs_index(caller)


@router.get("/docs/{service}", summary="One service's OpenAPI document")
async def openapi(service: ServicePath, client: Client,
                  caller: Principal = permits(InterfaceClient.openapi)) -> dict[str, Any]:
    return await client.openapi(caller, service)


# -- the WebSocket channel --------------------------------------------------------------------------
@dataclass
class Runtime:
    """What the channel keeps per app (per gateway process): the hub and a token verifier."""

    hub: Hub
    auth: BearerAuth
    rooms: Rooms = field(default_factory=Rooms)  # WebRTC signalling's rooms of this gateway process
    presence: Presence = field(default_factory=Presence)  # who is present on what, in this gateway process


def runtime_of(app: Any) -> Runtime:
    """The app's channel runtime (made on the first connection; tests may set ``app.state.interface``)."""
    rt = getattr(app.state, "interface", None)
    if rt is None:
        # the gateway's own verifier (app.state.bearer): its cached keys and its invalid-token lockout
        rt = Runtime(Hub(), getattr(app.state, "bearer", None) or BearerAuth(exempt=()))
        app.state.interface = rt
    return rt


def bearer_of(websocket: WebSocket) -> tuple[str | None, bool]:
    """The bearer token of the handshake (the header's, else the one after the ``bearer``
    subprotocol), and whether ``bearer`` was offered (then it is the subprotocol selected)."""
    offered = list(websocket.scope.get("subprotocols") or ())
    via_subprotocol = SUBPROTOCOL in offered
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), via_subprotocol
    if via_subprotocol:
        at = offered.index(SUBPROTOCOL)
        token = offered[at + 1] if at + 1 < len(offered) else ""
        return (token.strip() or None), True
    return None, False


def _reason(text: str) -> str:
    data = text.encode()[:MAX_REASON_BYTES]
    return data.decode(errors="ignore")


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    log.info("ws refused code=%s reason=%s", code, reason)
    await websocket.close(code=code, reason=_reason(reason))


async def authenticate(websocket: WebSocket, rt: Runtime) -> tuple[Principal, dict[str, Any], bool] | None:
    """The caller of the handshake, its claims and whether to select the subprotocol; None: refused (closed)."""
    token, via_subprotocol = bearer_of(websocket)
    if token is None:
        await _refuse(websocket, CLOSE_POLICY, "missing bearer token: send 'Authorization: Bearer <token>' "
                                               "or the subprotocols 'bearer', <token>")
        return None
    # The gateway's checks of an HTTP route's token, here too: the invalid-token lockout of the
    # client's address, then its endpoint protection (an OpenID client's token, a revoked session
    # or client); each refusal is audited like an HTTP one.
    protection = getattr(websocket.app.state, "protection", None)
    lockout = getattr(rt.auth, "lockout", None)
    source = websocket.client.host if websocket.client else "unknown"
    claims: dict[str, Any] | None = None
    try:
        if lockout is not None and lockout.locked(source):
            raise LockedOut("too many invalid tokens from this client; try again later", source=source)
        try:
            claims = await rt.auth.verify(websocket, token)  # type: ignore[arg-type]  # reads only .app, as a Request
        except InvalidToken:
            if lockout is not None and lockout.denied(source):
                security_metrics.LOCKOUTS.inc()
            raise
        if protection is not None:
            await protection.admit(claims, websocket.scope)
        else:  # an app without the gateway's protection still refuses OpenID clients' tokens
            refuse_foreign(claims, websocket.scope)
        caller = Principal.from_claims(claims)
        default_gate().check(WS_PERMITS.spec, caller)
    except AriaError as exc:
        error = as_aria_error(exc, "token check")
        if protection is not None:
            protection.record_denial(error, websocket.scope, claims)
        code = CLOSE_POLICY if error.status < 500 else CLOSE_TRY_LATER
        await _refuse(websocket, code, f"{error.type}: {error.message}")
        return None
    return caller, claims, via_subprotocol


def watch_revocation(websocket: WebSocket, claims: dict[str, Any], sub: Subscriber) -> Callable[[], None]:
    """Close the connection (1008) once its session or machine client is revoked (the gateway's
    endpoint protection tells within a poll); returns the unwatch, for when the connection ends."""
    protection = getattr(websocket.app.state, "protection", None)
    if protection is None:
        return lambda: None
    return protection.watch(claims, lambda error: sub.close_soon(CLOSE_POLICY, f"{error.type}: {error.message}"))


async def channel(websocket: WebSocket) -> None:
    """``/v1/interface/ws``: authenticate, then serve the connection's frames until it ends."""
    rt = runtime_of(websocket.app)
    if len(rt.hub.connections) >= MAX_CONNECTIONS:
        await _refuse(websocket, CLOSE_TRY_LATER, "too many connections to this gateway; try again later")
        return
    who = await authenticate(websocket, rt)
    if who is None:
        return
    caller, claims, via_subprotocol = who
    mine = sum(1 for c in rt.hub.connections if getattr(c, "name", None) == caller.subject)
    if mine >= MAX_CONNECTIONS_PER_USER:
        await _refuse(websocket, CLOSE_TRY_LATER, f"at most {MAX_CONNECTIONS_PER_USER} connections per user; "
                                                  "close one")
        return
    await websocket.accept(subprotocol=SUBPROTOCOL if via_subprotocol else None)
    ctx = Context(lambda name: transport(websocket, name),  # type: ignore[arg-type]  # as in authenticate
                  getattr(websocket.app.state, "directory", None))
    connection = Connection(websocket, caller, rt.hub, ctx, claims.get("exp"), rooms=rt.rooms, presence=rt.presence)
    unwatch = watch_revocation(websocket, claims, connection.sub)  # revoked later: closed 1008
    try:
        await connection.serve()
    finally:
        unwatch()


channel.__aria_permits__ = WS_PERMITS  # type: ignore[attr-defined]  # read by tests/unit/test_reachability.py
router.routes.append(WebSocketRoute(PATH, channel, name="interface_ws"))


class Connection:
    """One accepted connection: its frames in, its subscriber's queue out."""

    def __init__(self, websocket: WebSocket, caller: Principal, hub: Hub, ctx: Context,
                 expires_at: Any = None, *, rooms: Rooms | None = None, presence: Presence | None = None) -> None:
        self.websocket = websocket
        self.caller = caller
        self.hub = hub
        self.ctx = ctx
        self.expires_at = expires_at if isinstance(expires_at, int | float) else None
        self.bad = 0
        self.sub = Subscriber(websocket.send_text, self._close, name=caller.subject)
        self.signalling = Signalling(rooms if rooms is not None else Rooms(), caller, self.sub, self._verify_grant)
        self.presence = PresenceOf(presence if presence is not None else Presence(), caller, self.sub,
                                   self._may_read)

    async def _may_read(self, caller: Principal, topic: str) -> None:
        """Whether ``caller`` may read ``topic`` (the thing a presence topic is about), asked of its service."""
        await source_for(topic, self.ctx)().authorize(caller)

    async def _verify_grant(self, caller: Principal, grant: str, room: str) -> dict[str, Any]:
        """aria_auth's check of a peer grant, as the connection's principal."""
        auth = bind(AuthClient, self.ctx.clients("aria_auth"))
        return await auth.verify_peer_grant(caller, grant, room)

    async def _close(self, code: int, reason: str) -> None:
        await self.websocket.close(code=code, reason=_reason(reason))

    async def serve(self) -> None:
        sub = self.sub
        self.hub.attach(sub)
        sub.start()
        expiry = None
        if self.expires_at is not None:
            expiry = asyncio.get_running_loop().call_later(
                max(0.0, self.expires_at - time.time()), sub.close_soon, CLOSE_POLICY,
                "token expired: reconnect with a fresh token")
        closed = asyncio.ensure_future(sub.closed.wait())
        log.info("ws open sub=%s", self.caller.subject)
        try:
            while not sub.closed.is_set():
                receiving = asyncio.ensure_future(self.websocket.receive())
                await asyncio.wait((receiving, closed), return_when=asyncio.FIRST_COMPLETED)
                if not receiving.done():  # closed by the hub (too slow) or the expiry
                    receiving.cancel()
                    with contextlib.suppress(BaseException):
                        await receiving
                    break
                message = receiving.result()
                if message["type"] == "websocket.disconnect":
                    break
                await self.handle(message)
        except Exception:  # the socket failed under us (a reset): the connection is over, nothing else is
            log.debug("ws of %s ended by a transport error", self.caller.subject, exc_info=True)
        finally:
            if expiry is not None:
                expiry.cancel()
            closed.cancel()
            self.signalling.close()
            self.presence.close()
            self.hub.detach(sub)
            await sub.aclose()
            log.info("ws closed sub=%s code=%s sent=%s dropped=%s", self.caller.subject, sub.close_code,
                     sub.sent, sub.dropped_total)

    async def handle(self, message: dict[str, Any]) -> None:
        """One client frame: answered on the subscriber's queue, in order with the events."""
        sub = self.sub
        req_id: str | int | None = None
        topic: str | None = None
        try:
            frame = parse_frame(message.get("text"), message.get("bytes"))
            req_id, topic = frame.id, frame.topic
            if frame.op == "ping":
                sub.offer_doc({"type": "pong", **({"id": req_id} if req_id is not None else {})})
                return
            if frame.op in SIGNAL_OPS:
                assert frame.body is not None  # parse_frame: a signalling frame keeps its object
                await self.signalling.handle(parse_signal(frame.op, frame.body, req_id), req_id)
                return
            assert frame.topic is not None  # parse_frame: subscribe, unsubscribe, here and gone name one
            if frame.op in PRESENCE_OPS:
                await self.presence.handle(frame.op, frame.topic, req_id)
                return
            topic = canonical(frame.topic)
            if frame.op == "subscribe":
                if topic not in sub.topics and len(sub.topics) >= MAX_SUBSCRIPTIONS:
                    raise TooManySubscriptions(f"this connection holds {MAX_SUBSCRIPTIONS} subscriptions, the most "
                                               "one may", limit=MAX_SUBSCRIPTIONS)
                await self.hub.subscribe(sub, self.caller, topic, source_for(topic, self.ctx), req_id)
            else:
                if not self.hub.unsubscribe(sub, topic):
                    raise NotSubscribed(f"not subscribed to {topic!r}", topic=topic)
                sub.offer_doc({"type": "unsubscribed", "topic": topic,
                               **({"id": req_id} if req_id is not None else {})})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(cause_of(exc), AriaError | TimeoutError | OSError):
                error = as_aria_error(exc, f"no answer for {topic}" if topic else "no answer")
            else:  # a fault of ours: logged, and answered without its text
                log.warning("ws frame of %s: unexpected %s", self.caller.subject, type(exc).__name__, exc_info=exc)
                error = AriaError(f"internal error ({type(exc).__name__}); see the gateway log")
            if error.status < 500:
                self.bad += 1
            sub.offer_doc(error_frame(error, id=req_id, topic=topic[:200] if topic else None))
            if self.bad >= MAX_BAD_FRAMES:
                sub.close_soon(CLOSE_POLICY, f"{self.bad} bad frames: fix the client")

