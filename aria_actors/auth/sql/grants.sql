-- aria_auth's resource grants (schema aria_auth, migration 0005), one statement per function of
-- aria_actors/auth/grants_store.py. Every change fires grants_bump (the version replicas poll).

-- name: version
SELECT coalesce((SELECT version FROM aria_auth.grants_version WHERE id = 1), 0);

-- name: lock_version
-- The first statement of every change: locks the version row (so changes serialise and versions
-- follow commit order) and returns the version before the change.
INSERT INTO aria_auth.grants_version (id, version) VALUES (1, 0)
ON CONFLICT (id) DO UPDATE SET version = aria_auth.grants_version.version
RETURNING version;

-- name: all_resources
SELECT kind, id, tenant, owner_id FROM aria_auth.resources;

-- name: all_grants
SELECT id, kind, resource_id, subject, relation, effect FROM aria_auth.grants;

-- name: all_groups
SELECT id, tenant, name FROM aria_auth.groups;

-- name: all_members
SELECT group_id, user_id FROM aria_auth.group_members;

-- name: resource
SELECT kind, id, tenant, owner_id, created_by, created_at FROM aria_auth.resources WHERE kind = $1 AND id = $2;

-- name: insert_resource
-- Registers the resource; an existing one is returned as it is (the caller compares its owner).
WITH added AS (
    INSERT INTO aria_auth.resources (kind, id, tenant, owner_id, created_by) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (kind, id) DO NOTHING
    RETURNING kind, id, tenant, owner_id, created_by, created_at, true AS created
)
SELECT * FROM added
UNION ALL
SELECT kind, id, tenant, owner_id, created_by, created_at, false FROM aria_auth.resources
WHERE kind = $1 AND id = $2 AND NOT EXISTS (SELECT 1 FROM added);

-- name: delete_resource
DELETE FROM aria_auth.resources WHERE kind = $1 AND id = $2;

-- name: insert_grant
-- An identical grant already there is returned instead (granting twice is one grant).
WITH added AS (
    INSERT INTO aria_auth.grants (id, kind, resource_id, subject, user_id, group_id, relation, effect, created_by)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (kind, resource_id, subject, relation, effect) DO NOTHING
    RETURNING id, kind, resource_id, subject, relation, effect, created_by, created_at
)
SELECT * FROM added
UNION ALL
SELECT id, kind, resource_id, subject, relation, effect, created_by, created_at FROM aria_auth.grants
WHERE kind = $2 AND resource_id = $3 AND subject = $4 AND relation = $7 AND effect = $8
  AND NOT EXISTS (SELECT 1 FROM added);

-- name: grant
SELECT id, kind, resource_id, subject, relation, effect, created_by, created_at
FROM aria_auth.grants WHERE id = $1 AND kind = $2 AND resource_id = $3;

-- name: delete_grant
DELETE FROM aria_auth.grants WHERE id = $1 AND kind = $2 AND resource_id = $3;

-- name: list_grants
-- One page, ordered by id; $4 is the last id of the previous page (NULL: the first page).
SELECT id, kind, resource_id, subject, relation, effect, created_by, created_at
FROM aria_auth.grants
WHERE kind = $1 AND resource_id = $2 AND ($3::uuid IS NULL OR id > $3)
ORDER BY id
LIMIT $4;

-- name: user_brief
SELECT id, tenant, roles, disabled FROM aria_auth.users WHERE id = $1;

-- name: insert_group
INSERT INTO aria_auth.groups (id, tenant, name) VALUES ($1, $2, $3)
RETURNING id, tenant, name, created_at;

-- name: group
SELECT id, tenant, name, created_at FROM aria_auth.groups WHERE id = $1;

-- name: list_groups
SELECT g.id, g.tenant, g.name, g.created_at,
       (SELECT count(*) FROM aria_auth.group_members m WHERE m.group_id = g.id) AS members
FROM aria_auth.groups g
WHERE ($1::text IS NULL OR g.tenant = $1) AND ($2::uuid IS NULL OR g.id > $2)
ORDER BY g.id
LIMIT $3;

-- name: delete_group
DELETE FROM aria_auth.groups WHERE id = $1;

-- name: add_member
INSERT INTO aria_auth.group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- name: remove_member
DELETE FROM aria_auth.group_members WHERE group_id = $1 AND user_id = $2;

-- name: list_members
SELECT u.id, u.username, u.tenant, m.added_at
FROM aria_auth.group_members m JOIN aria_auth.users u ON u.id = m.user_id
WHERE m.group_id = $1 AND ($2::uuid IS NULL OR u.id > $2)
ORDER BY u.id
LIMIT $3;
