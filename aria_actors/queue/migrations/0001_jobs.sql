-- aria_queue 0001: jobs, queues and producers (Oban's job model on PostgreSQL).
CREATE SCHEMA IF NOT EXISTS aria_queue;

CREATE TYPE aria_queue.job_state AS ENUM (
    'available', 'scheduled', 'executing', 'retryable', 'completed', 'discarded', 'cancelled'
);

CREATE TABLE aria_queue.jobs (
    id            bigserial PRIMARY KEY,
    state         aria_queue.job_state NOT NULL DEFAULT 'available',
    queue         text NOT NULL DEFAULT 'default' CHECK (char_length(queue) BETWEEN 1 AND 128),
    worker        text NOT NULL CHECK (char_length(worker) BETWEEN 1 AND 255),
    args          jsonb NOT NULL DEFAULT '{}'::jsonb,
    meta          jsonb NOT NULL DEFAULT '{}'::jsonb,
    tags          text[] NOT NULL DEFAULT '{}',
    result        jsonb,
    errors        jsonb NOT NULL DEFAULT '[]'::jsonb,
    priority      smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 9),
    attempt       integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts  integer NOT NULL DEFAULT 20 CHECK (max_attempts > 0),
    -- attempt <= max_attempts holds except after a manual retry of an exhausted job, which
    -- raises max_attempts by one (as Oban does).
    CONSTRAINT attempt_range CHECK (attempt <= max_attempts),
    inserted_at   timestamptz NOT NULL DEFAULT now(),
    scheduled_at  timestamptz NOT NULL DEFAULT now(),
    attempted_at  timestamptz,
    completed_at  timestamptz,
    discarded_at  timestamptz,
    cancelled_at  timestamptz,
    -- {node name, producer uuid} of the executor running the current attempt.
    attempted_by  text[],
    -- Uniqueness: the key is only enforced while the row's state is one of unique_states.
    unique_key    text,
    unique_states aria_queue.job_state[]
);

-- Fetch: one index range scan per queue in (priority, scheduled_at, id) order.
CREATE INDEX jobs_fetch_idx ON aria_queue.jobs (queue, priority, scheduled_at, id)
    WHERE state = 'available';
-- Stager: due scheduled/retryable jobs.
CREATE INDEX jobs_stage_idx ON aria_queue.jobs (scheduled_at, id)
    WHERE state IN ('scheduled', 'retryable');
-- Lifeline: executing jobs by producer.
CREATE INDEX jobs_executing_idx ON aria_queue.jobs ((attempted_by[2]))
    WHERE state = 'executing';
-- Pruner: finished jobs by finish time.
CREATE INDEX jobs_finished_idx ON aria_queue.jobs ((coalesce(completed_at, discarded_at, cancelled_at)), id)
    WHERE state IN ('completed', 'discarded', 'cancelled');
-- Listing by state (dead letter, operations).
CREATE INDEX jobs_state_queue_idx ON aria_queue.jobs (state, queue, id);
-- Uniqueness enforced by the database: INSERT ... ON CONFLICT against this partial index.
CREATE UNIQUE INDEX jobs_unique_idx ON aria_queue.jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state = ANY (unique_states);

-- Run-time queue settings shared by every node (pause/resume, local limit, worker actors).
CREATE TABLE aria_queue.queues (
    name        text PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 128),
    paused      boolean NOT NULL DEFAULT false,
    concurrency integer NOT NULL DEFAULT 10 CHECK (concurrency BETWEEN 1 AND 1000),
    replicas    integer NOT NULL DEFAULT 1 CHECK (replicas BETWEEN 0 AND 256),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per running executor; the heartbeat drives the lifeline plugin.
CREATE TABLE aria_queue.producers (
    uuid         uuid PRIMARY KEY,
    node         text NOT NULL,
    queues       text[] NOT NULL DEFAULT '{}',
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- Inserts wake executors listening on the queue's channel; delivered at commit, so an insert
-- inside a caller's transaction is only announced once it is visible.
CREATE FUNCTION aria_queue.notify_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('aria_queue_jobs', q.queue)
    FROM (SELECT DISTINCT queue FROM new_rows WHERE state = 'available') AS q;
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_notify_insert AFTER INSERT ON aria_queue.jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION aria_queue.notify_insert();
