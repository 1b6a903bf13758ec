DROP TABLE IF EXISTS aria_workflow.signals;
DROP TABLE IF EXISTS aria_workflow.history;
DROP TABLE IF EXISTS aria_workflow.steps;
SELECT aria_data.disable_tenant_isolation('aria_workflow.runs');
DROP TABLE IF EXISTS aria_workflow.runs;
SELECT aria_data.disable_tenant_isolation('aria_workflow.releases');
DROP TABLE IF EXISTS aria_workflow.releases;
SELECT aria_data.disable_tenant_isolation('aria_workflow.definitions');
DROP TABLE IF EXISTS aria_workflow.definitions;
