-- Named queries of aria_tune (loaded by aria_actors.tune.store). Parameters are positional; in
-- tenant-scoped queries $1 is the tenant ('' for none).

-- name: insert_study
INSERT INTO aria_tune.studies (tenant, name, owner, objective, direction, space, sampler, pruner, budget,
                               parallelism, objectives)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10, $11::jsonb)
ON CONFLICT (tenant, name) DO NOTHING
RETURNING *

-- name: study_by_name
SELECT * FROM aria_tune.studies WHERE tenant = $1 AND name = $2

-- name: study_by_id
SELECT * FROM aria_tune.studies WHERE id = $1

-- name: lock_study
SELECT * FROM aria_tune.studies WHERE id = $1 FOR UPDATE

-- name: list_studies
SELECT s.*,
       (SELECT count(*) FROM aria_tune.trials t WHERE t.study_id = s.id) AS trials,
       (SELECT count(*) FROM aria_tune.trials t WHERE t.study_id = s.id AND t.state = 'running') AS running,
       (SELECT CASE WHEN s.direction = 'minimize' THEN min(t.value) ELSE max(t.value) END
          FROM aria_tune.trials t WHERE t.study_id = s.id AND t.state = 'complete') AS best_value
FROM aria_tune.studies s
WHERE s.tenant = $1 AND ($2::text IS NULL OR s.owner = $2)
ORDER BY s.created_at DESC, s.id DESC
LIMIT $3

-- name: update_study
UPDATE aria_tune.studies
SET status = $2, budget = $3, parallelism = $4, optimizer = COALESCE($5::jsonb, optimizer), updated_at = now()
WHERE id = $1
RETURNING *

-- name: complete_if_done
UPDATE aria_tune.studies s
SET status = 'completed', updated_at = now()
WHERE s.id = $1 AND s.status = 'running'
  AND (SELECT count(*) FROM aria_tune.trials t WHERE t.study_id = s.id) >= s.budget
  AND NOT EXISTS (SELECT 1 FROM aria_tune.trials t WHERE t.study_id = s.id AND t.state = 'running')
RETURNING id

-- name: delete_study
DELETE FROM aria_tune.studies WHERE id = $1 RETURNING id

-- name: running_studies
SELECT * FROM aria_tune.studies WHERE status = 'running' ORDER BY id LIMIT $1

-- name: count_trials
SELECT state, count(*) AS n FROM aria_tune.trials WHERE study_id = $1 GROUP BY state

-- name: best_trial
SELECT * FROM aria_tune.trials
WHERE study_id = $1 AND state = 'complete'
ORDER BY CASE WHEN $2 = 'minimize' THEN value ELSE -value END, number
LIMIT 1

-- name: all_trials
SELECT * FROM aria_tune.trials WHERE study_id = $1 ORDER BY number

-- name: list_trials
SELECT * FROM aria_tune.trials
WHERE study_id = $1 AND ($2::text IS NULL OR state = $2) AND number >= $3
ORDER BY number
LIMIT $4

-- name: insert_trial
INSERT INTO aria_tune.trials (study_id, number, tenant, params)
VALUES ($1, $2, $3, $4::jsonb)
RETURNING *

-- name: set_trial_job
UPDATE aria_tune.trials SET job_id = $3 WHERE study_id = $1 AND number = $2 AND state = 'running'

-- name: get_trial
SELECT * FROM aria_tune.trials WHERE study_id = $1 AND number = $2

-- name: start_trial
UPDATE aria_tune.trials
SET started_at = now(), attempts = attempts + 1, intermediate = '{}'::jsonb
WHERE study_id = $1 AND number = $2 AND state = 'running'
RETURNING *

-- name: report_trial
UPDATE aria_tune.trials
SET intermediate = intermediate || jsonb_build_object($3::text, $4::float8)
WHERE study_id = $1 AND number = $2 AND state = 'running'
RETURNING *

-- name: finish_trial
UPDATE aria_tune.trials
SET state = $3, value = $4, error = $5, vals = $6::float8[], finished_at = now()
WHERE study_id = $1 AND number = $2 AND state = 'running'
RETURNING *

-- name: running_trials
SELECT t.study_id, t.number, t.job_id, t.created_at, t.started_at,
       extract(epoch FROM now() - t.created_at) AS age_s
FROM aria_tune.trials t JOIN aria_tune.studies s ON s.id = t.study_id
WHERE t.state = 'running'
ORDER BY t.study_id, t.number
LIMIT $1

-- name: count_running
SELECT count(*) FROM aria_tune.trials WHERE state = 'running'

-- name: count_studies
SELECT count(*) FROM aria_tune.studies
