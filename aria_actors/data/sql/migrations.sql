-- Named queries of the migrator (aria_actors/data/migrations.py). Blocks start with "-- name: x".

-- name: bootstrap
-- Run under the migrations advisory lock: concurrent CREATE ... IF NOT EXISTS can still collide.
CREATE SCHEMA IF NOT EXISTS aria_data;
CREATE TABLE IF NOT EXISTS aria_data.schema_migrations (
    service     text        NOT NULL,
    version     integer     NOT NULL,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (service, version)
);

-- name: table_exists
SELECT to_regclass('aria_data.schema_migrations') IS NOT NULL;

-- name: applied
SELECT service, version, name, checksum, applied_at
FROM aria_data.schema_migrations
WHERE service = ANY($1::text[])
ORDER BY service, version;

-- name: record
INSERT INTO aria_data.schema_migrations (service, version, name, checksum)
VALUES ($1, $2, $3, $4)
RETURNING applied_at;

-- name: forget
DELETE FROM aria_data.schema_migrations WHERE service = $1 AND version = $2;

-- name: lock
SELECT pg_advisory_lock($1);

-- name: unlock
SELECT pg_advisory_unlock($1);

-- The fragments below name a service's schema, chosen at run time: migrations.py fills {schema}
-- with sql_files.ident(), as an identifier cannot be a bind parameter.

-- name: create_schema
CREATE SCHEMA IF NOT EXISTS {schema};

-- name: search_path
SET LOCAL search_path TO {schema}, public;
