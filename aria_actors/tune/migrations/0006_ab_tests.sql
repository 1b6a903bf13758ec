-- aria_tune 0006: A/B tests of model versions (abtest.py). Runs with search_path = aria_tune, public.
-- A test is about what a service serves to everyone (its traffic split), not a tenant's: no
-- tenant column; the RPCs need @any permissions.

-- One test: the control and the candidate version of a serving service, the share of traffic the
-- candidate gets, the rule that decides (alpha, min/max samples per arm, direction), the study the
-- candidate came from (lineage), and the decision with the statistics it was taken on.
-- running -> ending (the decision taken and recorded: `ending` says which, `winner`, `result`; the
-- target is being told) -> promoted (candidate won) | kept (control won, or no difference at
-- max_samples) | stopped. A crash while `ending` is finished by the next decide or stop.
CREATE TABLE aria_tune.ab_tests (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    target       text NOT NULL CHECK (target IN ('aria_shape', 'aria_interpret')),
    control      text NOT NULL CHECK (length(control) BETWEEN 1 AND 200),
    candidate    text NOT NULL CHECK (length(candidate) BETWEEN 1 AND 200),
    share        double precision NOT NULL CHECK (share > 0 AND share < 1),
    alpha        double precision NOT NULL CHECK (alpha > 0 AND alpha <= 0.2),
    min_samples  integer NOT NULL CHECK (min_samples >= 2),
    max_samples  integer CHECK (max_samples IS NULL OR max_samples >= min_samples),
    direction    text NOT NULL CHECK (direction IN ('maximize', 'minimize')),
    study        text,
    status       text NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'ending', 'promoted', 'kept', 'stopped')),
    ending       text CHECK (ending IS NULL OR ending IN ('promoted', 'kept', 'stopped')),
    winner       text,
    result       jsonb CHECK (result IS NULL OR jsonb_typeof(result) = 'object'),
    started_by   text NOT NULL,
    decided_by   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    decided_at   timestamptz,
    CHECK (control <> candidate),
    CHECK ((status IN ('running', 'ending')) = (decided_at IS NULL)),
    CHECK ((status = 'running') = (ending IS NULL))
);
-- A service has one traffic split: one running test per target.
CREATE UNIQUE INDEX ab_tests_one_running_idx ON aria_tune.ab_tests (target) WHERE status IN ('running', 'ending');
