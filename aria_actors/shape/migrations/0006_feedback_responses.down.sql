-- Runs with search_path = aria_shape, public.
DROP TABLE IF EXISTS aria_shape.ab_feedback;
ALTER TABLE aria_shape.serving DROP COLUMN IF EXISTS feedback_key;
