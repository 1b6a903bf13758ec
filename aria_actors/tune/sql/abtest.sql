-- Named queries of aria_tune's A/B tests (loaded by aria_actors.tune.abtest_store).
-- The table is system-wide (no tenant): the RPCs that reach it need @any permissions.

-- name: insert_test
-- NULL when the name is taken or the target has a running test (the service says which).
INSERT INTO aria_tune.ab_tests (name, target, control, candidate, share, alpha, min_samples, max_samples,
                                direction, study, started_by, method, effect)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT DO NOTHING
RETURNING *

-- name: get_test
SELECT * FROM aria_tune.ab_tests WHERE name = $1

-- name: running_test
SELECT * FROM aria_tune.ab_tests WHERE target = $1 AND status IN ('running', 'ending')

-- name: list_tests
SELECT * FROM aria_tune.ab_tests
WHERE ($1::text IS NULL OR status = $1)
ORDER BY id DESC
LIMIT $2

-- name: claim_test
-- Once: a test leaves `running` one time (the decision recorded before the target is told);
-- whoever comes second gets NULL.
UPDATE aria_tune.ab_tests
SET status = 'ending', ending = $2, winner = $3, result = $4::jsonb, decided_by = $5
WHERE name = $1 AND status = 'running'
RETURNING *

-- name: release_test
-- A claimed decision that could not be audited: running again, as if never taken.
UPDATE aria_tune.ab_tests
SET status = 'running', ending = NULL, winner = NULL, result = NULL, decided_by = NULL
WHERE name = $1 AND status = 'ending'
RETURNING *

-- name: finish_test
-- The target told: the recorded ending becomes the status.
UPDATE aria_tune.ab_tests
SET status = ending, decided_at = now(), result = COALESCE($2::jsonb, result)
WHERE name = $1 AND status = 'ending'
RETURNING *
