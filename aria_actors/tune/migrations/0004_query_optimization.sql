-- aria_tune 0004: query optimisation (queryopt.py). Runs with search_path = aria_tune, public.
-- Statements and indexes are the whole database's, not a tenant's: no tenant column, no tenant
-- isolation; the RPCs need @any permissions.

-- An index suggestion for a statement of pg_stat_statements (named by its queryid), checked by
-- aria_data on a sampled copy of the table: the planner's cost of the statement without and with
-- the index. One row per (statement, table, columns): a new check replaces the old result.
CREATE TABLE aria_tune.query_suggestions (
    id             bigserial PRIMARY KEY,
    queryid        text NOT NULL CHECK (queryid ~ '^-?[0-9]{1,20}$'),
    query          text NOT NULL,
    relation       text NOT NULL,
    columns        text[] NOT NULL CHECK (cardinality(columns) BETWEEN 1 AND 8),
    reason         text NOT NULL,
    cost_before    double precision NOT NULL,
    cost_after     double precision NOT NULL,
    index_used     boolean NOT NULL,
    verdict        text NOT NULL CHECK (verdict IN ('better', 'no-gain')),
    rows_sampled   bigint NOT NULL,
    estimated_rows bigint NOT NULL,
    calls          bigint,
    mean_ms        double precision,
    plan_before    jsonb NOT NULL CHECK (jsonb_typeof(plan_before) = 'array'),
    plan_after     jsonb NOT NULL CHECK (jsonb_typeof(plan_after) = 'array'),
    checked_by     text NOT NULL,
    checked_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (queryid, relation, columns)
);
CREATE INDEX query_suggestions_checked_idx ON aria_tune.query_suggestions (checked_at DESC, id DESC);

-- The self-check's table: filled through POST /v1/tune/queries/probe and read by a lookup on `k`,
-- which has no index on purpose, so the loop (statistics -> plan -> suggestion -> cheaper plan
-- on the copy) can be seen working on any deployment. Never read by anything else.
CREATE TABLE aria_tune.query_probe (
    id bigserial PRIMARY KEY,
    k  integer NOT NULL,
    v  text NOT NULL
);

-- The planning strategy recommended for an aria_engine domain: each configured strategy run on the
-- domain's stored problems, timed; the fastest that solved them all (null when none did). One row
-- per domain: a new measurement replaces it.
CREATE TABLE aria_tune.strategy_choices (
    domain       text PRIMARY KEY CHECK (length(domain) BETWEEN 1 AND 128),
    recommended  text,
    problems     text[] NOT NULL,
    results      jsonb NOT NULL CHECK (jsonb_typeof(results) = 'array'),
    reason       text NOT NULL,
    measured_by  text NOT NULL,
    measured_at  timestamptz NOT NULL DEFAULT now()
);
