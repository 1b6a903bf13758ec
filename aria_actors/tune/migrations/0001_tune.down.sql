SELECT aria_data.disable_tenant_isolation('aria_tune.trials');
SELECT aria_data.disable_tenant_isolation('aria_tune.studies');
DROP TABLE aria_tune.trials;
DROP TABLE aria_tune.studies;
