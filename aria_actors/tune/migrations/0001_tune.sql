-- aria_tune 0001: hyperparameter studies and their trials. Runs with search_path = aria_tune,
-- public. Tenant '' is "no tenant" (as in aria_interpret); both tables are tenant-isolated.

-- A study: what is searched (space), for what (objective, direction), how (sampler, pruner),
-- how much (budget trials, parallelism at once), and where it stands (status). `optimizer` is
-- the principal who last started it: trials run as it (a queue job runs as its enqueuer), and
-- the sweep enqueues a lost trial again as it.
CREATE TABLE aria_tune.studies (
    id          bigserial PRIMARY KEY,
    tenant      text NOT NULL DEFAULT '',
    name        text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    owner       text NOT NULL,
    objective   text NOT NULL,
    direction   text NOT NULL CHECK (direction IN ('minimize', 'maximize')),
    space       jsonb NOT NULL CHECK (jsonb_typeof(space) = 'object'),
    sampler     jsonb NOT NULL CHECK (jsonb_typeof(sampler) = 'object'),
    pruner      jsonb NOT NULL CHECK (jsonb_typeof(pruner) = 'object'),
    budget      integer NOT NULL CHECK (budget >= 1),
    parallelism integer NOT NULL CHECK (parallelism >= 1),
    status      text NOT NULL DEFAULT 'created'
                CHECK (status IN ('created', 'running', 'stopped', 'completed')),
    optimizer   jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, name)
);
CREATE INDEX studies_running_idx ON aria_tune.studies (status) WHERE status = 'running';
SELECT aria_data.enable_tenant_isolation('aria_tune.studies', 'tenant');

-- A trial: reserved `running` with its params before its job is enqueued (job_id set after),
-- then finished once: complete (value), pruned (at a step), or failed (error). (study, number)
-- is unique, and a trial leaves `running` only once, so no trial counts twice.
CREATE TABLE aria_tune.trials (
    study_id     bigint NOT NULL REFERENCES aria_tune.studies (id) ON DELETE CASCADE,
    number       integer NOT NULL CHECK (number >= 0),
    tenant       text NOT NULL DEFAULT '',
    params       jsonb NOT NULL CHECK (jsonb_typeof(params) = 'object'),
    state        text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'complete', 'pruned', 'failed')),
    -- finite only: NaN = NaN is true in PostgreSQL, so test the range instead
    value        double precision
                 CHECK (value IS NULL OR (value > '-Infinity'::float8 AND value < 'Infinity'::float8
                                          AND value <> 'NaN'::float8)),
    -- {"<step>": value}: what the trial reported, step by step (the pruner reads them)
    intermediate jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(intermediate) = 'object'),
    job_id       bigint,
    attempts     integer NOT NULL DEFAULT 0,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    PRIMARY KEY (study_id, number),
    CHECK ((state = 'complete') = (value IS NOT NULL))
);
CREATE INDEX trials_running_idx ON aria_tune.trials (study_id) WHERE state = 'running';
SELECT aria_data.enable_tenant_isolation('aria_tune.trials', 'tenant');
