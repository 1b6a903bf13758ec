-- Named queries of aria_engine's decision state (loaded by aria_actors.engine.decisions).
-- Parameters are positional; $1 is always the tenant ('' for none), $2 the character.

-- name: lock_state
SELECT tenant, character, domain, plan, todo, step, beliefs, status, reason, version,
       created_at, updated_at
FROM aria_engine.decision_states
WHERE tenant = $1 AND character = $2
FOR UPDATE

-- name: get_state
SELECT tenant, character, domain, plan, todo, step, beliefs, status, reason, version,
       created_at, updated_at
FROM aria_engine.decision_states
WHERE tenant = $1 AND character = $2

-- name: insert_state
INSERT INTO aria_engine.decision_states
    (tenant, character, domain, plan, todo, step, beliefs, status, reason, version)
VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7::jsonb, $8, $9, 1)
RETURNING tenant, character, domain, plan, todo, step, beliefs, status, reason, version,
          created_at, updated_at

-- name: update_state
UPDATE aria_engine.decision_states
SET domain = $3, plan = $4::jsonb, todo = $5::jsonb, step = $6, beliefs = $7::jsonb, status = $8,
    reason = $9, version = version + 1, updated_at = now()
WHERE tenant = $1 AND character = $2
RETURNING tenant, character, domain, plan, todo, step, beliefs, status, reason, version,
          created_at, updated_at

-- name: list_states
-- Keyset paging by character name: $2 is the last character of the previous page ('' first).
-- Summaries: the plan's length and next step, never the whole plan, todo list or beliefs.
SELECT tenant, character, domain, step, status, reason, version, created_at, updated_at,
       jsonb_array_length(plan) AS steps, plan -> step AS next_step
FROM aria_engine.decision_states
WHERE tenant = $1 AND character > $2 AND ($3::text IS NULL OR status = $3)
ORDER BY character
LIMIT $4

-- name: insert_event
INSERT INTO aria_engine.decision_events (tenant, character, version, event, step, status, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)

-- name: trim_events
-- Keep the newest $3 events of the character.
DELETE FROM aria_engine.decision_events
WHERE tenant = $1 AND character = $2 AND id < (
    SELECT min(id) FROM (
        SELECT id FROM aria_engine.decision_events
        WHERE tenant = $1 AND character = $2
        ORDER BY id DESC
        LIMIT $3
    ) AS newest
)

-- name: events
SELECT version, event, step, status, detail, at
FROM aria_engine.decision_events
WHERE tenant = $1 AND character = $2
ORDER BY id DESC
LIMIT $3

-- name: count_by_status
-- Every tenant's (the service counts once at start, what it resumes): run without a tenant.
SELECT status, count(*) AS n FROM aria_engine.decision_states GROUP BY status

-- name: ping
-- The health probe's round trip: reads no table.
SELECT 1
