-- aria_shape 0002: what the service serves (the promoted version, a running A/B split) and the
-- split's per-version metrics, so that a restarted actor serves what the one before it served.
-- Runs with search_path = aria_shape, public.

-- One row (id is always true). `version` has no foreign key: 'base', the configured model, has no
-- row in model_versions. `weights` keeps the routing order ([[version, weight], ...]; jsonb objects
-- do not keep key order, and sticky keys depend on it); NULL when no A/B test runs.
CREATE TABLE aria_shape.serving (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    version     text NOT NULL DEFAULT 'base',
    weights     jsonb CHECK (weights IS NULL OR jsonb_typeof(weights) = 'array'),
    seed        bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Metrics of the running A/B split, one row per version of the split; replaced with the split.
-- Counters are flushed from the actor's memory in batches; feedback is added per call.
CREATE TABLE aria_shape.ab_metrics (
    version         text PRIMARY KEY,
    requests        bigint NOT NULL DEFAULT 0,
    tokens          bigint NOT NULL DEFAULT 0,
    seconds         double precision NOT NULL DEFAULT 0,
    feedback_count  bigint NOT NULL DEFAULT 0,
    feedback_sum    double precision NOT NULL DEFAULT 0
);
