-- aria_shape 0003: the training runs aria_shape started (start_training), by aria_queue job id.
-- Only these jobs' results become model versions, with the parent recorded here (the version
-- served when the run was started), never what a job's arguments or result claim: a job of the
-- worker aria_shape.train enqueued directly on aria_queue is not a run of aria_shape's.
-- Runs with search_path = aria_shape, public.

CREATE TABLE aria_shape.training_runs (
    job_id      bigint PRIMARY KEY,
    version     text NOT NULL CHECK (char_length(version) BETWEEN 1 AND 128),
    parent      text,
    enqueued_by text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX training_runs_version ON aria_shape.training_runs (version);
