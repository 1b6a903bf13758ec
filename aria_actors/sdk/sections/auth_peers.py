"""``aria.auth``'s WebRTC peers (rooms, grants, TURN credentials) and the revoked-session feed."""

from __future__ import annotations

from typing import Any

from aria_actors.sdk.section import Req, Section, route
from aria_actors.sdk.sections._util import body


class PeersSDK(Section):
    @route("POST", "/v1/auth/peers/rooms")
    def create_peer_room(self, name: str) -> dict[str, Any]:
        """A WebRTC room you own (and are a member of with every right)."""
        return Req(json={"name": name})

    @route("GET", "/v1/auth/peers/rooms")
    def list_peer_rooms(self) -> list[dict[str, Any]]:
        return Req()

    @route("GET", "/v1/auth/peers/rooms/{room_id}")
    def get_peer_room(self, room_id: str) -> dict[str, Any]:
        return Req(path={"room_id": room_id})

    @route("DELETE", "/v1/auth/peers/rooms/{room_id}")
    def delete_peer_room(self, room_id: str) -> None:
        return Req(path={"room_id": room_id})

    @route("PUT", "/v1/auth/peers/rooms/{room_id}/members/{user_id}")
    def add_peer_member(self, room_id: str, user_id: str, rights: list[str] | None = None) -> dict[str, Any]:
        """Let a user of the room's tenant in, with ``rights`` (publish, subscribe, data)."""
        return Req(path={"room_id": room_id, "user_id": user_id}, json=body(rights=rights))

    @route("DELETE", "/v1/auth/peers/rooms/{room_id}/members/{user_id}")
    def remove_peer_member(self, room_id: str, user_id: str) -> None:
        return Req(path={"room_id": room_id, "user_id": user_id})

    @route("POST", "/v1/auth/peers/grants")
    def create_peer_grant(self, room: str, rights: list[str] | None = None) -> dict[str, Any]:
        """A short-lived grant to join ``room`` over aria_interface's signalling."""
        return Req(json=body(room=room, rights=rights))

    @route("POST", "/v1/auth/peers/grants/verify")
    def verify_peer_grant(self, room: str, grant: str) -> dict[str, Any]:
        return Req(json={"room": room, "grant": grant})

    @route("GET", "/v1/auth/peers/turn")
    def turn_credentials(self, ttl: int | None = None) -> dict[str, Any]:
        """TURN REST credentials (username, password, ttl, uris) for your peer connections."""
        return Req(params={"ttl": ttl})

    @route("GET", "/v1/auth/peers/turn/secrets")
    def turn_secrets(self) -> dict[str, Any]:
        """The TURN shared secrets in force (administrators: for coturn's static-auth-secret)."""
        return Req()

    @route("POST", "/v1/auth/peers/rotate")
    def rotate_peer_secrets(self) -> dict[str, Any]:
        return Req()

    @route("GET", "/v1/auth/revocations")
    def revocations(self, cursor: str | None = None) -> dict[str, Any]:
        """Sessions and clients ended since ``cursor`` (the gateway's feed)."""
        return Req(params={"cursor": cursor})
