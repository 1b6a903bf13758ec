-- aria_data's own schema: the tenant role and helpers every service uses, and the outbox.
-- Runs with search_path = aria_data, public.

-- Roles are cluster-wide: another database of the same cluster may create it at the same moment.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aria_tenant') THEN
        CREATE ROLE aria_tenant NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- The session user must be able to SET ROLE aria_tenant (superusers always can).
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'aria_tenant', 'MEMBER') THEN
        EXECUTE format('GRANT aria_tenant TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA aria_data TO aria_tenant;

-- The tenant of the current transaction, or NULL: SET LOCAL leaves '' behind once it ends.
CREATE FUNCTION aria_data.current_tenant() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('aria.tenant_id', true), '') $$;

-- Tenant isolation for a table with a `tenant_id text` column. Call it from a migration:
--   SELECT aria_data.enable_tenant_isolation('aria_queue.jobs');
-- FORCE makes the table's owner obey the policy too; superusers still bypass RLS, which is why
-- tenant transactions SET LOCAL ROLE aria_tenant.
CREATE FUNCTION aria_data.enable_tenant_isolation(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    nsp text;
BEGIN
    SELECT n.nspname INTO nsp FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl;
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s USING (tenant_id = aria_data.current_tenant()) '
        'WITH CHECK (tenant_id = aria_data.current_tenant())', tbl);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO aria_tenant', nsp);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO aria_tenant', tbl);
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO aria_tenant', nsp);
END
$$;

-- Transactional outbox: a row written in the same transaction as the change it announces,
-- delivered later (at least once) by aria_queue.
CREATE TABLE aria_data.outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic         text        NOT NULL CHECK (topic <> ''),
    key           text,
    payload       jsonb       NOT NULL,
    tenant_id     text        DEFAULT aria_data.current_tenant(),
    created_at    timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz,
    attempts      integer     NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON aria_data.outbox (id) WHERE delivered_at IS NULL;
GRANT INSERT, SELECT (id) ON aria_data.outbox TO aria_tenant;
GRANT USAGE ON SEQUENCE aria_data.outbox_id_seq TO aria_tenant;
