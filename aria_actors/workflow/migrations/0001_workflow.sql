-- aria_workflow 0001: workflow definitions and their versions, runs, each run's recorded steps,
-- its history (control events, failed attempts) and the signals sent to it. Runs with
-- search_path = aria_workflow, public. Tenant '' is "no tenant": Python workflows (code) are
-- defined there and serve every tenant; documents belong to the tenant that stored them.

-- Every version of every definition, immutable once stored.
CREATE TABLE aria_workflow.definitions (
    tenant      text NOT NULL DEFAULT '',
    name        text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_-]{0,63}$'),
    version     integer NOT NULL CHECK (version >= 1),
    kind        text NOT NULL CHECK (kind IN ('python', 'document')),
    document    jsonb,                       -- kind 'document': the validated document
    code_ref    text,                        -- kind 'python': module:function
    code_hash   text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    created_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, name, version),
    CHECK ((kind = 'document') = (document IS NOT NULL))
);
SELECT aria_data.enable_tenant_isolation('aria_workflow.definitions', 'tenant');

-- The version a new run of a name starts with, and how it came to be (publish or rollback).
CREATE TABLE aria_workflow.releases (
    id         bigserial PRIMARY KEY,
    tenant     text NOT NULL DEFAULT '',
    name       text NOT NULL,
    version    integer NOT NULL,
    action     text NOT NULL CHECK (action IN ('publish', 'rollback', 'register')),
    by_subject text NOT NULL DEFAULT '',
    at         timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant, name, version) REFERENCES aria_workflow.definitions (tenant, name, version)
);
CREATE INDEX releases_name_idx ON aria_workflow.releases (tenant, name, id DESC);
SELECT aria_data.enable_tenant_isolation('aria_workflow.releases', 'tenant');

-- One row per run. `owner`/`lease_until`: the executor running it; `control`: what an operator
-- asked of a running run (pause/cancel), seen at its next step.
CREATE TABLE aria_workflow.runs (
    id              uuid PRIMARY KEY,
    tenant          text NOT NULL DEFAULT '',
    name            text NOT NULL,
    version         integer NOT NULL,
    def_tenant      text NOT NULL DEFAULT '',  -- where its definition lives ('' for Python workflows)
    state           text NOT NULL CHECK (state IN ('pending', 'running', 'waiting', 'paused',
                                                   'completed', 'failed', 'cancelled', 'dead')),
    input           jsonb NOT NULL DEFAULT 'null'::jsonb,
    output          jsonb,
    error           jsonb,
    starter         jsonb NOT NULL,            -- the principal the run acts as
    started_by      text NOT NULL,
    idempotency_key text,
    document        jsonb,                     -- an operator's edited document for this run only
    owner           text,
    lease_until     timestamptz,
    control         text CHECK (control IN ('pause', 'cancel', 'cancel-compensate')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (tenant, name, idempotency_key)
);
CREATE INDEX runs_live_idx ON aria_workflow.runs (lease_until)
    WHERE state IN ('pending', 'running', 'waiting');
CREATE INDEX runs_name_idx ON aria_workflow.runs (tenant, name, created_at DESC);
CREATE INDEX runs_state_idx ON aria_workflow.runs (tenant, state, created_at DESC);
SELECT aria_data.enable_tenant_isolation('aria_workflow.runs', 'tenant');

-- A run's recorded steps: written once (the primary key), read back when the run resumes.
-- state 'failed' is a recorded final failure (replayed as the same error).
CREATE TABLE aria_workflow.steps (
    run_id      uuid NOT NULL REFERENCES aria_workflow.runs (id) ON DELETE CASCADE,
    key         text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 512),
    name        text NOT NULL,
    kind        text NOT NULL,
    state       text NOT NULL CHECK (state IN ('completed', 'failed', 'skipped')),
    input       jsonb,
    output      jsonb,
    error       jsonb,
    attempts    integer NOT NULL DEFAULT 1,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    seq         bigserial,
    PRIMARY KEY (run_id, key)
);

-- What happened to a run besides its steps' results: control events, failed attempts, edits.
CREATE TABLE aria_workflow.history (
    id     bigserial PRIMARY KEY,
    run_id uuid NOT NULL REFERENCES aria_workflow.runs (id) ON DELETE CASCADE,
    at     timestamptz NOT NULL DEFAULT now(),
    kind   text NOT NULL,
    key    text,
    detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX history_run_idx ON aria_workflow.history (run_id, id);

-- Signals sent to a run; a wait consumes the oldest unconsumed one of its name, once.
CREATE TABLE aria_workflow.signals (
    id          bigserial PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES aria_workflow.runs (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name ~ '^[A-Za-z][A-Za-z0-9_.:-]{0,63}$'),
    payload     jsonb NOT NULL DEFAULT 'null'::jsonb,
    sent_by     text NOT NULL DEFAULT '',
    sent_at     timestamptz NOT NULL DEFAULT now(),
    consumed_by text
);
CREATE INDEX signals_pending_idx ON aria_workflow.signals (run_id, name, id) WHERE consumed_by IS NULL;
