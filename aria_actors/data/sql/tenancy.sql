-- Named queries of row-level-security tenancy (aria_actors/data/tenancy.py).

-- name: set_tenant
-- One round trip: set_config(..., true) is SET LOCAL, and takes the tenant as a parameter. The
-- setting name and the role are tenancy.TENANT_GUC and tenancy.TENANT_ROLE.
SELECT set_config('aria.tenant_id', $1, true), set_config('role', 'aria_tenant', true);

-- name: current_tenant
SELECT aria_data.current_tenant();
