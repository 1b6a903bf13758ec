SELECT aria_data.disable_tenant_isolation('aria_engine.decision_events');
SELECT aria_data.disable_tenant_isolation('aria_engine.decision_states');
DROP TABLE IF EXISTS aria_engine.decision_events;
DROP TABLE IF EXISTS aria_engine.decision_states;
