-- aria_queue 0002 down: forget who enqueued each job.
DROP INDEX IF EXISTS aria_queue.jobs_enqueuer_idx;
ALTER TABLE aria_queue.jobs DROP COLUMN IF EXISTS enqueued_by;
