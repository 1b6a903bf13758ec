-- aria_auth resource grants: resources (kind, id) with a tenant and an owner, groups of users,
-- and per-resource grants (owner|editor|viewer, allow|deny) to a user, a group or a tenant.
-- grants_version is bumped by a trigger in the same transaction as any change of these tables
-- (cascades from a deleted user or group included), so a replica that polls it never misses one.
CREATE TABLE resources (
    kind        text NOT NULL CHECK (kind IN ('character', 'asset', 'workflow', 'model')),
    id          text NOT NULL CHECK (length(id) BETWEEN 1 AND 128),
    tenant      text NOT NULL DEFAULT '',
    owner_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, id)
);

CREATE TABLE groups (
    id          uuid PRIMARY KEY,
    tenant      text NOT NULL DEFAULT '',
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX groups_tenant_name ON groups (tenant, lower(name));

CREATE TABLE group_members (
    group_id    uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- subject is user:<uuid>, group:<uuid> or tenant:<name>; user_id / group_id repeat the id of the
-- first two so that deleting the user or the group deletes its grants.
CREATE TABLE grants (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL,
    resource_id  text NOT NULL,
    subject      text NOT NULL,
    user_id      uuid REFERENCES users (id) ON DELETE CASCADE,
    group_id     uuid REFERENCES groups (id) ON DELETE CASCADE,
    relation     text NOT NULL CHECK (relation IN ('owner', 'editor', 'viewer')),
    effect       text NOT NULL DEFAULT 'allow' CHECK (effect IN ('allow', 'deny')),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (kind, resource_id) REFERENCES resources (kind, id) ON DELETE CASCADE,
    CHECK ((subject LIKE 'user:%') = (user_id IS NOT NULL)),
    CHECK ((subject LIKE 'group:%') = (group_id IS NOT NULL))
);
CREATE UNIQUE INDEX grants_unique ON grants (kind, resource_id, subject, relation, effect);
CREATE INDEX grants_user ON grants (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX grants_group ON grants (group_id) WHERE group_id IS NOT NULL;

-- One row (id = 1); absent reads as version 0 (a TRUNCATE of every table empties it too).
CREATE TABLE grants_version (
    id       integer PRIMARY KEY CHECK (id = 1),
    version  bigint NOT NULL
);

-- SECURITY DEFINER: a change made in a tenant transaction (role aria_tenant, which has no
-- privilege on grants_version), a user deleted by a tenant administrator say, still bumps it.
CREATE FUNCTION grants_bump() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The row lock orders concurrent writers, so versions follow commit order.
    INSERT INTO aria_auth.grants_version (id, version) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET version = aria_auth.grants_version.version + 1;
    PERFORM pg_notify('aria_auth_grants', '');
    RETURN NULL;
END $$;

CREATE TRIGGER resources_bump AFTER INSERT OR UPDATE OR DELETE ON resources
    FOR EACH STATEMENT EXECUTE FUNCTION grants_bump();
CREATE TRIGGER groups_bump AFTER INSERT OR UPDATE OR DELETE ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION grants_bump();
CREATE TRIGGER group_members_bump AFTER INSERT OR UPDATE OR DELETE ON group_members
    FOR EACH STATEMENT EXECUTE FUNCTION grants_bump();
CREATE TRIGGER grants_bump AFTER INSERT OR UPDATE OR DELETE ON grants
    FOR EACH STATEMENT EXECUTE FUNCTION grants_bump();
