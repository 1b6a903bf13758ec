-- WebRTC rooms and who may join them (aria_actors/auth/peers.py). A peer grant is issued only to a
-- member of the room, for at most the rights its membership holds; removing a member stops new
-- grants and the joins of grants already issued (the join re-checks membership).
CREATE TABLE peer_rooms (
    id          uuid PRIMARY KEY,
    tenant      text NOT NULL DEFAULT '',
    name        text NOT NULL,
    created_by  text NOT NULL,                       -- the creator's user id: a member with every right
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX peer_rooms_created_by ON peer_rooms (created_by);

CREATE TABLE peer_room_members (
    room_id   uuid NOT NULL REFERENCES peer_rooms (id) ON DELETE CASCADE,
    tenant    text NOT NULL DEFAULT '',              -- the room's: row-level security confines it too
    user_id   text NOT NULL,
    rights    text[] NOT NULL,                       -- a subset of {publish, subscribe, data}
    added_by  text NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX peer_room_members_user ON peer_room_members (user_id);

SELECT aria_data.enable_tenant_isolation('aria_auth.peer_rooms', 'tenant');
SELECT aria_data.enable_tenant_isolation('aria_auth.peer_room_members', 'tenant');
