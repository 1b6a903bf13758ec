ALTER TABLE aria_tune.trials DROP CONSTRAINT IF EXISTS trials_vals_complete;
ALTER TABLE aria_tune.trials DROP COLUMN IF EXISTS vals;
ALTER TABLE aria_tune.studies DROP COLUMN IF EXISTS objectives;
