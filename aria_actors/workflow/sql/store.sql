-- Named queries of aria_workflow (loaded by aria_actors.workflow.store). Parameters are
-- positional. Queries the engine runs (runs by id) run without a tenant; the ones answering a
-- caller run in the caller's tenant transaction, so row-level security confines them, except
-- the statistics, which join steps (not a tenant table) and filter on the tenant explicitly.

-- name: insert_definition
INSERT INTO aria_workflow.definitions (tenant, name, version, kind, document, code_ref, code_hash,
                                       description, created_by)
VALUES ($1, $2, (SELECT coalesce(max(version), 0) + 1 FROM aria_workflow.definitions
                 WHERE tenant = $1 AND name = $2),
        $3, $4::jsonb, $5, $6, $7, $8)
RETURNING tenant, name, version, kind, code_ref, code_hash, description, created_by, created_at

-- name: lock_name
SELECT pg_advisory_xact_lock(hashtext($1))

-- name: register_code
INSERT INTO aria_workflow.definitions (tenant, name, version, kind, code_ref, code_hash, description, created_by)
VALUES ('', $1, $2, 'python', $3, $4, $5, 'aria_workflow')
ON CONFLICT (tenant, name, version) DO UPDATE SET code_ref = EXCLUDED.code_ref, description = EXCLUDED.description
RETURNING (xmax = 0) AS inserted, code_hash

-- name: definition
SELECT tenant, name, version, kind, document, code_ref, code_hash, description, created_by, created_at
FROM aria_workflow.definitions WHERE tenant = $1 AND name = $2 AND version = $3

-- name: versions
SELECT tenant, name, version, kind, code_ref, code_hash, description, created_by, created_at
FROM aria_workflow.definitions WHERE tenant = $1 AND name = $2 ORDER BY version

-- name: definitions
SELECT d.tenant, d.name, d.kind, max(d.version) AS latest, count(*) AS versions,
       (SELECT r.version FROM aria_workflow.releases r
        WHERE r.tenant = d.tenant AND r.name = d.name ORDER BY r.id DESC LIMIT 1) AS current,
       (array_agg(d.description ORDER BY d.version DESC))[1] AS description
FROM aria_workflow.definitions d WHERE d.tenant = $1 GROUP BY d.tenant, d.name, d.kind ORDER BY d.name

-- name: insert_release
INSERT INTO aria_workflow.releases (tenant, name, version, action, by_subject) VALUES ($1, $2, $3, $4, $5)

-- name: releases
SELECT version, action, by_subject, at FROM aria_workflow.releases
WHERE tenant = $1 AND name = $2 ORDER BY id DESC LIMIT $3

-- name: current_version
SELECT version FROM aria_workflow.releases WHERE tenant = $1 AND name = $2 ORDER BY id DESC LIMIT 1

-- name: insert_run
INSERT INTO aria_workflow.runs (id, tenant, name, version, def_tenant, state, input, starter, started_by,
                                idempotency_key, owner, lease_until)
VALUES ($1, $2, $3, $4, $5, 'running', $6::jsonb, $7::jsonb, $8, $9, $10, now() + make_interval(secs => $11))
ON CONFLICT (tenant, name, idempotency_key) DO NOTHING
RETURNING id

-- name: run_by_key
SELECT id FROM aria_workflow.runs WHERE tenant = $1 AND name = $2 AND idempotency_key = $3

-- name: run
SELECT id, tenant, name, version, def_tenant, state, input, output, error, starter, started_by,
       idempotency_key, document, owner, lease_until, control, created_at, updated_at, finished_at
FROM aria_workflow.runs WHERE id = $1

-- name: runs
SELECT id, tenant, name, version, state, started_by, error, created_at, updated_at, finished_at
FROM aria_workflow.runs
WHERE ($1::text IS NULL OR name = $1) AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR started_by = $3)
  AND ($5::text IS NULL OR tenant = $5)
ORDER BY created_at DESC LIMIT $4

-- name: claim_runs
UPDATE aria_workflow.runs r SET owner = $1, lease_until = now() + make_interval(secs => $2),
       state = CASE WHEN r.state = 'pending' THEN 'running' ELSE r.state END, updated_at = now()
FROM (SELECT id FROM aria_workflow.runs
      WHERE state IN ('pending', 'running', 'waiting')
        AND (owner IS NULL OR owner = $1 OR lease_until < now())
        AND NOT (id = ANY($3::uuid[]))
      ORDER BY created_at LIMIT $4
      FOR UPDATE SKIP LOCKED) c
WHERE r.id = c.id
RETURNING r.id

-- name: heartbeat
UPDATE aria_workflow.runs SET lease_until = now() + make_interval(secs => $2)
WHERE owner = $1 AND id = ANY($3::uuid[]) AND state IN ('pending', 'running', 'waiting')
RETURNING id, control

-- name: set_state
UPDATE aria_workflow.runs SET state = $2, updated_at = now() WHERE id = $1 AND owner = $3

-- name: finish_run
UPDATE aria_workflow.runs SET state = $2, output = $3::jsonb, error = $4::jsonb, updated_at = now(),
       finished_at = CASE WHEN $2 IN ('completed', 'failed', 'cancelled') THEN now() END,
       owner = NULL, lease_until = NULL, control = NULL
WHERE id = $1 AND owner = $5
RETURNING id

-- name: release_run
UPDATE aria_workflow.runs SET owner = NULL, lease_until = NULL WHERE id = $1 AND owner = $2

-- name: control_run
UPDATE aria_workflow.runs SET control = $2, updated_at = now()
WHERE id = $1 AND state IN ('pending', 'running', 'waiting') RETURNING id

-- name: pause_idle
UPDATE aria_workflow.runs SET state = 'paused', control = NULL, owner = NULL, lease_until = NULL,
       updated_at = now()
WHERE id = $1 AND state IN ('pending', 'running', 'waiting') AND owner IS NOT DISTINCT FROM $2 RETURNING id

-- name: resume_run
UPDATE aria_workflow.runs SET state = 'pending', control = NULL, error = NULL, owner = NULL,
       lease_until = NULL, finished_at = NULL, updated_at = now()
WHERE id = $1 AND state = ANY($2::text[]) RETURNING id

-- name: cancel_idle
UPDATE aria_workflow.runs SET state = 'cancelled', control = NULL, owner = NULL, lease_until = NULL,
       finished_at = now(), updated_at = now(), error = $2::jsonb
WHERE id = $1 AND state IN ('paused', 'dead') RETURNING id

-- name: set_version
UPDATE aria_workflow.runs SET version = $2, document = NULL, updated_at = now()
WHERE id = $1 AND state = ANY($3::text[]) RETURNING id

-- name: set_document
UPDATE aria_workflow.runs SET document = $2::jsonb, updated_at = now()
WHERE id = $1 AND state IN ('paused', 'dead') RETURNING id

-- name: record_step
INSERT INTO aria_workflow.steps (run_id, key, name, kind, state, input, output, error, attempts, started_at)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10)
ON CONFLICT (run_id, key) DO NOTHING
RETURNING seq

-- name: step
SELECT key, name, kind, state, input, output, error, attempts, started_at, finished_at
FROM aria_workflow.steps WHERE run_id = $1 AND key = $2

-- name: steps
SELECT key, name, kind, state, input, output, error, attempts, started_at, finished_at
FROM aria_workflow.steps WHERE run_id = $1 ORDER BY seq

-- name: delete_failed_steps
DELETE FROM aria_workflow.steps
WHERE run_id = $1 AND ((key = ANY($2::text[]) AND state = 'failed')
                       OR key = ANY(SELECT k || '@job' FROM unnest($2::text[]) AS k)
                       OR key = ANY(SELECT k || '@deadline' FROM unnest($2::text[]) AS k))
RETURNING key

-- name: delete_companions
DELETE FROM aria_workflow.steps
WHERE run_id = $1 AND (key = ANY(SELECT k || '@job' FROM unnest($2::text[]) AS k)
                       OR key = ANY(SELECT k || '@deadline' FROM unnest($2::text[]) AS k))

-- name: skip_failed_step
UPDATE aria_workflow.steps SET state = 'skipped', output = $3::jsonb, finished_at = now()
WHERE run_id = $1 AND key = $2 AND state = 'failed' RETURNING key

-- name: failed_steps
SELECT key FROM aria_workflow.steps WHERE run_id = $1 AND state = 'failed' ORDER BY seq

-- name: add_history
INSERT INTO aria_workflow.history (run_id, kind, key, detail) VALUES ($1, $2, $3, $4::jsonb)

-- name: history
SELECT at, kind, key, detail FROM aria_workflow.history WHERE run_id = $1 ORDER BY id LIMIT $2

-- name: insert_signal
INSERT INTO aria_workflow.signals (run_id, name, payload, sent_by) VALUES ($1, $2, $3::jsonb, $4) RETURNING id

-- name: take_signal
UPDATE aria_workflow.signals s SET consumed_by = $3
FROM (SELECT id FROM aria_workflow.signals WHERE run_id = $1 AND name = $2 AND consumed_by IS NULL
      ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) c
WHERE s.id = c.id
RETURNING s.payload

-- name: run_stats
SELECT name, state, count(*) AS n,
       avg(extract(epoch FROM finished_at - created_at)) FILTER (WHERE finished_at IS NOT NULL) AS mean_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at))
           FILTER (WHERE finished_at IS NOT NULL) AS p50_s,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at))
           FILTER (WHERE finished_at IS NOT NULL) AS p95_s
FROM aria_workflow.runs WHERE ($1::text IS NULL OR name = $1) AND created_at >= $2 AND ($3::text IS NULL OR tenant = $3)
GROUP BY name, state ORDER BY name, state

-- name: step_stats
SELECT r.name AS workflow, s.name AS step, s.state, count(*) AS n, sum(s.attempts - 1) AS retries,
       avg(extract(epoch FROM s.finished_at - s.started_at)) AS mean_s,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM s.finished_at - s.started_at)) AS p95_s
FROM aria_workflow.steps s JOIN aria_workflow.runs r ON r.id = s.run_id
WHERE ($1::text IS NULL OR r.name = $1) AND r.created_at >= $2 AND ($3::text IS NULL OR r.tenant = $3)
GROUP BY r.name, s.name, s.state ORDER BY r.name, s.name, s.state
LIMIT 1000
