-- Named queries of aria_shape (loaded by aria_actors.shape.store). Parameters are positional.

-- name: put_template
INSERT INTO aria_shape.templates (name, body) VALUES ($1, $2::jsonb)
ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, updated_at = now()

-- name: templates
SELECT name, body FROM aria_shape.templates ORDER BY name

-- name: insert_character
INSERT INTO aria_shape.characters (id, template, name, version, owner, tenant) VALUES ($1, $2, $3, 1, $4, $5)

-- name: character_holder
SELECT owner, tenant FROM aria_shape.characters WHERE id = $1

-- name: list_characters
-- $1: every tenant (true) or only $2's ('' = the default tenant) and those older than tenants (NULL);
-- $3: only this owner ('' = any); $4: the id to continue after (keyset on id); $5: how many.
SELECT id, template, name, version, owner, tenant, created_at, updated_at FROM aria_shape.characters
WHERE ($1 OR tenant = $2 OR tenant IS NULL) AND ($3 = '' OR owner = $3) AND ($4::uuid IS NULL OR id > $4::uuid)
ORDER BY id
LIMIT $5

-- name: delete_character
DELETE FROM aria_shape.characters WHERE id = $1

-- name: insert_version
INSERT INTO aria_shape.character_versions (character_id, version, body, change)
VALUES ($1, $2, $3::jsonb, $4)
RETURNING created_at

-- name: lock_character
SELECT id, template, name, version FROM aria_shape.characters WHERE id = $1 FOR UPDATE

-- name: bump_version
UPDATE aria_shape.characters SET version = $2, name = $3, updated_at = now() WHERE id = $1

-- name: character_version
SELECT v.version, v.body, v.change, v.created_at, c.version AS latest
FROM aria_shape.characters c
JOIN aria_shape.character_versions v ON v.character_id = c.id
WHERE c.id = $1 AND v.version = coalesce($2, c.version)

-- name: history
SELECT version, body, change, created_at FROM aria_shape.character_versions
WHERE character_id = $1 ORDER BY version

-- name: put_model
INSERT INTO aria_shape.model_versions (id, parent, path, metrics, training_config)
VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)
RETURNING created_at

-- name: get_model
SELECT id, parent, path, metrics, training_config, created_at FROM aria_shape.model_versions WHERE id = $1

-- name: models
SELECT id, parent, path, metrics, training_config, created_at FROM aria_shape.model_versions
ORDER BY created_at, id

-- name: put_model_once
INSERT INTO aria_shape.model_versions (id, parent, path, metrics, training_config)
VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)
ON CONFLICT (id) DO NOTHING

-- name: existing_models
SELECT id FROM aria_shape.model_versions WHERE id = ANY($1::text[])

-- name: serving
SELECT version, weights, seed, feedback_key, updated_at FROM aria_shape.serving

-- name: put_serving
INSERT INTO aria_shape.serving (id, version, weights, seed, feedback_key) VALUES (true, $1, $2::jsonb, $3, $4)
ON CONFLICT (id) DO UPDATE
SET version = EXCLUDED.version, weights = EXCLUDED.weights, seed = EXCLUDED.seed,
    feedback_key = EXCLUDED.feedback_key, updated_at = now()

-- name: put_feedback_key
UPDATE aria_shape.serving SET feedback_key = $1 WHERE feedback_key IS NULL AND weights IS NOT NULL
RETURNING feedback_key

-- name: ab_metrics
SELECT version, requests, tokens, seconds, feedback_count, feedback_sum, feedback_sumsq FROM aria_shape.ab_metrics

-- name: clear_ab_metrics
DELETE FROM aria_shape.ab_metrics

-- name: clear_ab_feedback
DELETE FROM aria_shape.ab_feedback

-- name: ab_feedback_of
SELECT value FROM aria_shape.ab_feedback WHERE scorer = $1 AND version = $2 FOR UPDATE

-- name: put_ab_feedback
INSERT INTO aria_shape.ab_feedback (scorer, version, value, response) VALUES ($1, $2, $3, $4)
ON CONFLICT (scorer, version) DO UPDATE
SET value = EXCLUDED.value, response = EXCLUDED.response, given_at = now()

-- name: insert_ab_versions
INSERT INTO aria_shape.ab_metrics (version) SELECT unnest($1::text[])

-- name: add_ab_counts
UPDATE aria_shape.ab_metrics AS m
SET requests = m.requests + d.requests, tokens = m.tokens + d.tokens, seconds = m.seconds + d.seconds
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::float8[]) AS d(version, requests, tokens, seconds)
WHERE m.version = d.version

-- name: add_ab_feedback
UPDATE aria_shape.ab_metrics
SET feedback_count = feedback_count + $2, feedback_sum = feedback_sum + $3, feedback_sumsq = feedback_sumsq + $4
WHERE version = $1
RETURNING feedback_count

-- name: put_training_run
INSERT INTO aria_shape.training_runs (job_id, version, parent, enqueued_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (job_id) DO NOTHING

-- name: training_runs
SELECT job_id, version, parent, enqueued_by, created_at FROM aria_shape.training_runs
WHERE job_id = ANY($1::bigint[])
