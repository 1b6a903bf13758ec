"""WebRTC peers: rooms and their members, short-lived peer grants, and TURN REST credentials.

::

    POST /v1/auth/peers/rooms                 a room; its creator is a member with every right
    PUT  /v1/auth/peers/rooms/{id}/members/{user}   let a user of the room's tenant in (rights)
    POST /v1/auth/peers/grants                a grant: "pg1.<claims>.<HMAC-SHA256>", <= 300 s
         └── aria_interface's channel: {"op": "join", "room": id, "grant": g} -> verify_peer_grant
    GET  /v1/auth/peers/turn                  {username: "<expiry>:<user id>",
                                               password: base64(HMAC-SHA1(secret, username)), ttl, uris}

Who may do what (deny by default, decided here as the caller):

- A room is created by a user's session (``interface:session:write``, held ``@own`` by ``user``);
  the creator manages its members, as does a holder of ``interface:session:write`` on the room's
  tenant (``editor``, ``admin``). Members are users of the room's tenant.
- A grant is issued to a *member* for at most the rights of its membership, or to a holder of
  ``interface:session:write`` on the room's tenant (a moderator: every right). A room the caller
  may not see answers 404, not 403 (its existence is not told).
- ``verify_peer_grant`` admits only the grant's own peer (the WebSocket connection's principal
  must be the user the grant names), checks the signature, expiry, room and tenant, and checks
  the membership *again*: a member removed after the grant was issued cannot join with it.

Guarantees and caveats
----------------------
- A grant is an HMAC token, not a JWT signed by aria_security: an aria_security JWT for the user
  would also be accepted by the gateway as a bearer token, and a grant must open a room, nothing
  else. Its key and the TURN shared secret live in aria_security's KV store
  (``services/aria_auth/peers/keys``, under aria_auth's own OpenBao policy), created on first use
  (check-and-set: two replicas creating at once keep one), cached for :data:`KEY_CACHE_S`.
- Rotation (every ``peer_secret_rotate_s``, at least a day, or ``rotate_peer_secrets``) keeps the
  current and the previous secret: grants and TURN credentials made with the previous one stay
  valid until the next rotation, so coturn must list both (two ``static-auth-secret`` lines,
  ``aria auth peers turn-secrets`` prints them; coturn accepts either). A TURN credential lives
  at most a day, a rotation comes at most once a day, so no credential outlives both secrets.
- TURN credentials follow draft-uberti-behave-turn-rest-00: the username is
  ``<expiry unix time>:<user id>``; coturn (``use-auth-secret``) checks the HMAC and refuses an
  expired username itself. The URIs come from the settings only.
- Grants are not single-use (a reconnecting peer may rejoin with the same grant until it expires);
  revocation is the membership check at join and the short lifetime.
- A peer's rights (publish, subscribe, data) travel in the grant and aria_interface enforces them
  on the SDP's media sections it relays; what the peers then send each other is theirs.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import secrets as _secrets
import time
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aria_actors.auth import access
from aria_actors.auth.accounts import ME, SERVICE
from aria_actors.auth.errors import AuthError
from aria_actors.data.sql_files import queries
from aria_actors.runtime.errors import AriaError, Forbidden
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("aria.auth.peers")
_SQL = queries("aria_actors.auth", "peers")
FEATURE = "webrtc-peer-auth"
RIGHTS = ("publish", "subscribe", "data")
GRANT_PREFIX = "pg1"
MAX_GRANT_CHARS = 2048
MAX_ROOM_NAME = 128
KEY_PATH = "services/aria_auth/peers/keys"  # under aria-svc-aria_auth's KV policy
KEY_CACHE_S = 60.0  # another replica's rotation is seen within this
ROTATION_CHECK_S = 600.0
ROOMS_LISTED = 200
SESSION_WRITE = "interface:session:write"
SESSION_READ = "interface:session:read"
TURN_URI = re.compile(r"^(turns?|stuns?):[A-Za-z0-9.\-\[\]:]{1,253}(\?transport=(udp|tcp))?$")


# -- errors ------------------------------------------------------------------------------------------
class PeerGrantInvalid(AuthError):
    """The peer grant is not one aria_auth issued (malformed, or its signature does not match); ask
    for a new one: ``POST /v1/auth/peers/grants``."""

    type = "auth-peer-grant-invalid"
    status = 403
    title = "Invalid peer grant"


class PeerGrantExpired(AuthError):
    """The peer grant has expired (they live at most five minutes); ask for a new one just before joining."""

    type = "auth-peer-grant-expired"
    status = 403
    title = "Peer grant expired"


class PeerGrantMismatch(AuthError):
    """The peer grant is for another room, another user or another tenant, or its rights are no longer
    the member's: each peer joins with its own grant for that room."""

    type = "auth-peer-grant-mismatch"
    status = 403
    title = "Peer grant does not match"


class PeerRoomNotFound(AuthError):
    """No such room, or not one you may see; ``aria auth peers rooms`` lists yours."""

    type = "auth-peer-room-not-found"
    status = 404
    title = "Room not found"


class InvalidPeerRequest(AuthError):
    """A room, member or grant request is malformed; the message names the field."""

    type = "auth-peer-invalid"
    status = 400
    title = "Invalid peer request"


class PeerRoomFull(AuthError):
    """The room has as many members as one may (``peer_room_max_members``); remove one first."""

    type = "auth-peer-room-full"
    status = 409
    title = "Room full"


# -- pure helpers (unit-tested without a service) ------------------------------------------------------
def turn_username(expires_at: int, user_id: str) -> str:
    """``<expiry unix time>:<user id>`` (draft-uberti-behave-turn-rest-00, section 2.2)."""
    return f"{int(expires_at)}:{user_id}"


def turn_password(secret: str, username: str) -> str:
    """``base64(HMAC-SHA1(secret, username))``: what coturn's ``use-auth-secret`` computes."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def check_rights(rights: Iterable[Any] | None, *, field: str = "rights") -> list[str]:
    """Rights as a sorted list of distinct names of :data:`RIGHTS`; InvalidPeerRequest otherwise."""
    if rights is None or isinstance(rights, str | bytes) or not isinstance(rights, Iterable):
        raise InvalidPeerRequest(f"{field} must be a list of: {', '.join(RIGHTS)}", field=field)
    out = set()
    for right in rights:
        if right not in RIGHTS:
            raise InvalidPeerRequest(f"{field}: {str(right)[:40]!r} is not one of {', '.join(RIGHTS)}", field=field)
        out.add(right)
    if not out:
        raise InvalidPeerRequest(f"{field} must name at least one right", field=field)
    return sorted(out)


def room_uuid(room_id: Any) -> uuid.UUID:
    """A room id; InvalidPeerRequest unless it is a UUID."""
    if isinstance(room_id, uuid.UUID):
        return room_id
    if isinstance(room_id, str) and len(room_id) <= 64:
        try:
            return uuid.UUID(room_id)
        except ValueError:
            pass
    raise InvalidPeerRequest("room must be a room id (a UUID)", field="room")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, signing_input: str) -> bytes:
    return hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()


def sign_grant(kid: str, key: str, claims: dict[str, Any]) -> str:
    """``pg1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, "pg1.<claims>"))>``; claims carry ``kid``."""
    body = _b64(json.dumps({**claims, "kid": kid}, separators=(",", ":"), sort_keys=True).encode())
    signing_input = f"{GRANT_PREFIX}.{body}"
    return f"{signing_input}.{_b64(_mac(key, signing_input))}"


def open_grant(token: Any, keys: dict[str, str], now: float) -> dict[str, Any]:
    """The claims of a grant signed by one of ``keys`` (kid -> key) and not expired at ``now``.

    The signature is checked before the claims are parsed; every malformed token is
    :class:`PeerGrantInvalid`, an expired one :class:`PeerGrantExpired`.
    """
    if not isinstance(token, str) or not 0 < len(token) <= MAX_GRANT_CHARS:
        raise PeerGrantInvalid(f"a grant is a string of at most {MAX_GRANT_CHARS} characters", field="grant")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != GRANT_PREFIX:
        raise PeerGrantInvalid("not a peer grant (pg1.<claims>.<signature>)", field="grant")
    try:
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, RecursionError):  # bad base64, UTF-8 or JSON
        raise PeerGrantInvalid("the grant is malformed", field="grant") from None
    if not isinstance(claims, dict) or not isinstance(claims.get("kid"), str):
        raise PeerGrantInvalid("the grant is malformed", field="grant")
    key = keys.get(claims["kid"])
    # a kid not among the keys and a wrong signature read the same to the caller
    expected = _mac(key if key is not None else _secrets.token_hex(16), f"{parts[0]}.{parts[1]}")
    if key is None or not hmac.compare_digest(expected, signature):
        raise PeerGrantInvalid("the grant's signature does not match", field="grant")
    for name, kind in (("room", str), ("peer", str), ("tenant", str), ("rights", list), ("exp", int),
                       ("iat", int), ("jti", str)):
        if not isinstance(claims.get(name), kind) or isinstance(claims.get(name), bool):
            raise PeerGrantInvalid(f"the grant's {name} is malformed", field="grant")
    if claims["exp"] <= now:
        raise PeerGrantExpired(f"the grant expired {int(now - claims['exp'])} s ago", field="grant")
    return claims


@dataclass(frozen=True, slots=True)
class PeerKeys:
    """The TURN shared secrets and the grant keys, current and previous (None before the first rotation)."""

    generation: int
    rotated_at: int
    turn: str
    grant: str
    previous_turn: str | None = None
    previous_grant: str | None = None

    @classmethod
    def new(cls, now: int) -> PeerKeys:
        return cls(1, now, _secrets.token_urlsafe(32), _secrets.token_urlsafe(32))

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> PeerKeys:
        return cls(int(doc["generation"]), int(doc["rotated_at"]), str(doc["turn"]), str(doc["grant"]),
                   doc.get("previous_turn") or None, doc.get("previous_grant") or None)

    def to_doc(self) -> dict[str, Any]:
        return {"generation": self.generation, "rotated_at": self.rotated_at, "turn": self.turn, "grant": self.grant,
                "previous_turn": self.previous_turn or "", "previous_grant": self.previous_grant or ""}

    def rotated(self, now: int) -> PeerKeys:
        return PeerKeys(self.generation + 1, now, _secrets.token_urlsafe(32), _secrets.token_urlsafe(32),
                        self.turn, self.grant)

    @property
    def kid(self) -> str:
        return str(self.generation)

    def grant_keys(self) -> dict[str, str]:
        keys = {self.kid: self.grant}
        if self.previous_grant:
            keys[str(self.generation - 1)] = self.previous_grant
        return keys


def _cause(exc: BaseException) -> BaseException:
    """A service's own error for one that arrived wrapped (a Ray actor's error)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, AriaError) else exc


def _status(exc: BaseException) -> int | None:
    cause = _cause(exc)
    return cause.status if isinstance(cause, AriaError) else None


def _room(row: Any) -> dict[str, Any]:
    return {"id": str(row["id"]), "tenant": row["tenant"], "name": row["name"], "created_by": row["created_by"],
            "created_at": row["created_at"]}


def _member(row: Any) -> dict[str, Any]:
    return {"user_id": row["user_id"], "rights": list(row["rights"]), "added_by": row["added_by"],
            "added_at": row["added_at"]}


def _q(name: str) -> str:
    return _SQL(name).replace("{room_columns}", "\n".join(
        line for line in _SQL("room_columns").splitlines() if not line.lstrip().startswith("--")))


class PeerGrants:
    """Mixed into :class:`~aria_actors.auth.service.AuthService` next to
    :class:`~aria_actors.auth.accounts.Accounts` (same pool, aria_security client, settings)."""

    _peer_keys: PeerKeys | None = None
    _peer_keys_at: float = 0.0
    _peer_lock: asyncio.Lock | None = None
    _peer_rotator: asyncio.Task[None] | None = None

    async def _start_peers(self) -> None:
        """Called by the service's start once the database and aria_security are attached."""
        for uri in self.config.peer_turn_uris:  # type: ignore[attr-defined]
            if not TURN_URI.fullmatch(uri):
                raise ValueError(f"peer_turn_uris: {uri!r} is not a turn:, turns:, stun: or stuns: URI")
        self._peer_lock = asyncio.Lock()
        self._peer_rotator = periodic(ROTATION_CHECK_S, self._rotate_if_due, what="rotating the WebRTC secrets",
                                      log=log)

    async def _stop_peers(self) -> None:
        """Called by the service's stop before the pool closes."""
        await stop_task(self._peer_rotator)
        self._peer_rotator = None

    # -- keys ----------------------------------------------------------------------------------------
    async def _keys(self, *, fresh: bool = False) -> PeerKeys:
        """The keys (cached for KEY_CACHE_S), created in aria_security on first use."""
        cached = self._peer_keys
        if cached is not None and not fresh and time.monotonic() - self._peer_keys_at < KEY_CACHE_S:
            return cached
        if self._peer_lock is None:
            self._peer_lock = asyncio.Lock()
        async with self._peer_lock:
            keys = await self._read_keys()
            if keys is None:
                try:  # cas=0: written only if absent, so two replicas starting together keep one
                    await self._kv_put(PeerKeys.new(int(time.time())), cas=0)
                except Exception as exc:
                    if _status(exc) != 409:  # cas refused: another replica wrote first
                        raise
                keys = await self._read_keys()
                if keys is None:
                    raise AuthError("the WebRTC keys could not be created in aria_security")
            self._peer_keys, self._peer_keys_at = keys, time.monotonic()
            return keys

    async def _read_keys(self) -> PeerKeys | None:
        try:
            doc = await self._security.kv_get(ME, KEY_PATH, service=SERVICE)  # type: ignore[attr-defined]
        except Exception as exc:
            if _status(exc) == 404:
                return None
            raise
        return PeerKeys.from_doc(doc)

    async def _kv_put(self, keys: PeerKeys, *, cas: int | None = None) -> None:
        await self._security.kv_put(ME, KEY_PATH, keys.to_doc(), cas=cas, service=SERVICE)  # type: ignore[attr-defined]

    async def _rotate(self) -> PeerKeys:
        current = await self._keys(fresh=True)
        assert self._peer_lock is not None  # _keys made it
        async with self._peer_lock:
            await self._kv_put(current.rotated(int(time.time())))
        keys = await self._keys(fresh=True)  # what is stored (another replica may have rotated too)
        log.info("WebRTC secrets rotated to generation %s", keys.generation)
        return keys

    async def _rotate_if_due(self) -> None:
        keys = await self._keys(fresh=True)
        if time.time() - keys.rotated_at >= self.config.peer_secret_rotate_s:  # type: ignore[attr-defined]
            await self._rotate()

    # -- rooms ---------------------------------------------------------------------------------------
    def _scope(self, caller: Principal) -> str | None:
        return access.rls_tenant(caller, SESSION_WRITE, "session")

    async def _room_row(self, caller: Principal, room: uuid.UUID) -> Any:
        async def fetch(conn: asyncpg.Connection) -> tuple[Any, Any]:
            row = await conn.fetchrow(_q("room"), room)
            member = await conn.fetchrow(_q("member"), room, caller.subject) if row is not None else None
            return row, member
        return await self._tx(fetch, tenant=self._scope(caller), readonly=True)  # type: ignore[attr-defined]

    @staticmethod
    def _resource(caller: Principal, row: Any, *, owned: bool) -> dict[str, Any]:
        """The room as an RBAC resource. The empty tenant is no tenant to RBAC (None matches any), so
        a room of another tenant than the caller's is named by a tenant only ``@any`` matches."""
        tenant = row["tenant"] or None if (caller.tenant or "") == row["tenant"] else access.ALL_TENANTS
        return {"type": "session", "tenant": tenant, **({"owner": row["created_by"]} if owned else {})}

    def _manages(self, caller: Principal, row: Any) -> bool:
        """The creator (through ``@own``) or a holder of interface:session:write on the room's tenant."""
        return access.gate().allowed(caller, SESSION_WRITE, self._resource(caller, row, owned=True))

    def _moderates(self, caller: Principal, row: Any) -> bool:
        """interface:session:write on the room's tenant itself (``@own`` does not reach a room of another)."""
        return access.gate().allowed(caller, SESSION_WRITE, self._resource(caller, row, owned=False))

    async def _visible_room(self, caller: Principal, room_id: Any, *, manage: bool = False) -> tuple[Any, Any]:
        """The room and the caller's membership, once the caller may see (``manage``: manage) it; else 404."""
        room = room_uuid(room_id)
        row, member = await self._room_row(caller, room)
        if row is None:
            raise PeerRoomNotFound(room=str(room))
        allowed = self._manages(caller, row) if manage else (member is not None or self._moderates(caller, row))
        if not allowed:
            if member is not None:  # a member may see the room, so saying "not yours to manage" tells nothing
                raise Forbidden("only the room's creator or a holder of interface:session:write on its tenant "
                                "manages its members", room=str(room))
            raise PeerRoomNotFound(room=str(room))
        return row, member

    @rpc(SESSION_WRITE, scope="own", feature=FEATURE)
    async def create_peer_room(self, caller: Principal, name: str) -> dict[str, Any]:
        """A new room of the caller's tenant; the caller (a user's session) is its first member, with every right."""
        user = access.require_session(caller)
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_ROOM_NAME:
            raise InvalidPeerRequest(f"name must be 1-{MAX_ROOM_NAME} characters", field="name")
        tenant = caller.tenant or ""

        async def create(conn: asyncpg.Connection) -> tuple[Any, Any]:
            row = await conn.fetchrow(_q("insert_room"), uuid.uuid4(), tenant, name.strip(), user)
            member = await conn.fetchrow(_q("upsert_member"), row["id"], tenant, user, list(RIGHTS), user)
            return row, member
        row, member = await self._tx(create, tenant=tenant or None)  # type: ignore[attr-defined]
        return {**_room(row), "members": [_member(member)]}

    @rpc(SESSION_READ, scope="own", feature=FEATURE)
    async def list_peer_rooms(self, caller: Principal) -> list[dict[str, Any]]:
        """The rooms the caller is a member of (newest first, at most 200), with the caller's rights."""
        rows = await self._tx(lambda conn: conn.fetch(_q("rooms_of"), caller.subject, ROOMS_LISTED),  # type: ignore[attr-defined]
                              tenant=self._scope(caller), readonly=True)
        return [{**_room(r), "rights": list(r["rights"])} for r in rows]

    @rpc(SESSION_READ, scope="own", feature=FEATURE)
    async def get_peer_room(self, caller: Principal, room_id: str) -> dict[str, Any]:
        """A room and its members: for its members and holders of interface:session:write on its tenant."""
        row, _ = await self._visible_room(caller, room_id)
        members = await self._tx(lambda conn: conn.fetch(_q("members"), row["id"]),  # type: ignore[attr-defined]
                                 tenant=self._scope(caller), readonly=True)
        return {**_room(row), "members": [_member(m) for m in members]}

    @rpc(SESSION_WRITE, scope="own", feature=FEATURE)
    async def add_peer_member(self, caller: Principal, room_id: str, user_id: str,
                              rights: Collection[str] = RIGHTS) -> dict[str, Any]:
        """Let a user of the room's tenant join (or change its rights): the creator or a tenant moderator."""
        row, _ = await self._visible_room(caller, room_id, manage=True)
        rights = check_rights(rights)
        try:
            target = uuid.UUID(str(user_id)) if isinstance(user_id, str) and len(user_id) <= 64 else None
        except ValueError:
            target = None
        if target is None:
            raise InvalidPeerRequest("user_id must be a user id (a UUID)", field="user_id")
        limit = self.config.peer_room_max_members  # type: ignore[attr-defined]

        async def add(conn: asyncpg.Connection) -> Any:
            user = await conn.fetchrow(_q("user_tenant"), target)
            if user is None or user["tenant"] != row["tenant"] or user["disabled"]:
                raise InvalidPeerRequest("no such enabled user in the room's tenant", field="user_id")
            existing = await conn.fetchrow(_q("member"), row["id"], str(target))
            if existing is None and await conn.fetchval(_q("count_members"), row["id"]) >= limit:
                raise PeerRoomFull(limit=limit)
            return await conn.fetchrow(_q("upsert_member"), row["id"], row["tenant"], str(target), rights,
                                       caller.subject)
        # the user lookup reads aria_auth.users: confined to the room's tenant like the rest
        member = await self._tx(add, tenant=row["tenant"] or None)  # type: ignore[attr-defined]
        return _member(member)

    @rpc(SESSION_WRITE, scope="own", feature=FEATURE)
    async def remove_peer_member(self, caller: Principal, room_id: str, user_id: str) -> None:
        """Remove a member (the creator or a moderator; a member may remove itself). The creator stays."""
        row, member = await self._visible_room(caller, room_id)
        if not isinstance(user_id, str) or len(user_id) > 64:
            raise InvalidPeerRequest("user_id must be a user id", field="user_id")
        if not (user_id == caller.subject and member is not None) and not self._manages(caller, row):
            raise Forbidden("only the room's creator or a holder of interface:session:write on its tenant "
                            "removes other members", room=str(row["id"]))
        if user_id == row["created_by"]:
            raise InvalidPeerRequest("the room's creator cannot be removed: delete the room", field="user_id")
        removed = await self._tx(lambda conn: conn.execute(_q("delete_member"), row["id"], user_id),  # type: ignore[attr-defined]
                                 tenant=row["tenant"] or None)
        if removed.endswith(" 0"):
            raise PeerRoomNotFound(f"{user_id} is not a member of room {row['id']}", room=str(row["id"]))

    @rpc(SESSION_WRITE, scope="own", feature=FEATURE)
    async def delete_peer_room(self, caller: Principal, room_id: str) -> None:
        """Delete a room and its memberships (the creator or a moderator); grants for it stop joining."""
        row, _ = await self._visible_room(caller, room_id, manage=True)
        await self._tx(lambda conn: conn.execute(_q("delete_room"), row["id"]),  # type: ignore[attr-defined]
                       tenant=row["tenant"] or None)

    # -- grants --------------------------------------------------------------------------------------
    @rpc(SESSION_WRITE, scope="own", feature=FEATURE)
    async def create_peer_grant(self, caller: Principal, room_id: str,
                                rights: Collection[str] | None = None) -> dict[str, Any]:
        """A short-lived grant for the caller (a user's session) to join the room on the WebSocket channel,
        with ``rights`` (default: all the caller's; never more than its membership holds)."""
        peer = access.require_session(caller)
        row, member = await self._visible_room(caller, room_id)
        held = list(member["rights"]) if member is not None else list(RIGHTS)  # else: a moderator
        wanted = held if rights is None else check_rights(rights)
        if beyond := sorted(set(wanted) - set(held)):
            raise Forbidden(f"your membership of this room does not hold {beyond}", rights=beyond)
        keys = await self._keys()
        now = int(time.time())
        ttl = self.config.peer_grant_ttl_s  # type: ignore[attr-defined]
        claims = {"room": str(row["id"]), "peer": peer, "tenant": row["tenant"], "rights": sorted(wanted),
                  "iat": now, "exp": now + ttl, "jti": _secrets.token_urlsafe(12),
                  "mod": member is None}
        return {"grant": sign_grant(keys.kid, keys.grant, claims), "room": claims["room"], "peer": peer,
                "rights": claims["rights"], "expires_at": claims["exp"], "ttl": ttl}

    @rpc(feature=FEATURE)
    async def verify_peer_grant(self, caller: Principal, grant: str, room_id: str) -> dict[str, Any]:
        """The grant's room, peer and rights, if it is valid for the caller to join ``room_id`` now.

        aria_interface calls this as the WebSocket connection's principal: only the peer the grant
        names may use it. The membership is checked again (removed members are refused).
        """
        room = str(room_uuid(room_id))
        keys = await self._keys()
        try:
            claims = open_grant(grant, keys.grant_keys(), time.time())
        except PeerGrantInvalid:
            keys = await self._keys(fresh=True)  # another replica may have rotated since the cache
            claims = open_grant(grant, keys.grant_keys(), time.time())
        if claims["room"] != room:
            raise PeerGrantMismatch("the grant is for another room", field="room")
        if not caller.subject or claims["peer"] != caller.subject:
            raise PeerGrantMismatch("the grant names another peer: each peer joins with its own grant", field="peer")
        if claims["tenant"] != (caller.tenant or ""):
            raise PeerGrantMismatch("the grant is for another tenant", field="tenant")
        row, member = await self._room_row(caller, uuid.UUID(room))
        if row is None:
            raise PeerRoomNotFound(room=room)
        held = set(member["rights"]) if member is not None else (set(RIGHTS) if self._moderates(caller, row)
                                                                  else set())
        if not set(claims["rights"]) <= held:
            raise PeerGrantMismatch("the grant's rights are no longer yours in this room", field="rights")
        return {"room": room, "room_name": row["name"], "peer": claims["peer"], "tenant": claims["tenant"],
                "rights": claims["rights"], "expires_at": claims["exp"]}

    # -- TURN ----------------------------------------------------------------------------------------
    @rpc(SESSION_WRITE, scope="own", feature=FEATURE)
    async def turn_credentials(self, caller: Principal, ttl_s: int | None = None) -> dict[str, Any]:
        """TURN REST credentials for the caller (``username``, ``password``, ``ttl``, ``uris``)."""
        user = access.require_session(caller)
        if ":" in user:
            raise InvalidPeerRequest("a user id with ':' cannot be put in a TURN username", field="caller")
        limit = self.config.peer_turn_ttl_s  # type: ignore[attr-defined]
        if ttl_s is None:
            ttl_s = limit
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or not 60 <= ttl_s <= limit:
            raise InvalidPeerRequest(f"ttl_s must be 60-{limit}", field="ttl_s")
        keys = await self._keys()
        username = turn_username(int(time.time()) + ttl_s, user)
        return {"username": username, "password": turn_password(keys.turn, username), "ttl": ttl_s,
                "uris": list(self.config.peer_turn_uris)}  # type: ignore[attr-defined]

    @rpc("auth:peer:secret", scope="any", feature=FEATURE)
    async def turn_secrets(self, caller: Principal) -> dict[str, Any]:
        """The TURN shared secrets, for coturn's two ``static-auth-secret`` lines (administrators)."""
        keys = await self._keys(fresh=True)
        return {"current": keys.turn, "previous": keys.previous_turn, "generation": keys.generation,
                "rotated_at": keys.rotated_at,
                "next_rotation_at": keys.rotated_at + self.config.peer_secret_rotate_s}  # type: ignore[attr-defined]

    @rpc("auth:peer:rotate", scope="any", feature=FEATURE)
    async def rotate_peer_secrets(self, caller: Principal) -> dict[str, Any]:
        """Rotate the TURN secret and the grant key now; the previous ones stay valid until the next rotation."""
        keys = await self._rotate()
        return {"generation": keys.generation, "rotated_at": keys.rotated_at}
