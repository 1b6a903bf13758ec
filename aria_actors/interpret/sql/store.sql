-- Named queries of aria_interpret (loaded by aria_actors.interpret.store). Parameters are
-- positional; in tenant-scoped queries $1 is the tenant ('' for none).

-- name: insert_events
INSERT INTO aria_interpret.events (tenant, kind, subject, object, category, value, attrs, ts)
SELECT $1, k, s, o, c, v, a::jsonb, t
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::timestamptz[])
     AS e(k, s, o, c, v, a, t)

-- name: events_of_kind
SELECT subject, object, category, value, attrs, ts
FROM (SELECT id, subject, object, category, value, attrs, ts
      FROM aria_interpret.events
      WHERE tenant = $1 AND kind = $2
      ORDER BY ts DESC, id DESC
      LIMIT $3) newest
ORDER BY ts, id

-- name: subject_history
SELECT object, category, value, ts
FROM (SELECT id, object, category, value, ts
      FROM aria_interpret.events
      WHERE tenant = $1 AND kind = $2 AND subject = $3
      ORDER BY ts DESC, id DESC
      LIMIT $4) newest
ORDER BY ts, id

-- name: count_events
SELECT kind, count(*) AS n FROM aria_interpret.events WHERE tenant = $1 GROUP BY kind

-- name: put_character
INSERT INTO aria_interpret.characters (tenant, character_id, description, traits, embedding)
VALUES ($1, $2, $3, $4::jsonb, $5)
ON CONFLICT (tenant, character_id) DO UPDATE
SET description = EXCLUDED.description, traits = EXCLUDED.traits, embedding = EXCLUDED.embedding,
    updated_at = now()
RETURNING character_id, description, traits, updated_at

-- name: get_character
SELECT character_id, description, traits, embedding, updated_at
FROM aria_interpret.characters WHERE tenant = $1 AND character_id = $2

-- name: all_characters
SELECT character_id, traits, embedding FROM aria_interpret.characters WHERE tenant = $1
ORDER BY character_id LIMIT $2

-- name: characters_key
SELECT count(*) AS n, max(updated_at) AS newest FROM aria_interpret.characters WHERE tenant = $1

-- name: delete_character
DELETE FROM aria_interpret.characters WHERE tenant = $1 AND character_id = $2 RETURNING character_id

-- name: insert_version
INSERT INTO aria_interpret.model_versions
    (version, asset, asset_version, sha256, dataset, parent, metrics, config, job_id)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9)
ON CONFLICT (version) DO NOTHING
RETURNING version

-- name: get_version
SELECT version, asset, asset_version, sha256, dataset, parent, metrics, config, job_id, created_at
FROM aria_interpret.model_versions WHERE version = $1

-- name: list_versions
SELECT version, asset, asset_version, sha256, dataset, parent, metrics, config, job_id, created_at
FROM aria_interpret.model_versions ORDER BY created_at, version

-- name: get_serving
SELECT served, traffic, updated_at FROM aria_interpret.serving WHERE id

-- name: lock_serving
SELECT served, traffic FROM aria_interpret.serving WHERE id FOR UPDATE

-- name: set_served
UPDATE aria_interpret.serving SET served = $1, traffic = NULL, updated_at = now() WHERE id

-- name: insert_promotion
INSERT INTO aria_interpret.promotions (version, reason, promoted_by) VALUES ($1, $2, $3)

-- name: promotions
SELECT id, version, reason, promoted_by, rolled_back, at FROM aria_interpret.promotions ORDER BY id DESC LIMIT $1

-- name: live_promotions
SELECT id, version FROM aria_interpret.promotions WHERE NOT rolled_back ORDER BY id DESC LIMIT 2

-- name: mark_rolled_back
UPDATE aria_interpret.promotions SET rolled_back = true WHERE id = $1

-- name: set_traffic
UPDATE aria_interpret.serving SET traffic = $1::jsonb, updated_at = now() WHERE id

-- name: add_ab_metrics
INSERT INTO aria_interpret.ab_metrics (version, requests, feedback_count, feedback_sum, feedback_sumsq)
SELECT v, r, c, s, q FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::float8[], $5::float8[]) AS m(v, r, c, s, q)
ON CONFLICT (version) DO UPDATE
SET requests = ab_metrics.requests + EXCLUDED.requests,
    feedback_count = ab_metrics.feedback_count + EXCLUDED.feedback_count,
    feedback_sum = ab_metrics.feedback_sum + EXCLUDED.feedback_sum,
    feedback_sumsq = ab_metrics.feedback_sumsq + EXCLUDED.feedback_sumsq

-- name: ab_metrics
SELECT version, requests, feedback_count, feedback_sum, feedback_sumsq FROM aria_interpret.ab_metrics ORDER BY version

-- name: reset_ab_metrics
DELETE FROM aria_interpret.ab_metrics

-- name: insert_run
INSERT INTO aria_interpret.training_runs (job_id, version, dataset, enqueuer, promote)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (job_id) DO NOTHING

-- name: get_run
SELECT job_id, version, dataset, enqueuer, promote, error, created_at
FROM aria_interpret.training_runs WHERE job_id = $1

-- name: run_of_version
SELECT job_id, version, dataset, enqueuer, promote, error, created_at
FROM aria_interpret.training_runs WHERE version = $1

-- name: pending_runs
SELECT r.job_id, r.version, r.dataset, r.enqueuer, r.promote, r.error, r.created_at
FROM aria_interpret.training_runs r
LEFT JOIN aria_interpret.model_versions v ON v.version = r.version
WHERE v.version IS NULL AND r.error IS NULL
ORDER BY r.job_id

-- name: set_run_error
UPDATE aria_interpret.training_runs SET error = $2 WHERE job_id = $1
