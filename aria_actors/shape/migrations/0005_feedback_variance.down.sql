-- Runs with search_path = aria_shape, public.
ALTER TABLE aria_shape.ab_metrics DROP COLUMN IF EXISTS feedback_sumsq;
