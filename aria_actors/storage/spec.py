"""The spec of aria_storage: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

FEATURES = (
    "cas",
    "s3",
    "sftp",
    "cdn",
    "desync-dedupe",
    "compression",
    "versions",
    "sync",
    "gc",
    "metadata-search",
    "lifecycle",
)

SPEC = ServiceSpec(
    name="aria_storage",
    layer=2,
    # aria_data is not in the seed's list, but asset versions live in Postgres "through aria_data".
    depends_on=('aria_security', 'aria_auth', 'aria_data'),
    kind="actor",
    num_cpus=0.0,
    capabilities=FEATURES,  # every seed feature is built and tested
    features=FEATURES,
    description="Content-addressed chunk store in the desync/casync format",
    entrypoint="aria_actors.storage.service:StorageService",
)
