-- aria_auth's WebRTC rooms (aria_actors/auth/peers.py; tables of migration 0007_peers).

-- name: room_columns
-- A room row as the service returns it.
r.id, r.tenant, r.name, r.created_by, r.created_at

-- name: insert_room
INSERT INTO aria_auth.peer_rooms AS r (id, tenant, name, created_by)
VALUES ($1, $2, $3, $4)
RETURNING {room_columns};

-- name: room
SELECT {room_columns} FROM aria_auth.peer_rooms r WHERE r.id = $1;

-- name: delete_room
DELETE FROM aria_auth.peer_rooms WHERE id = $1;

-- name: rooms_of
-- The rooms a user is a member of, newest first.
SELECT {room_columns}, m.rights
FROM aria_auth.peer_rooms r JOIN aria_auth.peer_room_members m ON m.room_id = r.id
WHERE m.user_id = $1
ORDER BY r.created_at DESC, r.id
LIMIT $2;

-- name: members
SELECT user_id, rights, added_by, added_at
FROM aria_auth.peer_room_members WHERE room_id = $1
ORDER BY added_at, user_id;

-- name: member
SELECT user_id, rights, added_by, added_at
FROM aria_auth.peer_room_members WHERE room_id = $1 AND user_id = $2;

-- name: count_members
SELECT count(*) FROM aria_auth.peer_room_members WHERE room_id = $1;

-- name: upsert_member
INSERT INTO aria_auth.peer_room_members (room_id, tenant, user_id, rights, added_by)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (room_id, user_id) DO UPDATE SET rights = EXCLUDED.rights, added_by = EXCLUDED.added_by
RETURNING user_id, rights, added_by, added_at;

-- name: delete_member
DELETE FROM aria_auth.peer_room_members WHERE room_id = $1 AND user_id = $2;

-- name: user_tenant
-- The tenant of a user (a member must be a user of the room's tenant).
SELECT tenant, disabled FROM aria_auth.users WHERE id = $1;
