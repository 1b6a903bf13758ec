"""aria_data: PostgreSQL: embedded server, pools, migrations, tenants, backup.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.runtime.service import UnbuiltService
from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_data",
    layer=1,
    depends_on=('aria_security',),
    kind="actor",
    num_cpus=0.0,
    capabilities=(),
    features=(
        'postgres',
        'migrations',
        'pools',
        'schema',
        'query-optimization',
        'backup',
        'archival',
        'db-health',
        'multi-tenant',
        'distributed-transactions',
    ),
    description="PostgreSQL: embedded server, pools, migrations, tenants, backup",
    entrypoint="aria_actors.data.service:DataService",
)


class DataService(UnbuiltService):
    SPEC = SPEC
