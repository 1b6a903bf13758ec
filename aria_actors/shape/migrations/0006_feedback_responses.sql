-- Runs with search_path = aria_shape, public.
-- Feedback per served response: each response of an A/B split carries an id signed with the
-- split's own key (`feedback_key`, made with the split, NULL when none runs or for a split stored
-- before this migration, which gets a new key when it is next loaded), and each id is scored at
-- most once (`ab_feedback_given`, emptied with the split's metrics). Without this anyone allowed to
-- give feedback could score a version as often as they liked and steer the test's verdict.
ALTER TABLE aria_shape.serving ADD COLUMN feedback_key bytea;

CREATE TABLE aria_shape.ab_feedback_given (
    response    text PRIMARY KEY,
    version     text NOT NULL,
    value       double precision NOT NULL,
    given_at    timestamptz NOT NULL DEFAULT now()
);
