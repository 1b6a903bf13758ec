-- aria_interpret 0001: what characters and players did (events), characters' text and vectors,
-- recommender model versions, what is served, and training runs. Runs with search_path =
-- aria_interpret, public. Tenant '' is "no tenant" (as in aria_engine).

-- One row per observed event; `kind` says what subject/object/category/attrs hold:
--   action       subject = character, object = action name (from aria_engine plans)
--   interaction  subject = character, object = the other character, category = interaction kind
--   state        subject = character, attrs = {"traits": [...], "attributes": {...}} (development)
--   pick         subject = player, object = template, attrs = {"traits": [...]} (generation)
--   feedback     subject = player (user), object = item (character, template, action...),
--                category = the item's kind, value = strength (1 = chose it)
CREATE TABLE aria_interpret.events (
    id          bigserial PRIMARY KEY,
    tenant      text NOT NULL DEFAULT '',
    kind        text NOT NULL CHECK (kind IN ('action', 'interaction', 'state', 'pick', 'feedback')),
    subject     text NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 128),
    object      text NOT NULL DEFAULT '' CHECK (char_length(object) <= 128),
    category    text NOT NULL DEFAULT '' CHECK (char_length(category) <= 128),
    -- finite only: NaN = NaN is true in PostgreSQL, so test the range instead
    value       double precision NOT NULL DEFAULT 1
                CHECK (value > '-Infinity'::float8 AND value < 'Infinity'::float8 AND value <> 'NaN'::float8),
    attrs       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attrs) = 'object'),
    ts          timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_kind_idx ON aria_interpret.events (tenant, kind, ts);
CREATE INDEX events_subject_idx ON aria_interpret.events (tenant, kind, subject, ts);
SELECT aria_data.enable_tenant_isolation('aria_interpret.events', 'tenant');

-- Characters' descriptions as understood: traits and the description's sentence embedding
-- (all-MiniLM-L6-v2, 384 dimensions, unit length), for similarity search and content-based
-- recommendations. Exact search in the service (pgvector is not in the embedded server).
CREATE TABLE aria_interpret.characters (
    tenant       text NOT NULL DEFAULT '',
    character_id text NOT NULL CHECK (char_length(character_id) BETWEEN 1 AND 128),
    description  text NOT NULL,
    traits       jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(traits) = 'array'),
    embedding    real[] NOT NULL CHECK (array_length(embedding, 1) = 384),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, character_id)
);
SELECT aria_data.enable_tenant_isolation('aria_interpret.characters', 'tenant');

-- Recommender model versions: an artifact in aria_storage (name, version, sha256 of its bytes),
-- with the metrics of its training and its lineage. Serve every tenant: operators' objects.
CREATE TABLE aria_interpret.model_versions (
    version       text PRIMARY KEY CHECK (version ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    asset         text NOT NULL,
    asset_version bigint NOT NULL,
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    dataset       text NOT NULL,
    parent        text,
    metrics       jsonb NOT NULL DEFAULT '{}'::jsonb,
    config        jsonb NOT NULL DEFAULT '{}'::jsonb,
    job_id        bigint,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- What is served: one row. `traffic` is the A/B split ({version: weight}) while a test runs.
CREATE TABLE aria_interpret.serving (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    served     text REFERENCES aria_interpret.model_versions (version),
    traffic    jsonb CHECK (traffic IS NULL OR jsonb_typeof(traffic) = 'object'),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO aria_interpret.serving (id) VALUES (true);

-- Every promotion, newest last: a rollback serves the version promoted before the current one.
CREATE TABLE aria_interpret.promotions (
    id          bigserial PRIMARY KEY,
    version     text NOT NULL REFERENCES aria_interpret.model_versions (version),
    reason      text NOT NULL DEFAULT '',
    promoted_by text NOT NULL DEFAULT '',
    -- set by the rollback that undid this promotion: rollbacks walk back past undone entries
    rolled_back boolean NOT NULL DEFAULT false,
    at          timestamptz NOT NULL DEFAULT now()
);

-- A/B counters per version: requests scored and the feedback on what was shown.
CREATE TABLE aria_interpret.ab_metrics (
    version        text PRIMARY KEY REFERENCES aria_interpret.model_versions (version),
    requests       bigint NOT NULL DEFAULT 0,
    feedback_count bigint NOT NULL DEFAULT 0,
    feedback_sum   double precision NOT NULL DEFAULT 0
);

-- Training jobs this service enqueued: only these become model versions.
CREATE TABLE aria_interpret.training_runs (
    job_id     bigint PRIMARY KEY,
    version    text NOT NULL UNIQUE CHECK (version ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    dataset    text NOT NULL,
    enqueuer   text NOT NULL DEFAULT '',
    -- 'yes': serve it when registered; 'if-better': when its test GAUC >= the served one's
    promote    text NOT NULL DEFAULT 'no' CHECK (promote IN ('no', 'yes', 'if-better')),
    error      text,
    created_at timestamptz NOT NULL DEFAULT now()
);
