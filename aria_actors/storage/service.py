"""aria_storage: Content-addressed chunk store in the desync/casync format.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.runtime.service import UnbuiltService
from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_storage",
    layer=2,
    depends_on=('aria_security', 'aria_auth'),
    kind="actor",
    num_cpus=0.0,
    capabilities=(),
    features=(
        'cas',
        's3',
        'sftp',
        'cdn',
        'desync-dedupe',
        'compression',
        'versions',
        'sync',
        'gc',
        'metadata-search',
        'lifecycle',
    ),
    description="Content-addressed chunk store in the desync/casync format",
    entrypoint="aria_actors.storage.service:StorageService",
)


class StorageService(UnbuiltService):
    SPEC = SPEC
