"""The spec of aria_debugger: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_debugger",
    layer=5,
    # aria_data: the collected log records (logs.py)
    depends_on=('aria_security', 'aria_auth', 'aria_data'),
    kind="actor",
    num_cpus=0.0,
    capabilities=('profiling', 'inspection', 'state-inspection', 'config-interface', 'log-search',
                  'repl', 'hot-reload', 'dependency-graph', 'tracing'),
    features=(
        'inspection',
        'config-interface',
        'repl',
        'hot-reload',
        'profiling',
        'tracing',
        'log-search',
        'state-inspection',
        'dependency-graph',
    ),
    description="Runtime inspection and tracing",
    entrypoint="aria_actors.debugger.service:DebuggerService",
    # a profile samples for up to 30 s (and again in-process when py-spy fails): room for both
    call_timeout_s=90.0,
)
