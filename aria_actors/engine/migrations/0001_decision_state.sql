-- aria_engine 0001: each character's decision state (its current plan, the step it is on, its
-- beliefs) and a bounded history of what happened to it. Runs with search_path = aria_engine, public.
--
-- A character is named by the caller (a game's own id), within a tenant: '' is "no tenant" (as in
-- aria_auth). Plans, todo lists and beliefs are JSON in the wire format of aria_actors.engine.wire.

CREATE TABLE aria_engine.decision_states (
    tenant      text NOT NULL DEFAULT '',
    character   text NOT NULL CHECK (char_length(character) BETWEEN 1 AND 128),
    domain      text NOT NULL CHECK (char_length(domain) BETWEEN 1 AND 128),
    -- [[action, args...], ...]: the plan being executed (empty while planning or after a failure)
    plan        jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(plan) = 'array'),
    -- the todo list the plan was made for (kept for replanning); null when a plan was given as is
    todo        jsonb CHECK (todo IS NULL OR jsonb_typeof(todo) = 'array'),
    -- index of the next step to execute: 0 .. length(plan) (length = every step done)
    step        integer NOT NULL DEFAULT 0 CHECK (step >= 0),
    -- {"name": ..., "vars": {...}}: what the character believes the world is
    beliefs     jsonb NOT NULL CHECK (jsonb_typeof(beliefs) = 'object'),
    status      text NOT NULL CHECK (status IN ('planning', 'executing', 'done', 'failed')),
    reason      text NOT NULL DEFAULT '',
    -- optimistic concurrency: every write adds one; a writer naming an older version is refused
    version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, character),
    CONSTRAINT step_in_plan CHECK (step <= jsonb_array_length(plan))
);

-- What a restarted service resumes (and reports): the characters in the middle of a plan.
CREATE INDEX decision_states_status_idx ON aria_engine.decision_states (status, tenant, character);

-- The newest events of each character (the store keeps the last few per character, see decisions.py).
CREATE TABLE aria_engine.decision_events (
    id          bigserial PRIMARY KEY,
    tenant      text NOT NULL DEFAULT '',
    character   text NOT NULL,
    version     integer NOT NULL,
    event       text NOT NULL CHECK (event IN ('set', 'planning', 'advance', 'beliefs', 'fail', 'replan')),
    step        integer NOT NULL,
    status      text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
    at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant, character) REFERENCES aria_engine.decision_states (tenant, character)
        ON DELETE CASCADE
);

CREATE INDEX decision_events_character_idx ON aria_engine.decision_events (tenant, character, id);

-- A tenant transaction (Database.transaction(..., tenant=...)) sees and writes only its tenant's
-- rows; without a tenant (the '' rows, the service's own cross-tenant counts) nothing confines it.
SELECT aria_data.enable_tenant_isolation('aria_engine.decision_states', 'tenant');
SELECT aria_data.enable_tenant_isolation('aria_engine.decision_events', 'tenant');
