-- Named queries of aria_debugger's log store (loaded by aria_actors.debugger.logstore). Records
-- are written with COPY (asyncpg's copy_records_to_table), not with a statement here.

-- name: cursors
SELECT service, start_id, seq, dropped FROM aria_debugger.log_cursors

-- name: save_cursor
INSERT INTO aria_debugger.log_cursors (service, start_id, seq, dropped)
VALUES ($1, $2, $3, $4)
ON CONFLICT (service) DO UPDATE
SET start_id = EXCLUDED.start_id, seq = EXCLUDED.seq,
    dropped = aria_debugger.log_cursors.dropped + EXCLUDED.dropped, updated_at = now()

-- name: search
-- $1 the user's words (websearch syntax: "a phrase", -not, or), never spliced into the text
SELECT id, at, level_name, service, logger, message, pid, node, trace_id, span_id, exc_type
FROM aria_debugger.logs
WHERE ($1::text IS NULL OR tsv @@ websearch_to_tsquery('simple', $1))
  AND ($2::text IS NULL OR service = $2)
  AND ($3::smallint IS NULL OR level >= $3)
  AND ($4::text IS NULL OR trace_id = $4)
  AND ($5::timestamptz IS NULL OR at >= $5)
  AND ($6::timestamptz IS NULL OR at < $6)
ORDER BY at DESC, id DESC
LIMIT $7

-- name: prune_older
-- one batch of records older than $1 (the oldest first); repeated until it deletes none
DELETE FROM aria_debugger.logs
WHERE id IN (SELECT id FROM aria_debugger.logs WHERE at < $1 ORDER BY at LIMIT $2)

-- name: nth_newest_id
SELECT id FROM aria_debugger.logs ORDER BY id DESC OFFSET $1 LIMIT 1

-- name: prune_upto
-- one batch of the records with id <= $1 (those past the row cap)
DELETE FROM aria_debugger.logs
WHERE id IN (SELECT id FROM aria_debugger.logs WHERE id <= $1 ORDER BY id LIMIT $2)

-- name: totals
SELECT greatest(c.reltuples, 0)::bigint AS rows_estimate,
       (SELECT max(at) FROM aria_debugger.logs) AS newest,
       (SELECT coalesce(sum(dropped), 0) FROM aria_debugger.log_cursors)::bigint AS dropped
FROM pg_class c
WHERE c.oid = 'aria_debugger.logs'::regclass

-- name: analyze
ANALYZE aria_debugger.logs
