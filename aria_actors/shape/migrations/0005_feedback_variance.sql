-- Runs with search_path = aria_shape, public.
-- The sum of squared feedback scores per version: with count and sum, the variance that aria_tune's
-- A/B significance test needs. New rows start at 0; rows that already counted scores get NULL
-- (their earlier squares are unknown): such a split reports no variance, and A/B tests on it get
-- no p-value, until a new split starts.
ALTER TABLE aria_shape.ab_metrics ADD COLUMN feedback_sumsq double precision DEFAULT 0;
UPDATE aria_shape.ab_metrics SET feedback_sumsq = NULL WHERE feedback_count > 0;
