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
    # Built means reachable (a route, the CLI: tests/unit/test_reachability.py). Tenancy by row-level
    # security (tenancy.py) and retrying transactions (transactions.py, Database.transaction) are
    # library code no service uses yet: missing until the services that need them do (issue 17).
    capabilities=tuple(f for f in FEATURES if f not in ("multi-tenant", "distributed-transactions")),
    features=FEATURES,
    description="PostgreSQL: embedded server, pools, migrations, tenants, backup",
    entrypoint="aria_actors.data.service:DataService",
)
