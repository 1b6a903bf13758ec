DROP TABLE aria_tune.autotune_changes;
