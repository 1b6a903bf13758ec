"""A trained DIN as bytes, and :class:`DinScorer`, which loads them and scores candidates.

Layout (all integers little-endian)::

    b"ARIADIN\\0" | u64 header length | header (JSON, UTF-8) | payload (safetensors) | sha256 of all before

The header holds the format version, the training config, the item and category vocabularies,
the cold-start policy, the metrics and the payload's sha256; the payload holds the weights plus
``item_category`` and ``popularity`` (training positives per item index).

Cold start, as scored by :meth:`DinScorer.score`:

- history with no known item (a new user, or an empty history): the training run measured, on
  the validation users, both the DIN with an empty history and the popularity prior, and the
  artifact names the better one (``cold_start``); ``fallback`` then says
  ``"cold_user:din_empty_history"`` or ``"cold_user:popularity"``. The popularity prior is an
  item's training positives over the most popular item's, in [0, 1].
- unknown candidate items get popularity prior 0, i.e. score 0.0 (below every known item), and
  ``fallback`` holds ``"unknown_item:zero_prior"``; their positions are in ``unknown_candidates``.
- unknown history items are dropped (``ignored_history`` counts them); then the last
  ``max_history`` known items are used, oldest first as given.

Guarantees and caveats
----------------------
- :func:`load` raises :class:`ModelArtifactError` for any bytes it cannot use (truncated,
  flipped, foreign, another format version, weights that do not fit the header), never another
  exception; a flipped byte anywhere is caught by the trailing digest.
- Scores are probabilities (sigmoid of the DIN logit) in candidate order, deterministic (eval
  mode: Dice uses its running statistics, so a request's scores do not depend on the batch).
- :meth:`DinScorer.score_batch` scores many requests in one forward pass (padded to the longest
  history and candidate list) and returns the same scores as :meth:`DinScorer.score` per request,
  up to float rounding.
- Inputs: histories and candidate lists are lists of strings of 1 to 256 characters; at most
  1000 of each (1 to 1000 candidates); else :class:`InvalidFeatures` naming the field.
- torch and safetensors are imported when a scorer is built or bytes are written, not at import.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from aria_actors.interpret.din.data import MAX_ID_CHARS, Vocab
from aria_actors.interpret.errors import InvalidFeatures, ModelArtifactError

if TYPE_CHECKING:
    from aria_actors.interpret.din.model import DIN
    from aria_actors.interpret.din.train import DinConfig, TrainedDin

MAGIC = b"ARIADIN\0"
FORMAT_VERSION = 1
MAX_CANDIDATES = 1000
MAX_HISTORY_INPUT = 1000
_DIGEST = 32
_MIN_LEN = len(MAGIC) + 8 + _DIGEST


def _finite(value: Any) -> Any:
    """Metrics as JSON: non-finite floats become null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return None


def pack(header: dict[str, Any], payload: bytes) -> bytes:
    """Frame ``header`` and ``payload`` (sets ``payload_sha256``; appends the trailing digest)."""
    header = {**header, "payload_sha256": hashlib.sha256(payload).hexdigest(), "payload_bytes": len(payload)}
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    body = MAGIC + struct.pack("<Q", len(head)) + head + payload
    return body + hashlib.sha256(body).digest()


def unpack(data: bytes) -> tuple[dict[str, Any], bytes]:
    """(header, payload) of framed bytes, checked; raises :class:`ModelArtifactError`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ModelArtifactError(f"a model artifact is bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) < _MIN_LEN or not data.startswith(MAGIC):
        raise ModelArtifactError("not a DIN model artifact (bad magic or too short)", size=len(data))
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        raise ModelArtifactError("the model artifact is corrupted or truncated (checksum mismatch)", size=len(data))
    (head_len,) = struct.unpack_from("<Q", body, len(MAGIC))
    start = len(MAGIC) + 8
    if head_len > len(body) - start:
        raise ModelArtifactError("the model artifact's header length is out of range")
    try:
        header = json.loads(body[start:start + head_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelArtifactError(f"the model artifact's header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ModelArtifactError("the model artifact's header is not a JSON object")
    if header.get("format") != "aria-din" or header.get("version") != FORMAT_VERSION:
        raise ModelArtifactError(
            f"model artifact format {header.get('format')!r} version {header.get('version')!r}; this build "
            f"reads 'aria-din' version {FORMAT_VERSION}", version=header.get("version"))
    payload = body[start + head_len:]
    if hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
        raise ModelArtifactError("the model artifact's payload does not match its sha256")
    return header, payload


def to_bytes(trained: TrainedDin) -> bytes:
    """Serialise a trained DIN (weights as safetensors, the rest in the JSON header)."""
    # heavy: torch loads on first use, not when the service imports this package
    import torch
    from safetensors.torch import save

    tensors = {f"model.{k}": v.detach().contiguous() for k, v in trained.model.state_dict().items()}
    tensors["popularity"] = torch.from_numpy(np.asarray(trained.popularity, dtype=np.int64))
    header = {
        "format": "aria-din",
        "version": FORMAT_VERSION,
        "config": trained.config.model_dump(mode="json"),
        "items": list(trained.item_vocab.tokens),
        "categories": list(trained.cat_vocab.tokens),
        "cold_start": trained.cold_start,
        "metrics": _finite(trained.metrics),
        "epochs": trained.epochs,
        "best_epoch": trained.best_epoch,
        "train_wall_s": trained.train_wall_s,
    }
    return pack(header, save(tensors))


def _tokens(header: dict[str, Any], key: str) -> tuple[str, ...]:
    tokens = header.get(key)
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
        raise ModelArtifactError(f"the model artifact's {key!r} is not a list of strings")
    if len(set(tokens)) != len(tokens):
        raise ModelArtifactError(f"the model artifact's {key!r} holds duplicates")
    return tuple(tokens)


def load(data: bytes) -> DinScorer:
    """A scorer from :func:`to_bytes` output; :class:`ModelArtifactError` for anything unusable."""
    try:
        return _load(data)
    except ModelArtifactError:
        raise
    except Exception as exc:  # a model that cannot load must never take the caller down another way
        raise ModelArtifactError(f"the model artifact cannot be loaded: {type(exc).__name__}: {exc}") from None


def _load(data: bytes) -> DinScorer:
    # heavy: torch loads on first use, not when the service imports this package
    import torch
    from safetensors.torch import load as st_load

    from aria_actors.interpret.din.model import DIN
    from aria_actors.interpret.din.train import DinConfig

    header, payload = unpack(data)
    config = DinConfig.model_validate(header.get("config"))
    items = Vocab.from_tokens(_tokens(header, "items"))
    cats = _tokens(header, "categories")
    cold = header.get("cold_start")
    if cold not in ("model", "popularity"):
        raise ModelArtifactError(f"unknown cold_start policy {cold!r}")
    tensors = st_load(payload)
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    popularity = tensors.get("popularity")
    item_category = state.get("item_category")
    if popularity is None or item_category is None:
        raise ModelArtifactError("the model artifact lacks popularity or item_category")
    if popularity.shape != (len(items),) or item_category.shape != (len(items),):
        raise ModelArtifactError("the model artifact's tables do not match its item vocabulary")
    if int(item_category.min()) < 0 or int(item_category.max()) >= len(cats) or int(popularity.min()) < 0:
        raise ModelArtifactError("the model artifact's item categories or popularity are out of range")
    model = DIN(len(items), len(cats), item_category, config.item_dim, config.category_dim, config.attention,
                config.mlp)
    model.load_state_dict(state, strict=True)
    for t in model.state_dict().values():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ModelArtifactError("the model artifact holds non-finite weights")
    return DinScorer(model, items, popularity.numpy(), config, cold, header.get("metrics") or {})


def _check_ids(value: Any, field: str, limit: int, allow_empty: bool) -> list[str]:
    if not isinstance(value, list | tuple):
        raise InvalidFeatures(f"{field} must be a list of id strings", field=field)
    if len(value) > limit or (not value and not allow_empty):
        raise InvalidFeatures(f"{field} must hold {0 if allow_empty else 1} to {limit} ids, not {len(value)}",
                              field=field)
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v or len(v) > MAX_ID_CHARS:
            raise InvalidFeatures(f"{field}[{i}] must be a string of 1 to {MAX_ID_CHARS} characters", field=field,
                                  index=i)
    return list(value)


class DinScorer:
    """Scores candidate items for a behaviour history with a trained DIN (see the module notes)."""

    def __init__(self, model: DIN, items: Vocab, popularity: np.ndarray, config: DinConfig, cold_start: str,
                 metrics: dict[str, Any] | None = None) -> None:
        # heavy: torch loads on first use, not when the service imports this package
        import torch

        self.model = model.eval()
        self.items = items
        self.config = config
        self.cold_start = cold_start
        self.metrics = metrics or {}
        pop = np.asarray(popularity, dtype=np.float64)
        self.prior = (pop / pop.max() if pop.max() > 0 else pop).astype(np.float32)
        self.prior[0] = 0.0
        self._torch = torch

    @classmethod
    def from_bytes(cls, data: bytes) -> DinScorer:
        return load(data)

    @classmethod
    def from_trained(cls, trained: TrainedDin) -> DinScorer:
        return cls(trained.model, Vocab.from_tokens(trained.item_vocab.tokens), trained.popularity, trained.config,
                   trained.cold_start, trained.metrics)

    def _prepare(self, history: Any, candidates: Any) -> tuple[list[int], list[int], int]:
        history = _check_ids(history, "history", MAX_HISTORY_INPUT, allow_empty=True)
        candidates = _check_ids(candidates, "candidates", MAX_CANDIDATES, allow_empty=False)
        get = self.items.index.get
        known = [i for i in (get(h, 0) for h in history) if i]
        ignored = len(history) - len(known)
        return known[-self.config.max_history:], [get(c, 0) for c in candidates], ignored

    def score(self, history: Sequence[str], candidates: Sequence[str]) -> dict[str, Any]:
        """``{"scores": [...] in candidate order, "fallback": [...], "unknown_candidates": [...],
        "ignored_history": n}``."""
        return self.score_batch([(history, candidates)])[0]

    def score_batch(self, requests: Sequence[tuple[Sequence[str], Sequence[str]]]) -> list[dict[str, Any]]:
        """Score several (history, candidates) requests in one forward pass."""
        if not isinstance(requests, list | tuple) or not requests:
            raise InvalidFeatures("requests must be a non-empty list of (history, candidates) pairs", field="requests")
        prepared = []
        for n, req in enumerate(requests):
            if not isinstance(req, list | tuple) or len(req) != 2:
                raise InvalidFeatures(f"requests[{n}] must be a (history, candidates) pair", field="requests", index=n)
            prepared.append(self._prepare(req[0], req[1]))
        torch = self._torch
        t = max(1, max(len(h) for h, _, _ in prepared))
        k = max(len(c) for _, c, _ in prepared)
        hist = np.zeros((len(prepared), t), dtype=np.int64)
        cands = np.zeros((len(prepared), k), dtype=np.int64)
        for r, (h, c, _) in enumerate(prepared):
            hist[r, : len(h)] = h
            cands[r, : len(c)] = c
        run_model = any(h for h, _, _ in prepared) or self.cold_start == "model"
        if run_model:
            with torch.inference_mode():
                probs = torch.sigmoid(self.model(torch.from_numpy(hist), torch.from_numpy(cands))).numpy()
        out = []
        for r, (h, c, ignored) in enumerate(prepared):
            fallback: list[str] = []
            if not h and self.cold_start == "popularity":
                scores = self.prior[cands[r, : len(c)]].copy()
                fallback.append("cold_user:popularity")
            else:
                scores = probs[r, : len(c)].copy()
                if not h:
                    fallback.append("cold_user:din_empty_history")
            unknown = [i for i, idx in enumerate(c) if idx == 0]
            if unknown:
                scores[unknown] = 0.0
                fallback.append("unknown_item:zero_prior")
            out.append({"scores": scores.tolist(), "fallback": fallback, "unknown_candidates": unknown,
                        "ignored_history": ignored})
        return out
