"""Interaction logs, vocabularies, the leave-last-out split and DIN's training samples (numpy only).

::

    rows {user, item, ts, category} ──► InteractionLog ──► Split (per user, by time)
    MovieLens-100k (RecBole's copy) ──┘                     │ train │ ... │ valid │ test │
                                                             ▼
                    Blocks: hist [R, H] (item indices, oldest first, 0-padded right)
                            cands [R, K] (1 positive then K-1 sampled negatives)
                            labels [R, K], user [R]

One block row is one (user, moment): the items the user saw before it and K candidates for it.
Training has one row per training interaction; valid and test one row per user.

Guarantees and caveats
----------------------
- Index 0 of every vocabulary is reserved for padding and unknown ids; real ids start at 1, in
  first-seen order of the time-sorted log, so a log gives the same indices every time.
- Each item has one category: the one on its most recent row (a category can change; the latest
  wins). MovieLens items get their first listed genre.
- Order within a user is (timestamp, position in the input): ties (MovieLens has many) keep input
  order, so "before" means earlier in that order. Every history item precedes its candidate.
- Split: a user's last interaction is test, the second-last valid, the rest train. Users with
  fewer than ``min_user_interactions`` (at least 3) are train-only: they get training rows and
  no valid/test row (counted in ``Split.train_only_users``).
- Negatives are drawn uniformly from items the user never interacted with (in the whole log,
  test included), from a seeded ``numpy`` generator: the same seed gives the same samples.
  A user who has seen every item gets no negatives (their rows are dropped, not looped on).
  ``Samples.train_for_epoch(e, seed)`` redraws the training negatives for epoch ``e`` the same way
  from ``default_rng([seed, e])`` (same rows and positives), so two trainers can share them.
- Pure numpy; no torch, no pandas.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aria_actors.interpret.errors import InvalidInteraction, NotEnoughData

PAD = "<pad>"
MAX_ID_CHARS = 256


@dataclass(frozen=True)
class Vocab:
    """String ids to dense indices; index 0 is padding/unknown."""

    tokens: tuple[str, ...]
    index: dict[str, int] = field(repr=False, compare=False)

    @classmethod
    def build(cls, ids: Iterable[str]) -> Vocab:
        index: dict[str, int] = {}
        tokens = [PAD]
        for i in ids:
            if i not in index:
                index[i] = len(tokens)
                tokens.append(i)
        return cls(tuple(tokens), index)

    @classmethod
    def from_tokens(cls, tokens: Iterable[str]) -> Vocab:
        """Rebuild from ``tokens`` (as stored: padding first)."""
        toks = tuple(tokens)
        return cls(toks, {t: i for i, t in enumerate(toks) if i > 0})

    def __len__(self) -> int:
        return len(self.tokens)

    def lookup(self, ids: Iterable[str]) -> np.ndarray:
        """Indices of ``ids``; 0 for unknown ones."""
        get = self.index.get
        return np.fromiter((get(i, 0) for i in ids), dtype=np.int64)


@dataclass
class InteractionLog:
    """Interactions sorted by (user, time, input position), as vocabulary indices."""

    users: np.ndarray  # int64 [N], user index per row
    items: np.ndarray  # int64 [N]
    ts: np.ndarray  # float64 [N]
    user_vocab: Vocab
    item_vocab: Vocab
    cat_vocab: Vocab
    item_category: np.ndarray  # int64 [n_items]: category index per item index (0 for padding)

    @property
    def n_items(self) -> int:
        """Item vocabulary size, padding included."""
        return len(self.item_vocab)

    @property
    def n_users(self) -> int:
        return len(self.user_vocab)

    def __len__(self) -> int:
        return int(self.users.shape[0])

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> InteractionLog:
        """A log from dicts ``{user, item, ts, category}`` (ids non-empty strings of at most 256
        characters, ``ts`` a finite number); raises :class:`InvalidInteraction` naming the row."""
        users: list[str] = []
        items: list[str] = []
        ts: list[float] = []
        cats: list[str] = []
        for n, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise InvalidInteraction(f"row {n} is not a mapping", row=n)
            for key in ("user", "item", "category"):
                v = row.get(key)
                if not isinstance(v, str) or not v or len(v) > MAX_ID_CHARS:
                    raise InvalidInteraction(
                        f"row {n}: {key!r} must be a non-empty string of at most {MAX_ID_CHARS} characters",
                        row=n, field=key)
            t = row.get("ts")
            if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
                raise InvalidInteraction(f"row {n}: 'ts' must be a finite number", row=n, field="ts")
            users.append(row["user"])
            items.append(row["item"])
            ts.append(float(t))
            cats.append(row["category"])
        return cls.from_arrays(users, items, np.asarray(ts, dtype=np.float64), cats)

    @classmethod
    def from_arrays(cls, users: list[str], items: list[str], ts: np.ndarray, categories: list[str]) -> InteractionLog:
        if len(users) == 0:
            raise NotEnoughData("the interaction log is empty; record some interactions first")
        order = np.argsort(ts, kind="stable")  # time order, ties in input order
        users_s = [users[i] for i in order]
        items_s = [items[i] for i in order]
        cats_s = [categories[i] for i in order]
        user_vocab = Vocab.build(users_s)
        item_vocab = Vocab.build(items_s)
        cat_vocab = Vocab.build(cats_s)
        u = user_vocab.lookup(users_s)
        it = item_vocab.lookup(items_s)
        c = cat_vocab.lookup(cats_s)
        item_category = np.zeros(len(item_vocab), dtype=np.int64)
        item_category[it] = c  # later rows overwrite earlier ones: the latest category wins
        by_user = np.argsort(u, kind="stable")  # within a user, time order is kept
        return cls(u[by_user], it[by_user], ts[order][by_user], user_vocab, item_vocab, cat_vocab, item_category)


def movielens_dir() -> Path:
    """Where RecBole's copy of MovieLens-100k lives (``recbole==1.2.1`` ships it)."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise NotEnoughData("MovieLens-100k comes with recbole: pip install --no-deps recbole==1.2.1, or pass path")
    return Path(next(iter(spec.submodule_search_locations))) / "dataset_example" / "ml-100k"


def load_movielens(path: str | Path | None = None) -> InteractionLog:
    """MovieLens-100k (every rating is an interaction) with each movie's first genre as category."""
    root = Path(path) if path is not None else movielens_dir()
    inter, item = root / "ml-100k.inter", root / "ml-100k.item"
    if not inter.is_file() or not item.is_file():
        raise NotEnoughData(f"MovieLens-100k files not found under {root}", path=str(root))
    genre: dict[str, str] = {}
    with item.open(encoding="utf-8", errors="replace") as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            genres = parts[3].split() if len(parts) > 3 else []
            genre[parts[0]] = genres[0] if genres else "unknown"
    users: list[str] = []
    items: list[str] = []
    ts: list[float] = []
    with inter.open(encoding="utf-8") as f:
        next(f)
        for line in f:
            u, i, _rating, t = line.split("\t")
            users.append(u)
            items.append(i)
            ts.append(float(t))
    cats = [genre.get(i, "unknown") for i in items]
    return InteractionLog.from_arrays(users, items, np.asarray(ts, dtype=np.float64), cats)


@dataclass
class Split:
    """Leave-last-out positions: ``role`` per log row (0 train, 1 valid, 2 test)."""

    role: np.ndarray  # int8 [N]
    position: np.ndarray  # int64 [N]: index of the row within its user's sequence
    start: np.ndarray  # int64 [N]: first log row of the row's user
    train_only_users: int

    def rows(self, role: int) -> np.ndarray:
        return np.flatnonzero(self.role == role)


def split_log(log: InteractionLog, min_user_interactions: int = 3) -> Split:
    """Chronological leave-last-out per user (see the module notes)."""
    if min_user_interactions < 3:
        raise ValueError("min_user_interactions must be >= 3 (train, valid and test need one each)")
    n = len(log)
    boundaries = np.flatnonzero(np.diff(log.users)) + 1
    starts = np.concatenate([[0], boundaries])
    lengths = np.diff(np.concatenate([starts, [n]]))
    start = np.repeat(starts, lengths)
    length = np.repeat(lengths, lengths)
    position = np.arange(n) - start
    role = np.zeros(n, dtype=np.int8)
    eligible = length >= min_user_interactions
    role[eligible & (position == length - 1)] = 2
    role[eligible & (position == length - 2)] = 1
    return Split(role, position, start, int((lengths < min_user_interactions).sum()))


@dataclass
class Block:
    """Rows of (history, K candidates); candidate 0 of each row is the positive."""

    hist: np.ndarray  # int64 [R, H]
    cands: np.ndarray  # int64 [R, K]
    labels: np.ndarray  # float32 [R, K]
    user: np.ndarray  # int64 [R]

    def __len__(self) -> int:
        return int(self.hist.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.cands.size)

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(user, hist, item, label) per sample, hist repeated per candidate (for peers and sklearn)."""
        k = self.cands.shape[1]
        return (np.repeat(self.user, k), np.repeat(self.hist, k, axis=0), self.cands.reshape(-1),
                self.labels.reshape(-1))


@dataclass
class Samples:
    """Train/valid/test blocks of one log, one split and one seed, plus what built them."""

    train: Block
    valid: Block
    test: Block
    n_items: int
    item_category: np.ndarray
    item_freq: np.ndarray  # int64 [n_items]: training positives per item (the popularity prior)
    max_history: int
    train_only_users: int
    n_users: int = 0
    seen: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)  # user * n_items + item

    def train_for_epoch(self, epoch: int, seed: int) -> Block:
        """The training block of ``epoch`` (1-based): epoch 1 is ``train``; later epochs have the
        same rows and positives with negatives redrawn from ``default_rng([seed, epoch])``, so any
        trainer (aria's, a peer's) can see the same data in the same epoch."""
        if epoch <= 1 or len(self.seen) == 0:
            return self.train
        rng = np.random.default_rng([seed, epoch])
        k = self.train.cands.shape[1] - 1
        neg, _ = _draw_negatives(rng, self.train.user, k, self.n_items, self.n_users, self.seen)
        cands = np.concatenate([self.train.cands[:, :1], neg], axis=1)
        return Block(self.train.hist, cands, self.train.labels, self.train.user)


def _histories(log_items: np.ndarray, rows: np.ndarray, split: Split, max_history: int) -> np.ndarray:
    """The (up to) ``max_history`` items before each row in its user's sequence, oldest first."""
    pos = split.position[rows]
    length = np.minimum(pos, max_history)
    j = np.arange(max_history)[None, :]
    src = rows[:, None] - length[:, None] + j
    valid = j < length[:, None]
    hist = np.where(valid, log_items[np.clip(src, 0, len(log_items) - 1)], 0)
    return hist.astype(np.int64)


def _seen_keys(log: InteractionLog) -> np.ndarray:
    return np.unique(log.users * log.n_items + log.items)


def sample_negatives(rng: np.random.Generator, users: np.ndarray, n: int, log: InteractionLog,
                     seen: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` items per user entry that the user never interacted with; returns (negatives [U, n],
    keep mask [U]) where rows of users who have seen every item are not kept."""
    seen = _seen_keys(log) if seen is None else seen
    return _draw_negatives(rng, users, n, log.n_items, log.n_users, seen)


def _draw_negatives(rng: np.random.Generator, users: np.ndarray, n: int, n_items: int, n_users: int,
                    seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_real = n_items - 1
    seen_per_user = np.bincount(seen // n_items, minlength=n_users)
    keep = seen_per_user[users] < n_real
    neg = rng.integers(1, n_items, size=(len(users), n))
    if n == 0:
        return neg, keep
    u = np.repeat(users, n).reshape(len(users), n)

    def clash(cand: np.ndarray, uu: np.ndarray) -> np.ndarray:
        key = uu * n_items + cand
        at = np.searchsorted(seen, key)
        return seen[np.minimum(at, len(seen) - 1)] == key

    bad = clash(neg, u) & keep[:, None]
    # Rejection sampling, vectorised: each pass redraws only the clashes (few when users see a
    # small share of items; a user near the full catalogue converges slowly but surely).
    while bad.any():
        idx = np.nonzero(bad)
        neg[idx] = rng.integers(1, n_items, size=len(idx[0]))
        bad[idx] = clash(neg[idx], u[idx])
    return neg, keep


def build_samples(log: InteractionLog, max_history: int = 50, negatives: int = 4, eval_negatives: int = 20,
                  seed: int = 0, min_user_interactions: int = 3) -> Samples:
    """Train/valid/test blocks: histories from the split, negatives from a ``seed``-ed generator."""
    if max_history < 1 or negatives < 0 or eval_negatives < 1:
        raise ValueError("max_history >= 1, negatives >= 0 and eval_negatives >= 1 are required")
    split = split_log(log, min_user_interactions)
    rng = np.random.default_rng(seed)
    seen = _seen_keys(log)
    blocks = []
    for role, k in ((0, negatives), (1, eval_negatives), (2, eval_negatives)):
        rows = split.rows(role)
        hist = _histories(log.items, rows, split, max_history)
        users = log.users[rows]
        neg, keep = sample_negatives(rng, users, k, log, seen)
        cands = np.concatenate([log.items[rows][:, None], neg], axis=1)
        labels = np.zeros(cands.shape, dtype=np.float32)
        labels[:, 0] = 1.0
        blocks.append(Block(hist[keep], cands[keep], labels[keep], users[keep]))
    train, valid, test = blocks
    if len(train) == 0 or len(valid) == 0 or len(test) == 0:
        raise NotEnoughData(
            f"need users with at least {min_user_interactions} interactions for valid and test rows "
            f"({len(valid)} users have them)", users=log.n_users - 1)
    freq = np.bincount(train.cands[:, 0], minlength=log.n_items).astype(np.int64)
    freq[0] = 0
    return Samples(train, valid, test, log.n_items, log.item_category.copy(), freq, max_history,
                   split.train_only_users, log.n_users, seen)
