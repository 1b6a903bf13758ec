-- Users and machine clients belong to a tenant: row-level security with aria_data's mechanism
-- (aria_data migration 0004), on aria_auth's column `tenant`. A tenant transaction of aria_auth
-- (Database.transaction(..., tenant="acme")) reads and writes only acme's users and clients,
-- whatever its WHERE clause says; outside one, the service's login (the tables' owner, or a
-- superuser) still sees every row for its cross-tenant work. Sessions, refresh tokens and
-- challenges carry no tenant and are not granted to aria_tenant.
SELECT aria_data.enable_tenant_isolation('aria_auth.users', 'tenant');
SELECT aria_data.enable_tenant_isolation('aria_auth.clients', 'tenant');
