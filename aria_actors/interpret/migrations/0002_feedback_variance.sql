-- Runs with search_path = aria_interpret, public.
-- The sum of squared feedback values per version: with count and sum, the variance that aria_tune's
-- A/B significance test needs. New rows start at 0; rows that already counted feedback get NULL
-- (their earlier squares are unknown): no variance is reported for that split.
ALTER TABLE aria_interpret.ab_metrics ADD COLUMN feedback_sumsq double precision DEFAULT 0;
UPDATE aria_interpret.ab_metrics SET feedback_sumsq = NULL WHERE feedback_count > 0;
