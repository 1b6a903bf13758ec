-- aria_tune 0007: an A/B test's decision rule (abtest_core.py). Runs with search_path = aria_tune, public.
-- method: 'sequential' (mSPRT: valid however often the test is looked at; `effect`: the standardised
-- effect size it is tuned to, NULL for the default mixture) or 'fixed' (Welch's p-value: valid for
-- one look at a planned sample size). Tests recorded before this migration were decided by Welch's
-- p-value: they stay 'fixed'.
ALTER TABLE aria_tune.ab_tests
    ADD COLUMN method text NOT NULL DEFAULT 'fixed' CHECK (method IN ('sequential', 'fixed')),
    ADD COLUMN effect double precision CHECK (effect IS NULL OR (effect > 0 AND effect <= 10));
