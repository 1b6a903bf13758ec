-- Tenant isolation binds the tenant role only, and the tenant column is named by the caller.
--
-- 0001's enable_tenant_isolation FORCEd row-level security with one policy for every role. The
-- embedded server's login is a superuser and bypasses it; on an external server the service's
-- login is a plain role that owns its tables, and FORCE left it seeing no row outside a tenant
-- transaction: a service's cross-tenant work (an operator listing every tenant, a session's user
-- looked up by id) worked on one server and found nothing on the other. Now:
-- - the policy is `TO aria_tenant`: a tenant transaction (SET LOCAL ROLE aria_tenant, whatever
--   the login role) reads and writes only its tenant's rows, exactly as before;
-- - no FORCE: outside a tenant transaction the table's owner sees every row, as a superuser does,
--   so both kinds of login behave alike;
-- - any other role that is neither owner nor superuser meets no policy of its own and sees no row
--   (one that is a member of aria_tenant meets the tenant policy: rows of its current tenant).
DROP FUNCTION aria_data.enable_tenant_isolation(regclass);

-- Call it from a migration: SELECT aria_data.enable_tenant_isolation('aria_queue.jobs');
-- or, for a tenant column of another name: ('aria_auth.users', 'tenant').
CREATE FUNCTION aria_data.enable_tenant_isolation(tbl regclass, tenant_column name DEFAULT 'tenant_id')
    RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    nsp text;
BEGIN
    SELECT n.nspname INTO nsp FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl;
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s TO aria_tenant '
        'USING (%I = aria_data.current_tenant()) WITH CHECK (%I = aria_data.current_tenant())',
        tbl, tenant_column, tenant_column);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO aria_tenant', nsp);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO aria_tenant', tbl);
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO aria_tenant', nsp);
END
$$;

-- The reverse, for down migrations: no policy, no row-level security, no grant to aria_tenant on
-- the table (the schema's USAGE stays: other tables of the schema may still be isolated).
CREATE FUNCTION aria_data.disable_tenant_isolation(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
    EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('REVOKE ALL ON %s FROM aria_tenant', tbl);
END
$$;

-- Tables isolated by 0001's function (their column was always tenant_id) get the new policy.
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT polrelid::regclass FROM pg_policy WHERE polname = 'tenant_isolation' LOOP
        PERFORM aria_data.enable_tenant_isolation(t);
    END LOOP;
END
$$;
