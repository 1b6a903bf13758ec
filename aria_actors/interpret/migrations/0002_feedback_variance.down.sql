-- Runs with search_path = aria_interpret, public.
ALTER TABLE aria_interpret.ab_metrics DROP COLUMN IF EXISTS feedback_sumsq;
