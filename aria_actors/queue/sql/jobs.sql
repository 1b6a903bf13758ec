-- Named queries of aria_queue (loaded by aria_actors.queue.sql). Parameters are positional.

-- name: insert_jobs
-- One statement for one or many jobs; rows whose unique key is taken are skipped.
INSERT INTO aria_queue.jobs AS j
    (state, queue, worker, args, meta, tags, priority, max_attempts, scheduled_at,
     unique_key, unique_states, enqueued_by)
SELECT s::aria_queue.job_state, q, w, a, m, ARRAY(SELECT jsonb_array_elements_text(t)), p, ma,
       coalesce(sa, now()), uk, us::aria_queue.job_state[], eb
FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::jsonb[],
            $7::smallint[], $8::integer[], $9::timestamptz[], $10::text[], $11::text[],
            $12::jsonb[])
     WITH ORDINALITY AS r(s, q, w, a, m, t, p, ma, sa, uk, us, eb, ord)
ORDER BY ord
ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state = ANY (unique_states) DO NOTHING
RETURNING j.*

-- name: find_unique
SELECT * FROM aria_queue.jobs
WHERE unique_key = ANY ($1::text[]) AND state = ANY (unique_states)

-- name: fetch_jobs
-- Claim up to $2 available jobs of queue $1 in one statement; concurrent fetchers skip each
-- other's rows instead of waiting for them.
WITH next AS (
    SELECT id FROM aria_queue.jobs
    WHERE state = 'available' AND queue = $1
    ORDER BY priority, scheduled_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE aria_queue.jobs AS j
SET state = 'executing', attempt = j.attempt + 1, attempted_at = now(), attempted_by = $3::text[]
FROM next WHERE j.id = next.id
RETURNING j.id, j.queue, j.worker, j.args, j.meta, j.tags, j.priority, j.attempt, j.max_attempts,
          j.inserted_at, j.scheduled_at, j.attempted_at, j.enqueued_by

-- name: durable_commit
-- The executor's connections commit claims, heartbeats and staging without waiting for the WAL
-- flush; an outcome transaction waits for it (and so flushes every earlier claim with it).
SET LOCAL synchronous_commit TO on;

-- name: ack_completed
-- Every ack names the producer and attempt that claimed the job, so the late ack of a node the
-- lifeline gave up on changes nothing once the job was rescued or claimed again.
UPDATE aria_queue.jobs AS j
SET state = 'completed', completed_at = now(), result = r.result
FROM unnest($1::bigint[], $2::jsonb[], $3::integer[]) AS r(id, result, attempt)
WHERE j.id = r.id AND j.state = 'executing' AND j.attempt = r.attempt AND j.attempted_by[2] = $4

-- name: ack_failed
-- Failed attempts: retryable with a backoff, or discarded once attempts are spent.
UPDATE aria_queue.jobs AS j
SET state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded'::aria_queue.job_state
                 ELSE 'retryable'::aria_queue.job_state END,
    discarded_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
    scheduled_at = CASE WHEN j.attempt >= j.max_attempts THEN j.scheduled_at
                        ELSE now() + make_interval(secs => r.backoff) END,
    errors = j.errors || r.error
FROM unnest($1::bigint[], $2::jsonb[], $3::float8[], $4::integer[]) AS r(id, error, backoff, attempt)
WHERE j.id = r.id AND j.state = 'executing' AND j.attempt = r.attempt AND j.attempted_by[2] = $5

-- name: ack_snoozed
-- Snooze does not spend an attempt (max_attempts grows with it, as in Oban).
UPDATE aria_queue.jobs AS j
SET state = 'scheduled', scheduled_at = now() + make_interval(secs => r.secs),
    max_attempts = j.max_attempts + 1,
    meta = jsonb_set(j.meta, '{snoozed}', to_jsonb(coalesce((j.meta->>'snoozed')::int, 0) + 1))
FROM unnest($1::bigint[], $2::float8[], $3::integer[]) AS r(id, secs, attempt)
WHERE j.id = r.id AND j.state = 'executing' AND j.attempt = r.attempt AND j.attempted_by[2] = $4

-- name: ack_cancelled
UPDATE aria_queue.jobs AS j
SET state = 'cancelled', cancelled_at = now(), errors = j.errors || r.error
FROM unnest($1::bigint[], $2::jsonb[], $3::integer[]) AS r(id, error, attempt)
WHERE j.id = r.id AND j.state = 'executing' AND j.attempt = r.attempt AND j.attempted_by[2] = $4

-- name: ack_discarded
UPDATE aria_queue.jobs AS j
SET state = 'discarded', discarded_at = now(), errors = j.errors || r.error
FROM unnest($1::bigint[], $2::jsonb[], $3::integer[]) AS r(id, error, attempt)
WHERE j.id = r.id AND j.state = 'executing' AND j.attempt = r.attempt AND j.attempted_by[2] = $4

-- name: stage_jobs
-- Due scheduled/retryable jobs become available; each queue that got jobs is woken.
WITH due AS (
    SELECT id FROM aria_queue.jobs
    WHERE state IN ('scheduled', 'retryable') AND scheduled_at <= now()
    ORDER BY scheduled_at, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE aria_queue.jobs AS j SET state = 'available'
    FROM due WHERE j.id = due.id
    RETURNING j.queue
), counted AS (
    SELECT queue, count(*) AS n FROM moved GROUP BY queue
)
SELECT queue, n, pg_notify('aria_queue_jobs', queue) FROM counted

-- name: prune_jobs
WITH old AS (
    SELECT id FROM aria_queue.jobs
    WHERE state IN ('completed', 'discarded', 'cancelled')
      AND coalesce(completed_at, discarded_at, cancelled_at) < now() - make_interval(secs => $1)
    ORDER BY coalesce(completed_at, discarded_at, cancelled_at), id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
DELETE FROM aria_queue.jobs AS j USING old WHERE j.id = old.id
RETURNING j.id

-- name: heartbeat
INSERT INTO aria_queue.producers (uuid, node, queues)
VALUES ($1, $2, $3)
ON CONFLICT (uuid) DO UPDATE SET heartbeat_at = now(), queues = excluded.queues

-- name: delete_producer
DELETE FROM aria_queue.producers WHERE uuid = $1

-- name: rescue_orphans
-- Jobs executing under a producer whose heartbeat is stale (or gone): the attempt is recorded as
-- an error; jobs with attempts left become available again, the others are discarded.
WITH dead AS (
    SELECT uuid::text AS uuid FROM aria_queue.producers
    WHERE heartbeat_at < now() - make_interval(secs => $1)
), orphans AS (
    SELECT j.id FROM aria_queue.jobs AS j
    WHERE j.state = 'executing'
      AND j.attempted_at < now() - make_interval(secs => $1)
      AND (j.attempted_by[2] IN (SELECT uuid FROM dead)
           OR NOT EXISTS (SELECT 1 FROM aria_queue.producers AS p
                          WHERE p.uuid::text = j.attempted_by[2]))
    ORDER BY j.id
    LIMIT $2
    FOR UPDATE OF j SKIP LOCKED
), rescued AS (
    UPDATE aria_queue.jobs AS j
    SET state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded'::aria_queue.job_state
                     ELSE 'available'::aria_queue.job_state END,
        discarded_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
        errors = j.errors || jsonb_build_array(jsonb_build_object(
            'attempt', j.attempt, 'at', now(), 'kind', 'orphaned',
            'error', 'orphaned: executor ' || coalesce(array_to_string(j.attempted_by, '/'), '?')
                     || ' stopped heartbeating during the attempt',
            'traceback', NULL))
    FROM orphans WHERE j.id = orphans.id
    RETURNING j.id, j.queue, j.state
)
SELECT id, queue, state::text AS state, pg_notify('aria_queue_jobs', queue)
FROM rescued

-- name: delete_dead_producers
DELETE FROM aria_queue.producers
WHERE heartbeat_at < now() - make_interval(secs => $1)
  AND NOT EXISTS (SELECT 1 FROM aria_queue.jobs AS j
                  WHERE j.state = 'executing' AND j.attempted_by[2] = uuid::text)

-- name: get_job
SELECT * FROM aria_queue.jobs WHERE id = $1

-- name: list_jobs
-- $6: only jobs this subject enqueued (NULL: anyone's); $7: only jobs of tenant $8 or of no
-- tenant (the role table's @tenant rule); neither: every job (@any).
SELECT * FROM aria_queue.jobs
WHERE ($1::text IS NULL OR state = $1::aria_queue.job_state)
  AND ($2::text IS NULL OR queue = $2)
  AND ($3::text IS NULL OR worker = $3)
  AND id > $4
  AND ($6::text IS NULL OR enqueued_by->>'subject' = $6::text)
  AND (NOT $7::bool OR enqueued_by->>'tenant' IS NULL OR enqueued_by->>'tenant' = $8::text)
ORDER BY id
LIMIT $5

-- name: enqueuers_of
SELECT id, enqueued_by FROM aria_queue.jobs WHERE id = ANY ($1::bigint[])

-- name: retry_jobs
-- Back to available now; an exhausted job gets one more attempt.
WITH moved AS (
    UPDATE aria_queue.jobs
    SET state = 'available', scheduled_at = now(),
        max_attempts = greatest(max_attempts, attempt + 1),
        completed_at = NULL, discarded_at = NULL, cancelled_at = NULL
    WHERE id = ANY ($1::bigint[]) AND state IN ('scheduled', 'retryable', 'discarded', 'cancelled', 'completed')
    RETURNING id, queue
)
SELECT id, queue, pg_notify('aria_queue_jobs', queue) FROM moved

-- name: cancel_jobs
-- Jobs not yet running are cancelled here; executing ones are cancelled by their executor
-- (it listens on aria_queue_signal) and end 'cancelled' when it stops them.
WITH moved AS (
    UPDATE aria_queue.jobs
    SET state = 'cancelled', cancelled_at = now()
    WHERE id = ANY ($1::bigint[]) AND state IN ('available', 'scheduled', 'retryable')
    RETURNING id
), running AS (
    SELECT id FROM aria_queue.jobs WHERE id = ANY ($1::bigint[]) AND state = 'executing'
)
SELECT id, 'cancelled' AS how FROM moved
UNION ALL
SELECT id, 'signalled' AS how FROM running

-- name: count_by_state
SELECT queue, state::text AS state, count(*)::bigint AS n
FROM aria_queue.jobs GROUP BY queue, state

-- name: oldest_available
SELECT queue, extract(epoch FROM now() - min(scheduled_at))::float8 AS age_s
FROM aria_queue.jobs WHERE state = 'available' GROUP BY queue

-- name: upsert_queue
INSERT INTO aria_queue.queues (name, paused, concurrency, replicas)
VALUES ($1, coalesce($2, false), coalesce($3, 10), coalesce($4, 1))
ON CONFLICT (name) DO UPDATE SET
    paused = coalesce($2, aria_queue.queues.paused),
    concurrency = coalesce($3, aria_queue.queues.concurrency),
    replicas = coalesce($4, aria_queue.queues.replicas),
    updated_at = now()
RETURNING *

-- name: list_queues
SELECT * FROM aria_queue.queues ORDER BY name

-- name: get_queue
SELECT * FROM aria_queue.queues WHERE name = $1

-- name: ensure_queue
INSERT INTO aria_queue.queues (name, concurrency) VALUES ($1, $2)
ON CONFLICT (name) DO NOTHING

-- name: get_queues
SELECT * FROM aria_queue.queues WHERE name = ANY ($1::text[])

-- name: testing_make_due
UPDATE aria_queue.jobs SET scheduled_at = now()
WHERE queue = ANY ($1::text[]) AND state IN ('scheduled', 'retryable')

-- name: testing_count_in_states
SELECT count(*) FROM aria_queue.jobs
WHERE queue = ANY ($1::text[]) AND state = ANY ($2::aria_queue.job_state[])

-- name: testing_claimed_by
SELECT id FROM aria_queue.jobs WHERE attempted_by[2] = $1

-- name: testing_states_of
SELECT state::text AS state, count(*) AS n FROM aria_queue.jobs WHERE id = ANY ($1::bigint[])
GROUP BY 1

-- name: signal
-- A message to every executor (admin.py: cancel running jobs, a queue's settings changed).
SELECT pg_notify($1, $2)

-- name: try_lead
-- Leadership among nodes (plugins.Leader): a session-level lock on the leader's own connection.
SELECT pg_try_advisory_lock($1)

-- name: resign_lead
SELECT pg_advisory_unlock($1)

-- name: ping
SELECT 1
