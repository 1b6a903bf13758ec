-- aria_debugger 0010: the log records collected from every service's process (aria_actors/debugger/logs.py).
-- Runs with search_path = aria_debugger, public. Numbered 0010 so that the debugger's other
-- migrations (traces, ...) can take 0001-0009 without colliding: this one needs none of them.
-- Logs span tenants: no tenant column, no row-level security; reading needs debugger:logs:read@any.

CREATE TABLE aria_debugger.logs (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL,                  -- when the record was made, in its process
    level     smallint NOT NULL,                     -- logging's number: 10 DEBUG ... 50 CRITICAL
    level_name text NOT NULL,
    service   text NOT NULL,
    logger    text NOT NULL,
    message   text NOT NULL,
    pid       integer,
    node      text,
    trace_id  text,
    span_id   text,
    exc_type  text,
    start_id  text NOT NULL,                         -- the process's ring (runtime/logring.py)
    seq       bigint NOT NULL,                       -- the record's number in that ring
    -- 'simple': no stemming or stop words, so a search finds identifiers and numbers as written
    tsv       tsvector GENERATED ALWAYS AS (
                  to_tsvector('simple', message || ' ' || logger || ' ' || coalesce(exc_type, ''))) STORED
);
CREATE INDEX logs_tsv_idx ON aria_debugger.logs USING gin (tsv);
CREATE INDEX logs_at_idx ON aria_debugger.logs (at DESC, id DESC);
CREATE INDEX logs_service_at_idx ON aria_debugger.logs (service, at DESC, id DESC);
CREATE INDEX logs_level_at_idx ON aria_debugger.logs (level, at DESC, id DESC);
CREATE INDEX logs_trace_idx ON aria_debugger.logs (trace_id) WHERE trace_id IS NOT NULL;

-- Where the collector stands in each service's ring: records after `seq` of process `start_id`
-- are still to be read. Survives aria_debugger's restarts, so nothing is stored twice.
CREATE TABLE aria_debugger.log_cursors (
    service   text PRIMARY KEY,
    start_id  text NOT NULL,
    seq       bigint NOT NULL,
    dropped   bigint NOT NULL DEFAULT 0,             -- records the ring lost before they were read
    updated_at timestamptz NOT NULL DEFAULT now()
);
