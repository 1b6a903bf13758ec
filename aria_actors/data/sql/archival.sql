-- Named queries of time-partition maintenance (aria_actors/data/archival.py).

-- name: register
INSERT INTO aria_data.partitioned_tables (table_name, period, premake, hot_days, retention_days)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (table_name) DO UPDATE
   SET period = EXCLUDED.period, premake = EXCLUDED.premake,
       hot_days = EXCLUDED.hot_days, retention_days = EXCLUDED.retention_days;

-- name: registered
SELECT table_name, period, premake, hot_days, retention_days
FROM aria_data.partitioned_tables ORDER BY table_name;

-- name: attached
-- Partitions currently attached to the parent "schema"."table".
SELECT n.nspname AS schema, c.relname AS name
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.inhparent = to_regclass($1);

-- name: archived
-- Detached partitions of a parent, kept in aria_archive under the same name.
SELECT 'aria_archive' AS schema, c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'aria_archive' AND c.relkind = 'r' AND c.relname LIKE $1;

-- name: relkind
SELECT c.relkind::text FROM pg_class c WHERE c.oid = to_regclass($1);

-- name: registry_exists
SELECT to_regclass('aria_data.partitioned_tables') IS NOT NULL;

-- The fragments below name tables chosen at run time: identifiers and partition bounds cannot be
-- bind parameters, so archival.py fills each {placeholder} with sql_files.ident() / literal().

-- name: drop_table
DROP TABLE {table};

-- name: detach_partition
ALTER TABLE {parent} DETACH PARTITION {partition};

-- name: set_schema
ALTER TABLE {table} SET SCHEMA {schema};

-- name: create_partition
CREATE TABLE {partition} PARTITION OF {parent} FOR VALUES FROM ({start}) TO ({end});
