-- Runs with search_path = aria_shape, public.
-- Feedback a caller can give only on what was served to them, once per version: each response of an
-- A/B split carries an id signed with the split's own key (`feedback_key`, made with the split;
-- NULL when none runs, or for a split stored before this migration, which gets a new key when it is
-- next loaded), and each caller (`scorer`: tenant and subject) holds one score per version, a newer
-- one replacing theirs (`ab_feedback`, emptied with the split's metrics). Without this anyone
-- allowed to give feedback could score a version as often as they liked and steer the verdict.
ALTER TABLE aria_shape.serving ADD COLUMN feedback_key bytea;

CREATE TABLE aria_shape.ab_feedback (
    scorer      text NOT NULL,
    version     text NOT NULL,
    value       double precision NOT NULL,
    response    text NOT NULL,
    given_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scorer, version)
);
