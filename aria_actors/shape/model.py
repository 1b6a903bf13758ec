"""Qwen3-architecture models without a hub: a tiny one built from a config, or a real checkpoint.

:func:`load_model` is the one entry point. With a path (``ARIA_SHAPE_MODEL_PATH`` or
``ARIA_MODEL_PATH``) it loads that directory with ``AutoModelForCausalLM``/``AutoTokenizer``
(``local_files_only``: nothing is fetched). Without one it builds the tiny model: a byte-level BPE
tokenizer trained by ``tokenizers`` on :func:`aria_actors.shape.characters.corpus.corpus`, a ``Qwen3Config``
sized by :class:`ShapeConfig`, random weights from a fixed seed, saved with ``save_pretrained`` so
that the next load takes the same path as a real checkpoint.

Guarantees and caveats
----------------------
- Nothing is downloaded, ever (``local_files_only=True``; the tiny model's text is generated).
- The tiny model is deterministic for a seed and config: two builds have identical weights.
- The tiny model gets ``pretrain_steps`` of causal-LM training on the generated corpus (0: random
  weights, the starting point GRPO tests use); it learns the corpus's formula, nothing more.
- Imports torch and transformers at module level: import this module lazily (never from
  ``service.py`` at import time).
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast, Qwen3Config
from transformers.utils import logging as hf_logging

from aria_actors.shape.characters.corpus import corpus, prompt_for
from aria_actors.shape.config import ShapeConfig
from aria_actors.shape.errors import ModelLoadError

EOS = "<|endoftext|>"
hf_logging.disable_progress_bar()


@dataclass
class LoadedModel:
    """A causal LM and its tokenizer, with where they came from."""

    model: Any
    tokenizer: Any
    source: str  # "tiny" or the checkpoint path
    path: Path

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def train_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (Qwen's scheme) trained on ``texts``."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=EOS,
                                   padding_side="left")


def tiny_config(cfg: ShapeConfig, vocab_size: int, eos_id: int) -> Qwen3Config:
    return Qwen3Config(
        vocab_size=vocab_size, hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads, head_dim=cfg.hidden_size // cfg.num_heads,
        max_position_embeddings=256, tie_word_embeddings=True,
        bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id,
    )


def pretrain(model: Any, tokenizer: Any, texts: list[str], steps: int, *, batch_size: int = 16,
             lr: float = 3e-3, seed: int = 0, deadline: float | None = None) -> float:
    """A short causal-LM pass over ``texts`` (each followed by EOS); returns the last loss.
    ``deadline`` (``time.monotonic()``): stop after the step that passes it."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    loss = torch.tensor(float("nan"))
    tokenizer.padding_side = "right"
    for _ in range(steps):
        idx = torch.randint(len(texts), (batch_size,), generator=gen).tolist()
        enc = tokenizer([texts[i] + EOS for i in idx], return_tensors="pt", padding=True)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        loss = model(**enc, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if deadline is not None and time.monotonic() > deadline:
            break
    tokenizer.padding_side = "left"
    model.eval()
    return float(loss.detach())


def build_tiny(cfg: ShapeConfig, path: Path) -> Path:
    """Build the tiny model and its tokenizer into ``path`` (a checkpoint directory)."""
    texts = corpus(2000, seed=cfg.seed)
    tokenizer = train_tokenizer(texts, cfg.vocab_size)
    eos_id = tokenizer.convert_tokens_to_ids(EOS)
    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_config(tiny_config(cfg, len(tokenizer), eos_id))
    if cfg.pretrain_steps:
        pretrain(model, tokenizer, texts, cfg.pretrain_steps, seed=cfg.seed)
    model.generation_config.pad_token_id = eos_id
    model.generation_config.eos_token_id = eos_id
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "aria_shape.json").write_text(json.dumps({"built_by": "aria_shape", "config": cfg.model_dump(
        mode="json", exclude={"model_path", "cache_dir", "device"})}, sort_keys=True))
    return path


def _build_once(cfg: ShapeConfig, path: Path) -> None:
    # Build beside the target and rename into place, so that processes building at the same time
    # (the service actor, a training job) never load a half-written directory; the loser's copy
    # is identical (same seed) and is discarded.
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    build_tiny(cfg, tmp)
    try:
        os.replace(tmp, path)
    except OSError:
        if not (path / "config.json").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def tiny_path(cfg: ShapeConfig, home: Path | None) -> Path:
    """Where the tiny model of ``cfg`` is built (one directory per seed and size)."""
    base = cfg.cache_dir or (home or Path.home() / ".aria") / "shape"
    return base / (f"tiny-qwen3-s{cfg.seed}-v{cfg.vocab_size}-h{cfg.hidden_size}-l{cfg.num_layers}"
                   f"-p{cfg.pretrain_steps}")


def ensure_tiny(cfg: ShapeConfig, home: Path | None) -> Path:
    """The tiny model's directory, built first if missing."""
    path = tiny_path(cfg, home)
    if not (path / "config.json").exists():
        _build_once(cfg, path)
    return path


def resolve_device(cfg: ShapeConfig) -> str:
    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return cfg.device


def load_model(cfg: ShapeConfig, *, home: Path | None = None, fallback_path: str = "") -> LoadedModel:
    """Load the configured checkpoint, or build (once) and load the tiny model."""
    torch.set_num_threads(cfg.num_threads)
    path_text = cfg.model_path or fallback_path
    if path_text:
        path, source = Path(path_text).expanduser(), path_text
    else:
        path, source = ensure_tiny(cfg, home), "tiny"
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load a model from {path}: {exc}", path=str(path)) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    model.to(resolve_device(cfg)).eval()
    return LoadedModel(model, tokenizer, source, path)


@torch.no_grad()
def sample_ids(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, *,
               max_new_tokens: int, eos_id: int, temperature: float = 1.0, do_sample: bool = True,
               min_new_tokens: int = 0,
               on_token: Callable[[torch.Tensor], None] | None = None) -> torch.Tensor:
    """New token ids ``(B, <= max_new_tokens)`` from a KV-cached decoding loop.

    The same computation as ``generate()`` for plain sampling (softmax of logits / temperature,
    ``torch.multinomial``) or greedy decoding, with left-padded prompts (positions from the
    attention mask, as ``generate`` derives them) and rows padded with EOS once they end;
    ``on_token`` sees each step's new ids as they are chosen (token streaming); without
    ``generate``'s per-step processor and stopping machinery, which dominates for small models.
    """
    # transformers 5.2x renamed the cache argument and output field (past_key_values -> cache).
    new_api = "cache" in inspect.signature(type(model).forward).parameters
    am = attention_mask
    pos = (am.long().cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=input_ids, attention_mask=am, position_ids=pos, use_cache=True, logits_to_keep=1)
    finished = torch.zeros(input_ids.size(0), dtype=torch.bool, device=input_ids.device)
    new: list[torch.Tensor] = []
    pos = pos[:, -1:]
    for i in range(max_new_tokens):
        logits = out.logits[:, -1, :].float()
        if i < min_new_tokens:
            logits[:, eos_id] = -float("inf")
        if do_sample:
            nxt = torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1).squeeze(1)
        else:
            nxt = logits.argmax(dim=-1)
        nxt = torch.where(finished, torch.full_like(nxt, eos_id), nxt)
        new.append(nxt)
        if on_token is not None:
            on_token(nxt)
        finished |= nxt == eos_id
        if bool(finished.all()) or i + 1 == max_new_tokens:
            break
        am = torch.cat([am, am.new_ones((am.size(0), 1))], dim=1)
        pos = pos + 1
        cache = {"cache": out.cache} if new_api else {"past_key_values": out.past_key_values}
        out = model(input_ids=nxt.unsqueeze(1), attention_mask=am, position_ids=pos, use_cache=True,
                    **cache)
    return torch.stack(new, dim=1)


@torch.no_grad()
def generate_counted(loaded: LoadedModel, prompts: list[str], *, max_new_tokens: int = 24,
                     do_sample: bool = True, temperature: float = 1.0, seed: int | None = None,
                     min_new_tokens: int | None = None) -> tuple[list[str], list[int]]:
    """Completions of ``prompts`` and the number of tokens each one generated (EOS excluded)."""
    if seed is not None:
        torch.manual_seed(seed)
    tok, model = loaded.tokenizer, loaded.model
    enc = tok(prompts, return_tensors="pt", padding=True).to(model.device)
    ids = sample_ids(model, enc["input_ids"], enc["attention_mask"], max_new_tokens=max_new_tokens,
                     eos_id=tok.eos_token_id, temperature=temperature, do_sample=do_sample,
                     min_new_tokens=min_new_tokens or 0)
    counts = (ids != tok.eos_token_id).sum(dim=1).tolist()
    return tok.batch_decode(ids, skip_special_tokens=True), counts


def generate(loaded: LoadedModel, prompts: list[str], **options: Any) -> list[str]:
    """Completions of ``prompts`` (text after the prompt, special tokens removed); options of
    :func:`generate_counted`."""
    return generate_counted(loaded, prompts, **options)[0]


@torch.no_grad()
def stream_text(loaded: LoadedModel, prompt: str, push: Callable[[str], None], *, max_new_tokens: int = 24,
                seed: int | None = None) -> None:
    """Sample a completion of ``prompt``, calling ``push(piece)`` with each new piece of text.

    Pieces are the incremental decode of the ids so far, so they add up to the completion
    :func:`generate` returns for the same prompt and seed.
    """
    tok = loaded.tokenizer
    ids: list[int] = []
    shown = ""

    def on_token(nxt: torch.Tensor) -> None:
        nonlocal shown
        ids.append(int(nxt[0]))
        text = tok.decode(ids, skip_special_tokens=True)
        if len(text) > len(shown):
            push(text[len(shown):])
        shown = text

    if seed is not None:
        torch.manual_seed(seed)
    enc = tok([prompt], return_tensors="pt").to(loaded.model.device)
    sample_ids(loaded.model, enc["input_ids"], enc["attention_mask"], max_new_tokens=max_new_tokens,
               eos_id=tok.eos_token_id, on_token=on_token)


def describe_traits(loaded: LoadedModel, traits: list[str], *, max_new_tokens: int = 24,
                    seed: int | None = None) -> str:
    """A generated description of a character with ``traits``."""
    return generate(loaded, [prompt_for(traits)], max_new_tokens=max_new_tokens, seed=seed)[0].strip()


@torch.no_grad()
def embed(loaded: LoadedModel, texts: list[str]) -> list[list[float]]:
    """Unit-length embeddings: the mean of the last hidden layer over each text's tokens."""
    tok, model = loaded.tokenizer, loaded.model
    enc = tok(texts, return_tensors="pt", padding=True).to(model.device)
    hidden = model(**enc, output_hidden_states=True).hidden_states[-1]
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().tolist()
