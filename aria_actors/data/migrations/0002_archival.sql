-- Time-partitioned tables that aria_data keeps partitions for (aria_actors/data/archival.py).
CREATE SCHEMA IF NOT EXISTS aria_archive;

CREATE TABLE aria_data.partitioned_tables (
    table_name      text PRIMARY KEY,             -- "schema.table", partitioned BY RANGE (time)
    period          text NOT NULL CHECK (period IN ('day', 'month')),
    premake         integer NOT NULL DEFAULT 2 CHECK (premake BETWEEN 0 AND 366),
    hot_days        integer CHECK (hot_days > 0),        -- detach to aria_archive after; NULL never
    retention_days  integer CHECK (retention_days > 0),  -- drop after; NULL: the setting
    registered_at   timestamptz NOT NULL DEFAULT now()
);
