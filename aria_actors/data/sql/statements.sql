-- Named queries of statement statistics and index checks (aria_actors/data/statements.py).

-- name: preloaded
SELECT 'pg_stat_statements' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','));

-- name: installable
SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_stat_statements');

-- name: create_extension
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

-- name: extension_schema
SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_stat_statements';

-- name: table
-- A user table (plain or partitioned) named schema + name, never a catalog's.
SELECT c.oid, n.nspname AS schema, c.relname AS name, c.reltuples::bigint AS estimated_rows
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%';

-- name: columns
SELECT attname AS name, attgenerated <> '' AS generated
FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum;

-- name: tables_of_statement_nodes
-- The columns of the user tables a plan reads ($1: schema.name texts), for the caller to match filters.
SELECT n.nspname || '.' || c.relname AS relation, array_agg(a.attname ORDER BY a.attnum)::text[] AS columns
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname || '.' || c.relname = ANY ($1::text[])
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
GROUP BY n.nspname, c.relname;

-- name: param_count
SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = $1;

-- name: local_setting
SELECT set_config($1, $2, true);

-- name: current_search_path
SELECT current_setting('search_path');

-- The fragments below name the pg_stat_statements view, tables, copies, columns and prepared
-- statements chosen at run time: statements.py fills each {placeholder} with sql_files.ident().

-- name: statements
-- This database's statements, most total time first; $1 limit, $2 least calls.
SELECT s.queryid, s.query, s.calls, s.total_exec_time AS total_ms, s.mean_exec_time AS mean_ms,
       s.rows, s.shared_blks_hit + s.shared_blks_read AS blocks
FROM {view} s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.toplevel AND s.calls >= $2
ORDER BY s.total_exec_time DESC
LIMIT $1;

-- name: statement
SELECT s.queryid, s.query, s.calls, s.total_exec_time AS total_ms, s.mean_exec_time AS mean_ms, s.rows
FROM {view} s
WHERE s.queryid = $1 AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY s.calls DESC
LIMIT 1;

-- name: create_schema
CREATE SCHEMA {schema};

-- name: copy_table
CREATE UNLOGGED TABLE {copy} (LIKE {table} INCLUDING ALL);

-- name: fill_copy
-- A bounded sample: the first $1 rows the scan meets.
INSERT INTO {copy} ({columns}) OVERRIDING SYSTEM VALUE SELECT {columns} FROM {table} LIMIT $1;

-- name: analyze_copy
ANALYZE {copy};

-- name: create_index
CREATE INDEX {index} ON {copy} ({columns});

-- name: prepare
PREPARE {name} AS {statement};

-- name: explain_execute
EXPLAIN (FORMAT JSON, VERBOSE) EXECUTE {name}{args};

-- name: deallocate
DEALLOCATE {name};
