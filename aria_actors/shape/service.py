"""aria_shape: Character generation with Qwen3-family models and GRPO training.

Not built yet: the service runs and reports ``not_implemented`` with the features it lacks.
"""

from __future__ import annotations

from aria_actors.runtime.service import UnbuiltService
from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_shape",
    layer=3,
    depends_on=('aria_security', 'aria_data', 'aria_storage', 'aria_queue'),
    kind="actor",
    num_cpus=0.0,
    capabilities=(),
    features=(
        'model-inference',
        'grpo-training',
        'model-versions',
        'gpu',
        'distributed-training',
        'templates',
        'trait-generation',
        'personality-model',
        'character-validation',
        'character-evolution',
        'multi-modal',
    ),
    description="Character generation with Qwen3-family models and GRPO training",
    entrypoint="aria_actors.shape.service:ShapeService",
)


class ShapeService(UnbuiltService):
    SPEC = SPEC
