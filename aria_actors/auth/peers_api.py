"""REST routes of aria_auth's peers part (WebRTC rooms, peer grants, TURN credentials), included into
:mod:`aria_actors.auth.api` (``/v1/auth``).

::

    POST   /v1/auth/peers/rooms                          create a room (you are its first member)
    GET    /v1/auth/peers/rooms                          the rooms you are a member of
    GET    /v1/auth/peers/rooms/{room_id}                a room and its members
    DELETE /v1/auth/peers/rooms/{room_id}                delete a room
    PUT    /v1/auth/peers/rooms/{room_id}/members/{user_id}   add a member (or change its rights)
    DELETE /v1/auth/peers/rooms/{room_id}/members/{user_id}   remove a member
    POST   /v1/auth/peers/grants                         a short-lived grant to join a room
    POST   /v1/auth/peers/grants/verify                  check a grant (as its peer)
    GET    /v1/auth/peers/turn                           TURN REST credentials
    GET    /v1/auth/peers/turn/secrets                   coturn's static-auth-secret lines (admins)
    POST   /v1/auth/peers/rotate                         rotate the TURN secret and the grant key (admins)

Guarantees and caveats
----------------------
- Who may act on which room is decided in the service (:mod:`aria_actors.auth.peers`), as the caller.
- TURN credentials and secrets are answered with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.auth.client import AuthClient
from aria_actors.runtime.http import permits, service_client
from aria_actors.runtime.principal import Principal

router = APIRouter(prefix="/v1/auth")  # full paths: aria_actors.auth.api adds these routes to its own
Client = Annotated[AuthClient, Depends(service_client(AuthClient))]
RoomId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$", description="A room id (UUID).")]
UserId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$", description="A user id (UUID).")]
Right = Literal["publish", "subscribe", "data"]
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoomIn(Body):
    name: str = Field(min_length=1, max_length=128)


class MemberIn(Body):
    rights: list[Right] = Field(default_factory=lambda: ["publish", "subscribe", "data"], min_length=1, max_length=3)


class GrantIn(Body):
    room: str = Field(pattern=r"^[0-9a-fA-F-]{36}$", description="The room id.")
    rights: list[Right] | None = Field(None, min_length=1, max_length=3,
                                       description="Default: every right your membership holds.")


class VerifyIn(Body):
    room: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    grant: str = Field(min_length=1, max_length=2048)


@router.post("/peers/rooms", status_code=201, summary="Create a WebRTC room (you are its first member)")
async def create_room(body: RoomIn, client: Client,
                      caller: Principal = permits(AuthClient.create_peer_room)) -> dict[str, Any]:
    return await client.create_peer_room(caller, body.name)


@router.get("/peers/rooms", summary="The WebRTC rooms you are a member of")
async def list_rooms(client: Client, caller: Principal = permits(AuthClient.list_peer_rooms)) -> list[dict[str, Any]]:
    return await client.list_peer_rooms(caller)


@router.get("/peers/rooms/{room_id}", summary="A WebRTC room and its members")
async def get_room(room_id: RoomId, client: Client,
                   caller: Principal = permits(AuthClient.get_peer_room)) -> dict[str, Any]:
    return await client.get_peer_room(caller, room_id)


@router.delete("/peers/rooms/{room_id}", status_code=204, summary="Delete a WebRTC room")
async def delete_room(room_id: RoomId, client: Client,
                      caller: Principal = permits(AuthClient.delete_peer_room)) -> Response:
    await client.delete_peer_room(caller, room_id)
    return Response(status_code=204)


@router.put("/peers/rooms/{room_id}/members/{user_id}", summary="Let a user join a WebRTC room (or change its rights)")
async def add_member(room_id: RoomId, user_id: UserId, body: MemberIn, client: Client,
                     caller: Principal = permits(AuthClient.add_peer_member)) -> dict[str, Any]:
    return await client.add_peer_member(caller, room_id, user_id, list(body.rights))


@router.delete("/peers/rooms/{room_id}/members/{user_id}", status_code=204, summary="Remove a member of a room")
async def remove_member(room_id: RoomId, user_id: UserId, client: Client,
                        caller: Principal = permits(AuthClient.remove_peer_member)) -> Response:
    await client.remove_peer_member(caller, room_id, user_id)
    return Response(status_code=204)


@router.post("/peers/grants", status_code=201, summary="A short-lived grant to join a WebRTC room on the channel")
async def create_grant(body: GrantIn, response: Response, client: Client,
                       caller: Principal = permits(AuthClient.create_peer_grant)) -> dict[str, Any]:
    response.headers.update(NO_STORE)
    return await client.create_peer_grant(caller, body.room, None if body.rights is None else list(body.rights))


@router.post("/peers/grants/verify", summary="Check a peer grant (only the peer it names may)")
async def verify_grant(body: VerifyIn, client: Client,
                       caller: Principal = permits(AuthClient.verify_peer_grant)) -> dict[str, Any]:
    return await client.verify_peer_grant(caller, body.grant, body.room)


@router.get("/peers/turn", summary="TURN REST credentials: username, password, ttl, uris")
async def turn(response: Response, client: Client,
               ttl: int | None = Query(None, ge=60, le=86400, description="Default: the configured lifetime."),
               caller: Principal = permits(AuthClient.turn_credentials)) -> dict[str, Any]:
    response.headers.update(NO_STORE)
    return await client.turn_credentials(caller, ttl)


@router.get("/peers/turn/secrets", summary="The TURN shared secrets, current and previous (administrators)")
async def turn_secrets(response: Response, client: Client,
                       caller: Principal = permits(AuthClient.turn_secrets)) -> dict[str, Any]:
    response.headers.update(NO_STORE)
    return await client.turn_secrets(caller)


@router.post("/peers/rotate", summary="Rotate the TURN secret and the grant key now (administrators)")
async def rotate(client: Client, caller: Principal = permits(AuthClient.rotate_peer_secrets)) -> dict[str, Any]:
    return await client.rotate_peer_secrets(caller)
