-- Named queries of query optimisation (aria_actors/tune/queryopt_store.py).

-- name: upsert_suggestion
INSERT INTO aria_tune.query_suggestions (queryid, query, relation, columns, reason, cost_before, cost_after,
                                         index_used, verdict, rows_sampled, estimated_rows, calls, mean_ms,
                                         plan_before, plan_after, checked_by)
VALUES ($1, $2, $3, $4::text[], $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15::jsonb, $16)
ON CONFLICT (queryid, relation, columns) DO UPDATE
   SET query = EXCLUDED.query, reason = EXCLUDED.reason, cost_before = EXCLUDED.cost_before,
       cost_after = EXCLUDED.cost_after, index_used = EXCLUDED.index_used, verdict = EXCLUDED.verdict,
       rows_sampled = EXCLUDED.rows_sampled, estimated_rows = EXCLUDED.estimated_rows, calls = EXCLUDED.calls,
       mean_ms = EXCLUDED.mean_ms, plan_before = EXCLUDED.plan_before, plan_after = EXCLUDED.plan_after,
       checked_by = EXCLUDED.checked_by, checked_at = now()
RETURNING *

-- name: list_suggestions
SELECT * FROM aria_tune.query_suggestions
WHERE ($1::text IS NULL OR queryid = $1) AND ($2::text IS NULL OR verdict = $2)
ORDER BY checked_at DESC, id DESC
LIMIT $3

-- name: probe_clear
TRUNCATE aria_tune.query_probe

-- name: probe_fill
INSERT INTO aria_tune.query_probe (k, v) SELECT g, md5(g::text) FROM generate_series(1, $1::integer) AS g

-- name: probe_analyze
ANALYZE aria_tune.query_probe

-- name: probe_lookup
SELECT id, v FROM aria_tune.query_probe WHERE k = $1

-- name: upsert_choice
INSERT INTO aria_tune.strategy_choices (domain, recommended, problems, results, reason, measured_by)
VALUES ($1, $2, $3::text[], $4::jsonb, $5, $6)
ON CONFLICT (domain) DO UPDATE
   SET recommended = EXCLUDED.recommended, problems = EXCLUDED.problems, results = EXCLUDED.results,
       reason = EXCLUDED.reason, measured_by = EXCLUDED.measured_by, measured_at = now()
RETURNING *

-- name: list_choices
SELECT * FROM aria_tune.strategy_choices WHERE ($1::text IS NULL OR domain = $1) ORDER BY domain LIMIT $2
