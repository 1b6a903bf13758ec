-- aria_queue 0002: who enqueued each job. A job runs as its enqueuer (the principal recorded
-- here, written only by the producer from the verified caller, never from a request body), and a
-- caller with only @own rights sees the jobs it enqueued. NULL: enqueued in-process by trusted
-- code before this column existed or without a principal; such a job cannot call a service.
ALTER TABLE aria_queue.jobs ADD COLUMN enqueued_by jsonb
    CHECK (enqueued_by IS NULL OR jsonb_typeof(enqueued_by) = 'object');

-- A caller's own jobs, in id order (GET /v1/queue/jobs for @own callers).
CREATE INDEX jobs_enqueuer_idx ON aria_queue.jobs ((enqueued_by->>'subject'), id);
