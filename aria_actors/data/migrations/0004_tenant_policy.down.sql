-- Back to 0001's enable_tenant_isolation(regclass): one FORCEd policy for every role, on a
-- `tenant_id` column. Tables isolated on a `tenant_id` column get that policy again; tables
-- isolated on another column cannot have it: revert their service's migration first.
DROP FUNCTION aria_data.disable_tenant_isolation(regclass);
DROP FUNCTION aria_data.enable_tenant_isolation(regclass, name);

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

DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT p.polrelid::regclass FROM pg_policy p
              WHERE p.polname = 'tenant_isolation'
                AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = p.polrelid
                              AND a.attname = 'tenant_id' AND NOT a.attisdropped) LOOP
        PERFORM aria_data.enable_tenant_isolation(t);
    END LOOP;
END
$$;
