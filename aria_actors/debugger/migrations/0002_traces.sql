-- aria_debugger 0020: the spans collected from every service's process (aria_actors/debugger/traces.py).
-- Runs with search_path = aria_debugger, public. Independent of 0010 (logs). Traces span tenants:
-- no tenant column, no row-level security; reading needs debugger:trace:read@any. Attributes are
-- the allow-listed ones of runtime/tracing.py (names, route templates, status): no SQL text,
-- parameters, bodies or tokens.

CREATE TABLE aria_debugger.spans (
    trace_id    text NOT NULL CHECK (trace_id ~ '^[0-9a-f]{32}$'),
    span_id     text NOT NULL CHECK (span_id ~ '^[0-9a-f]{16}$'),
    parent_id   text CHECK (parent_id ~ '^[0-9a-f]{16}$'),
    name        text NOT NULL,
    service     text NOT NULL,
    kind        text NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    status      text NOT NULL CHECK (status IN ('ok', 'error')),
    attributes  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    PRIMARY KEY (trace_id, span_id)
);
-- the recent traces' listing reads roots newest first; retention deletes by age
CREATE INDEX spans_roots_idx ON aria_debugger.spans (started_at DESC) WHERE parent_id IS NULL;
CREATE INDEX spans_started_idx ON aria_debugger.spans (started_at);
