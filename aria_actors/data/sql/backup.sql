-- Named queries of backup/restore (aria_actors/data/backup.py).

-- name: user_tables
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%'
  AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY 1, 2;

-- name: ensure_tenant_role
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aria_tenant') THEN
        CREATE ROLE aria_tenant NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- name: table_digest
-- {table} is a table found by user_tables, filled in by backup.py with sql_files.ident(): an
-- identifier cannot be a bind parameter.
SELECT count(*) AS n, coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '') AS h
FROM {table} t;
