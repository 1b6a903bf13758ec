"""The spec of aria_interface: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_interface",
    layer=4,
    depends_on=('aria_security', 'aria_auth', 'aria_data', 'aria_storage', 'aria_queue', 'aria_workflow'),
    kind="deployment",
    num_cpus=0.0,
    capabilities=(
        'api-docs',
        'character-ui',
        'collaboration',
        'monitoring-dashboard',
        'rate-limiting',
        'rest',
        'web-ui',
        'webrtc',
        'websocket',
    ),
    features=(
        'web-ui',
        'character-ui',
        'monitoring-dashboard',
        'api-docs',
        'rest',
        'websocket',
        'webrtc',
        'rate-limiting',
        'collaboration',
    ),
    description="Web UI, REST, WebSocket, WebRTC signalling",
    entrypoint="aria_actors.interface.service:InterfaceService",
)
