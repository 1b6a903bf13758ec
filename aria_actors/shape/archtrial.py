"""Evaluate-only architecture trials of the tiny Qwen3 model: build it from (layers, hidden size,
heads), train a few causal-LM steps on the generated corpus, report the held-out loss, the
parameter count and the latency of one forward pass; store nothing. What aria_tune's
``qwen3-arch`` objective calls (through ``ShapeService.evaluate_architecture``).

::

    check_arch(params) -> {num_layers, hidden_size, num_heads}   (ValueError naming params.<name>)
    evaluate_arch(cfg, arch, steps) -> {loss (held-out), train_loss, parameters, latency_ms, wall_s}

Guarantees and caveats
----------------------
- Bounded: ARCH_LIMITS and ``steps`` (the caller's budget, capped by the service's setting); the
  corpus is 400 training and 100 held-out texts (other seeds than the tiny model's), so a trial
  takes seconds at the default sizes.
- Deterministic for (params, steps, seed): the tokenizer is trained once per process on the
  same texts, the weights and batches come from seeded generators.
- The model's key/value heads equal its heads, its MLP is 2x the hidden size: one architecture
  per (layers, hidden, heads).
- torch and transformers load on first use (aria_actors.shape.model).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping
from typing import Any

from aria_actors.runtime.errors import BadRequest

ARCH_LIMITS = {"num_layers": (1, 6), "hidden_size": (16, 256), "num_heads": (1, 8)}
TRAIN_TEXTS, HELD_TEXTS, BATCH = 400, 100, 8
LATENCY_REPEATS = 15


class BadArch(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def check_arch(params: Any) -> dict[str, int]:
    """The architecture of ``params`` ({num_layers, hidden_size, num_heads}, each optional)."""
    if not isinstance(params, Mapping):
        raise BadArch("params must be an object of num_layers, hidden_size, num_heads", "params")
    out = {"num_layers": 2, "hidden_size": 64, "num_heads": 4}
    for name, value in params.items():
        if name not in ARCH_LIMITS:
            raise BadArch(f"unknown parameter {name!r}; known: {sorted(ARCH_LIMITS)}", f"params.{name}")
        low, high = ARCH_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise BadArch(f"{name} must be an integer from {low} to {high}", f"params.{name}")
        out[name] = value
    if out["hidden_size"] % out["num_heads"] or (out["hidden_size"] // out["num_heads"]) % 2:
        raise BadArch("hidden_size must be a multiple of 2 x num_heads (an even head width)", "params.hidden_size")
    return out


@functools.cache
def _texts(seed: int, vocab_size: int) -> tuple[Any, list[str], list[str]]:
    # heavy: the corpus and the tokenizer trainer (tokenizers, torch) load only for a trial
    from aria_actors.shape.characters.corpus import corpus
    from aria_actors.shape.model import train_tokenizer

    train = corpus(TRAIN_TEXTS, seed=seed + 1)
    held = corpus(HELD_TEXTS, seed=seed + 2)
    return train_tokenizer(train, vocab_size), train, held


def evaluate_arch(cfg: Any, arch: Mapping[str, int], steps: int, seed: int = 0) -> dict[str, Any]:
    """Train the architecture ``steps`` steps and measure it (CPU-bound: run in a thread)."""
    # heavy: torch and transformers, on first use
    import torch
    from transformers import AutoModelForCausalLM

    from aria_actors.shape.model import EOS, pretrain, tiny_config

    t0 = time.perf_counter()
    tokenizer, train, held = _texts(seed, cfg.vocab_size)
    eos = tokenizer.convert_tokens_to_ids(EOS)
    shaped = cfg.model_copy(update={**arch, "num_kv_heads": arch["num_heads"],
                                    "intermediate_size": 2 * arch["hidden_size"]})
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(shaped, len(tokenizer), eos))
    # bounded in time as well as steps: a large architecture on a busy node would otherwise hold the
    # process's torch threads (and the trial lock) for minutes
    deadline = time.monotonic() + float(getattr(cfg, "arch_trial_budget_s", 20.0))
    train_loss = pretrain(model, tokenizer, train, steps, batch_size=BATCH, seed=seed, deadline=deadline)
    tokenizer.padding_side = "right"
    losses = []
    with torch.inference_mode():
        for b in range(0, len(held), 25):
            enc = tokenizer([t + EOS for t in held[b:b + 25]], return_tensors="pt", padding=True)
            labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
            losses.append(float(model(**enc, labels=labels).loss))
        one = tokenizer([held[0]], return_tensors="pt")
        model(**one)  # warm-up
        times = []
        for _ in range(LATENCY_REPEATS):
            t = time.perf_counter()
            model(**one)
            times.append(time.perf_counter() - t)
    tokenizer.padding_side = "left"
    times.sort()
    return {"loss": sum(losses) / len(losses), "train_loss": train_loss,
            "parameters": sum(p.numel() for p in model.parameters()),
            "latency_ms": 1000 * times[len(times) // 2], "latency_tokens": int(one["input_ids"].shape[1]),
            "steps": steps, "arch": dict(arch), "wall_s": time.perf_counter() - t0}


class ArchTrialsMixin:
    """``evaluate_architecture``: one evaluate-only trial (nothing stored), in a worker thread."""

    config: Any

    async def _arch_trial(self, params: Any, steps: Any) -> dict[str, Any]:
        limit = int(getattr(self.config, "arch_trial_max_steps", 200))
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= limit:
            raise BadRequest(f"steps must be an integer from 1 to {limit}", field="steps")
        try:
            arch = check_arch(params)
        except BadArch as exc:
            raise BadRequest(exc.message, field=exc.field) from None
        lock = getattr(self, "_arch_lock", None)
        if lock is None:
            lock = self._arch_lock = asyncio.Lock()  # one at a time: each takes the process's torch threads
        async with lock:
            return await asyncio.to_thread(evaluate_arch, self.config, arch, steps, self.config.seed)
