"""A new home's models made ahead of their first use, in a Ray worker process of their own.

On a new ``ARIA_HOME`` the first generation would otherwise build the tiny model (tokenizer,
causal-LM pretraining) in the replica and train the personality head in the service actor, on
top of the replica's start. The service's shell starts :func:`prepare_in_worker` after the
service is up, without holding the boot; the actor itself stays free of torch (the model lives
in the replica's engine), so the work runs in a one-call worker that exits after it.

Both steps write atomically (a directory renamed into place, a head file written once): a replica
or a generation racing them loads either nothing yet (and builds it itself) or the whole.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aria_actors.shape.source import ModelSource


def prepare_models(source: ModelSource, personality_dir: str) -> dict[str, float]:
    """Build the tiny model's files (when ``source`` is the tiny model) and the personality head;
    the seconds each took."""
    # heavy: torch and transformers, in the worker that runs this only
    import torch

    from aria_actors.shape.characters.personality import shared_model
    from aria_actors.shape.model import ensure_tiny

    torch.set_num_threads(1)  # background work beside the boot: one core at most
    took: dict[str, float] = {}
    if source.label == "tiny":
        t0 = time.perf_counter()
        ensure_tiny(source.shape_config(), None if source.home is None else Path(source.home))
        took["tiny_model_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    shared_model(Path(personality_dir))
    took["personality_s"] = round(time.perf_counter() - t0, 2)
    return took


async def prepare_in_worker(source: ModelSource, personality_dir: str) -> dict[str, Any]:
    """:func:`prepare_models` in a Ray worker that exits after it (``max_calls=1``: torch's memory
    goes with it)."""
    import ray  # ray: only the service's Ray shell prepares ahead; the core never imports it

    task = ray.remote(num_cpus=0, max_calls=1)(prepare_models)
    return await task.remote(source, personality_dir)
