"""The spec of aria_interpret: cheap to import (the registry and the boot read every SPEC)."""

from __future__ import annotations

from aria_actors.runtime.spec import ServiceSpec

SPEC = ServiceSpec(
    name="aria_interpret",
    layer=3,
    depends_on=('aria_security', 'aria_data', 'aria_storage', 'aria_queue'),
    kind="actor",
    num_cpus=0.0,
    # Built means reachable (a route, the CLI: tests/unit/test_reachability.py).
    capabilities=(
        'nlp',
        'behavior-patterns',
        'interaction-stats',
        'predictive-models',
        'din',
        'trait-analysis',
        'content-recommendations',
        'collaborative-filtering',
        'recommendation-serving',
    ),
    features=(
        'nlp',
        'behavior-patterns',
        'interaction-stats',
        'predictive-models',
        'din',
        'trait-analysis',
        'content-recommendations',
        'collaborative-filtering',
        'recommendation-serving',
    ),
    description="NLP over character text, analytics of characters' behaviour, a DIN recommender",
    entrypoint="aria_actors.interpret.service:InterpretService",
    # Text models load on the first text call (seconds: torch, MiniLM, spaCy), above the default.
    call_timeout_s=120.0,
)
