SELECT aria_data.disable_tenant_isolation('aria_interpret.characters');
SELECT aria_data.disable_tenant_isolation('aria_interpret.events');
DROP TABLE aria_interpret.training_runs;
DROP TABLE aria_interpret.ab_metrics;
DROP TABLE aria_interpret.promotions;
DROP TABLE aria_interpret.serving;
DROP TABLE aria_interpret.model_versions;
DROP TABLE aria_interpret.characters;
DROP TABLE aria_interpret.events;
