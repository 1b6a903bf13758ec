-- The cluster-wide role aria_tenant stays: other databases of the cluster may use it.
DROP TABLE aria_data.outbox;
DROP FUNCTION aria_data.enable_tenant_isolation(regclass);
DROP FUNCTION aria_data.current_tenant();
REVOKE USAGE ON SCHEMA aria_data FROM aria_tenant;
