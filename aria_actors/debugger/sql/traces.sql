-- Named queries of aria_debugger's trace store (loaded by aria_actors.debugger.trace_store).
-- Every value is a bound parameter.

-- name: insert_span
INSERT INTO aria_debugger.spans (trace_id, span_id, parent_id, name, service, kind, started_at, duration_ms,
                                 status, attributes)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
ON CONFLICT (trace_id, span_id) DO NOTHING

-- name: recent_roots
-- $1 how many of the newest root spans to consider
SELECT trace_id FROM aria_debugger.spans WHERE parent_id IS NULL ORDER BY started_at DESC LIMIT $1

-- name: spans_of
-- $1 trace ids, $2 most spans returned (a long job's trace is cut, its first spans kept)
SELECT trace_id, span_id, parent_id, name, service, kind, extract(epoch FROM started_at)::float8 AS start,
       duration_ms, status, attributes::text AS attributes
FROM aria_debugger.spans
WHERE trace_id = ANY($1::text[])
ORDER BY started_at
LIMIT $2

-- name: prune
-- $1 seconds kept
DELETE FROM aria_debugger.spans WHERE started_at < now() - make_interval(secs => $1)
