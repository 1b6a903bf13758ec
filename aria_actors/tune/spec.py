"""The spec of aria_tune: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_tune",
    layer=5,
    # The seed says "AI services" too: shape, engine and interpret.
    depends_on=("aria_security", "aria_data", "aria_monitor", "aria_queue",
                "aria_shape", "aria_engine", "aria_interpret"),
    kind="actor",
    num_cpus=0.0,
    # Built means reachable (a route, the CLI: tests/unit/test_reachability.py).
    capabilities=("hyperparameters", "auto-tuning", "cache-optimization", "query-optimization",
                  "resource-optimization", "architecture-search", "pipeline-optimization", "model-ab-testing"),
    features=(
        'auto-tuning',
        'resource-optimization',
        'query-optimization',
        'cache-optimization',
        'hyperparameters',
        'architecture-search',
        'pipeline-optimization',
        'model-ab-testing',
    ),
    description="Performance and hyperparameter tuning",
    entrypoint="aria_actors.tune.service:TuneService",
)
