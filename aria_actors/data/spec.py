"""The spec of aria_data: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

FEATURES = (
    "postgres",
    "migrations",
    "pools",
    "schema",
    "query-optimization",
    "backup",
    "archival",
    "db-health",
    "multi-tenant",
    "distributed-transactions",
)

SPEC = ServiceSpec(
    name="aria_data",
    layer=1,
    depends_on=('aria_security',),
    kind="actor",
    num_cpus=0.0,
    capabilities=FEATURES,  # every seed feature is built and tested
    features=FEATURES,
    description="PostgreSQL: embedded server, pools, migrations, tenants, backup",
    entrypoint="aria_actors.data.service:DataService",
)
