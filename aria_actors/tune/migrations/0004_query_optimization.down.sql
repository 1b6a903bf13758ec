DROP TABLE aria_tune.strategy_choices;
DROP TABLE aria_tune.query_probe;
DROP TABLE aria_tune.query_suggestions;
