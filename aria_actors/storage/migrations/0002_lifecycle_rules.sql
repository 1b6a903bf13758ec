-- Stored lifecycle rules: applied to every asset whose name starts with name_prefix.
CREATE TABLE lifecycle_rules (
    name_prefix   text PRIMARY KEY,
    keep_last     integer CHECK (keep_last IS NULL OR keep_last >= 1),
    older_than_s  double precision CHECK (older_than_s IS NULL OR older_than_s >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (keep_last IS NOT NULL OR older_than_s IS NOT NULL)
);
