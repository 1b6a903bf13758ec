-- Named queries of the transactional outbox (aria_actors/data/outbox.py).

-- name: put
INSERT INTO aria_data.outbox (topic, key, payload) VALUES ($1, $2, $3::jsonb) RETURNING id;

-- name: claim
-- Delivery workers on many nodes share the table: SKIP LOCKED hands each row to one of them.
SELECT id, topic, key, payload::text AS payload, tenant_id, created_at, attempts
FROM aria_data.outbox
WHERE delivered_at IS NULL
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED;

-- name: delivered
UPDATE aria_data.outbox SET delivered_at = now(), attempts = attempts + 1 WHERE id = ANY($1::bigint[]);

-- name: failed
UPDATE aria_data.outbox SET attempts = attempts + 1 WHERE id = ANY($1::bigint[]);
