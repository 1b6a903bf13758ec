"""Big Five (OCEAN) personality profiles from a trained model: sentence embeddings
(:mod:`.embedding`, all-MiniLM-L6-v2) and a logistic head trained on labelled trait text.

The training text is ``data/big_five_items.csv``: public-domain IPIP Big-Five items and trait
adjectives, each labelled with its trait and its key (+1: agreeing says the trait is high, -1:
low; ``data/README.md`` says where they come from). The head is one L2-regularised logistic
regression per dimension over the 384-dimension embedding::

    item of trait T, key +1  -> target 1 for T      item of another trait -> target 0.5 for T
    item of trait T, key -1  -> target 0 for T                              (weight NEUTRAL_WEIGHT)

so a text about one dimension moves that one and leaves the others near 0.5. A score is the
head's probability, in [0, 1]; 0.5 is neutral. Items are read as first-person sentences ("Am the
life of the party." -> "I am the life of the party."), and a trait word as "I am brave.".

A character's profile (:meth:`PersonalityModel.profile`) is the mean of its traits' scores (each
trait's in ``contributions``; ``tension`` measures traits pulling one dimension opposite ways), the
mean of its description's sentences' scores, their mean as ``scores``, and ``consistency``: the
cosine between the two profiles' deviations from neutral (1: the description pushes every dimension
the way the traits do; 0: unrelated; -1: opposite).

Guarantees and caveats
----------------------
- Trained, not hand-set: the head is fitted (Newton's method from zero: deterministic, under a
  second) on the shipped items; its held-out accuracy is measured by k-fold cross-validation (a
  held-out item scores on the side of 0.5 its key says) and kept in ``info["cv_accuracy"]``.
- Cached: the fitted head is written as JSON under ``cache_dir``, named by a hash of the items
  file, the embedding model's files and the head's settings; a process with the same cache
  loads it instead of training (embedding the items takes seconds on two CPU cores), and any
  change to the items, the model or the settings trains anew. One model per key per process.
  A cached head whose weights have the wrong shape or a non-finite value is trained anew and
  overwritten. A cache folder that cannot be written is logged once and the head is kept in
  memory only (the process does not train again; the next process does).
- The cache file is written to a fresh ``mkstemp`` name in its folder (no predictable name, no
  link followed), mode 0644 (the weights are derived from public items and a public model:
  nothing secret), then renamed over the old one; a failed write leaves no temporary file.
- Trait words' scores are memoised per model, least recently used first out past
  ``TRAIT_CACHE_SIZE`` words.
- Import-light: numpy only; torch and transformers load with the embedding model, on the first
  profile.
- A statistical model of how people use these words, trained on a few hundred items: it shares
  the embedding's blind spots (negations are weak, valence leaks across dimensions) and is no
  psychometric instrument. Measured figures: tests/unit/shape/test_personality.py.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aria_actors.shape.characters.embedding import (
    DIMENSION,
    MODEL_NAME,
    SentenceEmbedder,
    default_embedder,
    fingerprint,
)
from aria_actors.shape.characters.templates import MAX_PERSONALITY_TEXT

DIMENSIONS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
LETTERS = "OCEAN"  # the items file's trait column, in DIMENSIONS order
ITEMS_FILE = Path(__file__).with_name("data") / "big_five_items.csv"
MAX_TEXT = MAX_PERSONALITY_TEXT  # characters of free text one request may score
MAX_SENTENCES = 64  # of a longer text, the first this many sentences are read
MAX_TRAITS = 32  # trait words one request may score (the HTTP model's bound too)
MAX_TRAIT_CHARS = 64  # of one trait word (templates' Word)
HEAD_VERSION = 1  # part of the cache key: bump when the way the head is fitted changes
TRAIT_CACHE_SIZE = 4096  # trait words whose scores a model keeps (any text is a trait to the RPC)
CACHE_FILE_MODE = 0o644
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
log = logging.getLogger("aria.shape.personality")
_unwritable: set[Path] = set()  # cache files whose write failed and was logged (once each)


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled text: ``trait`` is an index into DIMENSIONS, ``key`` +1 or -1."""

    text: str
    trait: int
    key: int
    source: str = ""


@dataclass(frozen=True, slots=True)
class HeadSettings:
    """How the head is fitted and measured (all part of the cache key)."""

    l2: float = 0.1  # chosen by the cross-validation below (0.03-1 tried)
    neutral_weight: float = 0.1  # weight of another dimension's items, pulled to 0.5
    folds: int = 5
    seed: int = 0
    max_iter: int = 100


def load_items(path: Path = ITEMS_FILE) -> list[Item]:
    """The labelled items of ``path`` (columns text, trait, key[, source])."""
    with path.open(newline="", encoding="utf-8") as f:
        return [Item(row["text"].strip(), LETTERS.index(row["trait"]), int(row["key"]), row.get("source") or "")
                for row in csv.DictReader(f)]


def statement(item_text: str) -> str:
    """An IPIP item ("Am ...", "Don't ...", "Make ...") as the sentence a person would say."""
    if item_text.startswith("Am "):
        return "I am " + item_text[3:]
    return "I " + item_text[:1].lower() + item_text[1:]


def trait_statement(trait: str) -> str:
    return f"I am {trait.strip()}."


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (split after . ! ? and at line breaks), at most MAX_SENTENCES."""
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()][:MAX_SENTENCES]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


class TraitHead:
    """Five logistic regressions over an embedding (weights ``(5, d + 1)``, the bias last)."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)

    @classmethod
    def fit(cls, x: np.ndarray, traits: np.ndarray, keys: np.ndarray,
            settings: HeadSettings = HeadSettings()) -> TraitHead:
        """Newton's method from zero on the weighted cross-entropy + L2 (bias not penalised)."""
        n, d = x.shape
        xb = np.hstack([x.astype(np.float64), np.ones((n, 1))])
        penalty = settings.l2 * np.eye(d + 1)
        penalty[-1, -1] = 0.0
        weights = np.zeros((len(DIMENSIONS), d + 1))
        for t in range(len(DIMENSIONS)):
            mine = traits == t
            y = np.where(mine, (keys + 1) / 2, 0.5)
            c = np.where(mine, 1.0, settings.neutral_weight)
            w = np.zeros(d + 1)
            for _ in range(settings.max_iter):
                p = _sigmoid(xb @ w)
                grad = xb.T @ (c * (p - y)) + penalty @ w
                hess = (xb * (c * p * (1 - p))[:, None]).T @ xb + penalty
                step = np.linalg.solve(hess, grad)
                w -= step
                if np.abs(step).max() < 1e-9:
                    break
            weights[t] = w
        return cls(weights)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """``(n, 5)`` scores in [0, 1] of ``(n, d)`` embeddings."""
        return _sigmoid(np.hstack([x.astype(np.float64), np.ones((len(x), 1))]) @ self.weights.T)


def cross_validate(x: np.ndarray, traits: np.ndarray, keys: np.ndarray,
                   settings: HeadSettings = HeadSettings()) -> dict[str, Any]:
    """Held-out accuracy of the keyed direction: each item is scored by a head fitted on the other
    folds, and counts as right when its own dimension's score lies on its key's side of 0.5."""
    order = np.random.default_rng(settings.seed).permutation(len(x))
    right = np.zeros(len(x), dtype=bool)
    for fold in np.array_split(order, settings.folds):
        train = np.setdiff1d(order, fold)
        head = TraitHead.fit(x[train], traits[train], keys[train], settings)
        own = head.scores(x[fold])[np.arange(len(fold)), traits[fold]]
        right[fold] = np.sign(own - 0.5) == keys[fold]
    per = {LETTERS[t]: round(float(right[traits == t].mean()), 4) for t in range(len(DIMENSIONS))}
    return {"accuracy": per, "overall": round(float(right.mean()), 4), "folds": settings.folds,
            "items": {LETTERS[t]: int((traits == t).sum()) for t in range(len(DIMENSIONS))}}


def cache_key(items_path: Path = ITEMS_FILE, model_fingerprint: str | None = None,
              settings: HeadSettings = HeadSettings()) -> str:
    """What the fitted head depends on: the items, the embedding model, the settings, the code."""
    h = hashlib.sha256(items_path.read_bytes())
    h.update((model_fingerprint or fingerprint()).encode())
    h.update(json.dumps({**asdict(settings), "version": HEAD_VERSION}, sort_keys=True).encode())
    return h.hexdigest()


def _scores(row: Sequence[float]) -> dict[str, float]:
    return {d: round(float(v), 4) for d, v in zip(DIMENSIONS, row, strict=True)}


def consistency(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine between two profiles' deviations from neutral (0.5); 0 when either is neutral."""
    u = np.array([a[d] - 0.5 for d in DIMENSIONS])
    v = np.array([b[d] - 0.5 for d in DIMENSIONS])
    norm = float(np.linalg.norm(u) * np.linalg.norm(v))
    return round(float(u @ v) / norm, 4) if norm > 1e-12 else 0.0


def distance(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Euclidean distance between two profiles' scores (0 = same personality; at most sqrt(5))."""
    return math.sqrt(sum((a[d] - b[d]) ** 2 for d in DIMENSIONS))


class PersonalityModel:
    """The embedder and a fitted head; :meth:`profile` is what the service returns."""

    def __init__(self, embedder: SentenceEmbedder, head: TraitHead, info: dict[str, Any]) -> None:
        self.embedder = embedder
        self.head = head
        self.info = info
        # trait word -> its scores, most recently used last (few words recur; callers may send any)
        self._traits: OrderedDict[str, np.ndarray] = OrderedDict()
        self._traits_lock = threading.Lock()  # profiles run in worker threads

    @classmethod
    def train(cls, embedder: SentenceEmbedder | None = None, items_path: Path = ITEMS_FILE,
              settings: HeadSettings = HeadSettings()) -> PersonalityModel:
        """Embed the items, cross-validate, fit on all of them."""
        embedder = embedder or default_embedder()
        t0 = time.perf_counter()
        items = load_items(items_path)
        x = embedder.encode([statement(i.text) for i in items])
        traits = np.array([i.trait for i in items])
        keys = np.array([i.key for i in items])
        cv = cross_validate(x, traits, keys, settings)
        head = TraitHead.fit(x, traits, keys, settings)
        info = {"embedding_model": MODEL_NAME, "head": "logistic regression per dimension",
                "settings": asdict(settings), "items": len(items), "cv_accuracy": cv["accuracy"],
                "cv_overall": cv["overall"], "cv_items": cv["items"], "folds": cv["folds"],
                "train_s": round(time.perf_counter() - t0, 2)}
        return cls(embedder, head, info)

    @classmethod
    def load(cls, cache_dir: Path | None = None, *, embedder: SentenceEmbedder | None = None,
             items_path: Path = ITEMS_FILE, settings: HeadSettings = HeadSettings()) -> PersonalityModel:
        """The head cached under ``cache_dir`` for these items, model and settings, or a newly
        trained one (then written there). No ``cache_dir``: always trained."""
        embedder = embedder or default_embedder()
        key = cache_key(items_path, fingerprint(embedder.directory), settings)
        path = _cache_path(cache_dir, key)
        if path is not None and path.exists():
            try:
                doc = json.loads(path.read_text())
                weights = np.array(doc["weights"], dtype=np.float64)
                # A head that would fail or mislead every profile (edited, truncated, another
                # model's) is no cache: train and overwrite it.
                if (doc["key"] == key and weights.shape == (len(DIMENSIONS), DIMENSION + 1)
                        and np.isfinite(weights).all()):
                    return cls(embedder, TraitHead(weights), {**doc["info"], "key": key[:12], "cached": True})
            except (OSError, ValueError, KeyError, TypeError):
                pass  # unreadable or foreign: train and overwrite it
        model = cls.train(embedder, items_path, settings)
        model.info = {**model.info, "key": key[:12], "cached": False}
        model.save(path, key)
        return model

    def save(self, path: Path | None, key: str) -> bool:
        """Write the head where :meth:`load` looks for it (atomically); nothing when ``path`` is None.
        False when it cannot be written (logged once per path): the head still serves, from memory."""
        if path is None:
            return True
        body = json.dumps({"key": key, "weights": self.head.weights.tolist(), "info": self.info})
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    os.fchmod(f.fileno(), CACHE_FILE_MODE)
                    f.write(body)
                os.replace(name, path)  # a concurrent reader sees the old file or the whole new one
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(name)
                raise
        except OSError as exc:
            if path not in _unwritable:
                _unwritable.add(path)
                log.warning("personality head not cached (kept in memory; the next process trains again): "
                            "cannot write %s: %s", path, exc)
            return False
        return True

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), 5)`` scores of sentences."""
        return self.head.scores(self.embedder.encode(texts))

    def trait_scores(self, traits: Sequence[str]) -> np.ndarray:
        with self._traits_lock:
            known = {t: self._traits[t] for t in traits if t in self._traits}
            for t in known:
                self._traits.move_to_end(t)
        todo = sorted(set(traits) - known.keys())
        if todo:
            fresh = dict(zip(todo, self.score([trait_statement(t) for t in todo]), strict=True))
            known.update(fresh)
            with self._traits_lock:
                self._traits.update(fresh)
                while len(self._traits) > TRAIT_CACHE_SIZE:
                    self._traits.popitem(last=False)
        return np.array([known[t] for t in traits]).reshape(len(traits), len(DIMENSIONS))

    def text_profile(self, text: str) -> dict[str, Any]:
        """The mean scores of ``text``'s sentences; neutral (0.5) when it has none."""
        parts = sentences(text)
        row = self.score(parts).mean(0) if parts else np.full(len(DIMENSIONS), 0.5)
        return {"scores": _scores(row), "sentences": len(parts)}

    def traits_profile(self, traits: Sequence[str]) -> dict[str, Any]:
        """The mean of the traits' scores, each trait's scores, and the tension between them."""
        rows = self.trait_scores(list(traits))
        row = rows.mean(0) if len(rows) else np.full(len(DIMENSIONS), 0.5)
        pulls = rows - 0.5
        # Opposing pulls on one dimension: the smaller of the total push up and the total push down.
        tension = max((min(float(p[p > 0].sum()), float(-p[p < 0].sum())) for p in pulls.T), default=0.0)
        return {"scores": _scores(row), "tension": round(tension, 4),
                "contributions": {t: _scores(r) for t, r in zip(traits, rows, strict=True)}}

    def profile(self, traits: Iterable[str] = (), description: str = "") -> dict[str, Any]:
        """A character's personality: from its traits, its description, or both (then their mean
        and the consistency between the two)."""
        names = list(dict.fromkeys(traits))
        out: dict[str, Any] = {"model": self.summary()}
        by_traits = self.traits_profile(names) if names else None
        by_text = self.text_profile(description) if description.strip() else None
        out["traits"], out["description"] = by_traits, by_text
        if by_traits and by_text:
            a, b = by_traits["scores"], by_text["scores"]
            out["scores"] = {d: round((a[d] + b[d]) / 2, 4) for d in DIMENSIONS}
            out["consistency"] = consistency(a, b)
        else:
            only = by_traits or by_text
            out["scores"] = only["scores"] if only else _scores(np.full(len(DIMENSIONS), 0.5))
            out["consistency"] = None
        out["tension"] = by_traits["tension"] if by_traits else 0.0
        return out

    def summary(self) -> dict[str, Any]:
        """What a response says about the model: which, and how well it did held out."""
        return {k: self.info[k] for k in ("embedding_model", "key", "cv_accuracy", "cv_overall") if k in self.info}


def _cache_path(cache_dir: Path | None, key: str) -> Path | None:
    return cache_dir / f"personality-head-{key[:24]}.json" if cache_dir is not None else None


_shared: dict[str, PersonalityModel] = {}  # cache key -> model
_shared_lock = threading.Lock()


def shared_model(cache_dir: Path | None) -> PersonalityModel:
    """One model per cache key per process (service instances, tests): loaded or trained once,
    and written to each ``cache_dir`` asked for."""
    embedder = default_embedder()
    key = cache_key(ITEMS_FILE, fingerprint(embedder.directory))
    with _shared_lock:
        model = _shared.get(key)
        if model is None:
            model = _shared[key] = PersonalityModel.load(cache_dir, embedder=embedder)
        path = _cache_path(cache_dir, key)
        if path is not None and not path.exists():
            model.save(path, key)
        return model
