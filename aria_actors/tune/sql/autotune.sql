-- Named queries of the auto-tuner's changes (loaded by aria_actors.tune.autotune_store).

-- name: insert_change
-- ON CONFLICT: another change of the knob and target is open (the partial unique index).
INSERT INTO aria_tune.autotune_changes (knob, target, old_value, new_value, source, reason, proposed_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (knob, target) WHERE status IN ('proposed', 'measuring') DO NOTHING
RETURNING *

-- name: get_change
SELECT * FROM aria_tune.autotune_changes WHERE id = $1

-- name: open_change
SELECT * FROM aria_tune.autotune_changes
WHERE knob = $1 AND target = $2 AND status IN ('proposed', 'measuring')

-- name: list_changes
SELECT * FROM aria_tune.autotune_changes
WHERE ($1::text IS NULL OR knob = $1) AND ($2::text IS NULL OR target = $2) AND ($3::text IS NULL OR status = $3)
ORDER BY id DESC
LIMIT $4

-- name: start_change
UPDATE aria_tune.autotune_changes
SET status = 'measuring', approved_by = $2, applied_at = now()
WHERE id = $1 AND status = 'proposed'
RETURNING *

-- name: measured_before
UPDATE aria_tune.autotune_changes SET before = $2::jsonb WHERE id = $1 AND status = 'measuring' RETURNING *

-- name: finish_change
UPDATE aria_tune.autotune_changes
SET status = $2, before = COALESCE($3::jsonb, before), after = COALESCE($4::jsonb, after), decision_reason = $5,
    decided_at = now()
WHERE id = $1 AND status = 'measuring'
RETURNING *

-- name: reject_change
UPDATE aria_tune.autotune_changes
SET status = 'rejected', decided_by = $2, decision_reason = $3, decided_at = now()
WHERE id = $1 AND status = 'proposed'
RETURNING *

-- name: measuring_changes
SELECT * FROM aria_tune.autotune_changes WHERE status = 'measuring' ORDER BY id

-- name: since_decided
SELECT extract(epoch FROM now() - max(decided_at))::float8 FROM aria_tune.autotune_changes
WHERE knob = $1 AND target = $2 AND decided_at IS NOT NULL
