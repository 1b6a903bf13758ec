-- aria_tune 0003: the auto-tuner's changes (autotune.py). Runs with search_path = aria_tune,
-- public. A knob is the whole system's (a queue's concurrency), not a tenant's: no tenant column.

-- One change of a knob on a target, from its proposal to its decision:
--   proposed -> measuring -> kept | rolled_back | failed;  proposed -> rejected
-- `before` / `after` are the measurement windows (autotune_core.window); `approved_by` is who
-- applied it (or `aria_tune (automatic)`), `decided_by` who rejected it. At most one change of a
-- (knob, target) is open (proposed or measuring): a second proposal or apply is a 409.
CREATE TABLE aria_tune.autotune_changes (
    id              bigserial PRIMARY KEY,
    knob            text NOT NULL CHECK (knob ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    target          text NOT NULL CHECK (length(target) BETWEEN 1 AND 255),
    old_value       integer NOT NULL,
    new_value       integer NOT NULL CHECK (new_value <> old_value),
    status          text NOT NULL DEFAULT 'proposed'
                    CHECK (status IN ('proposed', 'measuring', 'kept', 'rolled_back', 'rejected', 'failed')),
    source          text NOT NULL CHECK (source IN ('operator', 'scan', 'auto')),
    reason          text CHECK (reason IS NULL OR length(reason) <= 1000),
    proposed_by     text NOT NULL,
    approved_by     text,
    decided_by      text,
    before          jsonb CHECK (before IS NULL OR jsonb_typeof(before) = 'object'),
    after           jsonb CHECK (after IS NULL OR jsonb_typeof(after) = 'object'),
    decision_reason text CHECK (decision_reason IS NULL OR length(decision_reason) <= 2000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    applied_at      timestamptz,
    decided_at      timestamptz,
    CHECK ((status IN ('proposed', 'measuring')) = (decided_at IS NULL))
);
CREATE UNIQUE INDEX autotune_changes_open_idx ON aria_tune.autotune_changes (knob, target)
    WHERE status IN ('proposed', 'measuring');
CREATE INDEX autotune_changes_target_idx ON aria_tune.autotune_changes (knob, target, id DESC);
