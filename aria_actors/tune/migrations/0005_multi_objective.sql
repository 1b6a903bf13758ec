-- aria_tune 0005: studies of several objectives (architecture search: a quality metric against
-- costs). Runs with search_path = aria_tune, public.
--
-- `objectives` lists the study's metrics in order, [{name, direction}, ...] (NULL: one objective,
-- `direction`, as before); a trial of such a study keeps its values in that order in `vals`, and
-- its first in `value`, so counts, "best" and the state/value check read as for any study.
ALTER TABLE aria_tune.studies
    ADD COLUMN objectives jsonb
        CHECK (objectives IS NULL OR (jsonb_typeof(objectives) = 'array' AND jsonb_array_length(objectives) >= 2));
ALTER TABLE aria_tune.trials
    ADD COLUMN vals double precision[]
        -- finite values only, as `value` (NaN = NaN is true in PostgreSQL: test the range)
        CHECK (vals IS NULL OR (array_ndims(vals) = 1 AND '-Infinity'::float8 < ALL (vals)
                                AND 'Infinity'::float8 > ALL (vals) AND 'NaN'::float8 <> ALL (vals))),
    ADD CONSTRAINT trials_vals_complete CHECK (vals IS NULL OR state = 'complete');
