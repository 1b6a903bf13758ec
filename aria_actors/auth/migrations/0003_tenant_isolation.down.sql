SELECT aria_data.disable_tenant_isolation('aria_auth.clients');
SELECT aria_data.disable_tenant_isolation('aria_auth.users');
REVOKE USAGE ON SCHEMA aria_auth FROM aria_tenant;
