-- Named queries of aria_tune's resource proposals (loaded by aria_actors.tune.resources_store).
-- The table is system-wide (no tenant): the RPCs that reach it need @any permissions.

-- name: insert_proposal
INSERT INTO aria_tune.resource_proposals (service, verdict, reserved_cpus, proposed_cpus, proposed_memory_bytes,
                                          evidence, changes, proposed_by)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)
RETURNING *

-- name: get_proposal
SELECT * FROM aria_tune.resource_proposals WHERE id = $1

-- name: list_proposals
SELECT * FROM aria_tune.resource_proposals
WHERE ($1::text IS NULL OR service = $1) AND ($2::text IS NULL OR status = $2)
ORDER BY id DESC
LIMIT $3

-- name: decide_proposal
UPDATE aria_tune.resource_proposals
SET status = $2, decided_by = $3, decision_note = $4, decided_at = now()
WHERE id = $1 AND status = 'proposed'
RETURNING *
