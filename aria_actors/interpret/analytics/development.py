"""Predict a character's next development step from its version history.

::

    versions of one character, by version:  v0 --changes--> v1 --changes--> v2 ... vN
    change: +trait | -trait | attribute=value (a categorical attribute set to a new value) | none

    features of v_i: traits held (multi-hot), categorical attributes (one-hot key=value),
                     numeric attributes (standardised), changes that led to v_i (one-hot: order-1 Markov)
    model: multinomial logistic regression  features(v_i) -> each change of v_i -> v_{i+1}
    predict: softmax over changes, impossible ones masked (+t when t is held, -t when it is not,
             key=value when it already is), renormalised, top k
    baseline: training frequency of each change (add-one smoothed), the same mask

Guarantees and caveats
----------------------
- A transition with several changes gives one training event per change, each weighted
  ``1 / changes`` so every transition counts once; accuracy@k and log-likelihood are per event.
- :func:`evaluate` fits on ``train`` and scores ``test`` histories; split by character
  (:func:`split_by_character`) so no character is on both sides. Test events whose change never
  occurred in training cannot be predicted: they count as misses and are left out of the
  log-likelihood (``n_unseen`` says how many).
- Prediction runs in numpy from the fitted weights (``to_dict``/``from_dict`` round-trip as JSON);
  scikit-learn is imported only by ``fit``.
- Versions of a character must have distinct integer ``version`` numbers; numeric attributes must
  be finite; other attribute values must be strings, booleans or null.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from aria_actors.interpret.analytics import _validate as v
from aria_actors.interpret.analytics._threads import single_thread
from aria_actors.interpret.errors import InvalidFeatures, NotEnoughData

Change = tuple[str, ...]  # ("add", t) | ("remove", t) | ("set", key, value) | ("none",)
MAX_ATTRIBUTES = 200


class State:
    """One version: traits held, categorical and numeric attributes."""

    __slots__ = ("cats", "nums", "traits", "ts", "version")

    def __init__(self, traits: frozenset[str], cats: dict[str, str], nums: dict[str, float], version: int,
                 ts: float | None) -> None:
        self.traits, self.cats, self.nums, self.version, self.ts = traits, cats, nums, version, ts


def _state(row: Any, field: str) -> tuple[str, State]:
    row = v.mapping(row, field, InvalidFeatures)
    for key in ("character_id", "version", "traits"):
        if key not in row:
            raise InvalidFeatures(f"{field} has no {key!r}", field=f"{field}.{key}")
    cid = v.ident(row["character_id"], f"{field}.character_id", InvalidFeatures)
    version = v.integer(row["version"], f"{field}.version", InvalidFeatures)
    traits = frozenset(v.names(row["traits"], f"{field}.traits", InvalidFeatures))
    attrs = v.mapping(row.get("attributes") or {}, f"{field}.attributes", InvalidFeatures)
    if len(attrs) > MAX_ATTRIBUTES:
        raise InvalidFeatures(f"{field}.attributes has more than {MAX_ATTRIBUTES} keys", field=f"{field}.attributes")
    cats: dict[str, str] = {}
    nums: dict[str, float] = {}
    for key, value in attrs.items():
        name = v.name(key, f"{field}.attributes key", InvalidFeatures)
        where = f"{field}.attributes.{name}"
        if value is None:
            continue
        if isinstance(value, bool):
            cats[name] = "true" if value else "false"
        elif isinstance(value, str):
            cats[name] = v.name(value, where, InvalidFeatures)
        else:
            nums[name] = v.number(value, where, InvalidFeatures)
    ts = row.get("ts")
    stamp = None if ts is None else v.timestamp(ts, f"{field}.ts", InvalidFeatures)
    return cid, State(traits, cats, nums, version, stamp)


def parse_histories(histories: Any) -> dict[str, list[State]]:
    """Validated versions grouped by character and ordered by version."""
    rows = v.records(histories, "histories", InvalidFeatures)
    by_char: dict[str, list[State]] = defaultdict(list)
    for i, row in enumerate(rows):
        cid, state = _state(row, f"histories[{i}]")
        by_char[cid].append(state)
    for cid, states in by_char.items():
        states.sort(key=lambda s: s.version)
        for a, b in pairwise(states):
            if a.version == b.version:
                raise InvalidFeatures(f"character {cid} has two versions numbered {a.version}",
                                      field="histories.version")
    return dict(by_char)


def changes(a: State, b: State) -> list[Change]:
    """What changed from version ``a`` to version ``b`` (``[("none",)]`` when nothing did)."""
    out: list[Change] = [("add", t) for t in sorted(b.traits - a.traits)]
    out += [("remove", t) for t in sorted(a.traits - b.traits)]
    out += [("set", k, val) for k, val in sorted(b.cats.items()) if a.cats.get(k) != val]
    return out or [("none",)]


def _possible(change: Change, state: State) -> bool:
    if change[0] == "add":
        return change[1] not in state.traits
    if change[0] == "remove":
        return change[1] in state.traits
    if change[0] == "set":
        return state.cats.get(change[1]) != change[2]
    return True


def describe(change: Change) -> dict[str, Any]:
    if change[0] in ("add", "remove"):
        return {"change": change[0], "trait": change[1]}
    if change[0] == "set":
        return {"change": "set", "attribute": change[1], "value": change[2]}
    return {"change": "none"}


def _key(change: Change) -> str:
    return "\x1f".join(change)


def _unkey(key: str) -> Change:
    return tuple(key.split("\x1f"))


def split_by_character(histories: Any, test_fraction: float = 0.25, seed: int = 0) -> tuple[list[Any], list[Any]]:
    """Split version rows into train and test by character (seeded), so no character is on both sides."""
    rows = v.records(histories, "histories", InvalidFeatures)
    test_fraction = v.fraction(test_fraction, "test_fraction", InvalidFeatures)
    ids = sorted({v.ident(v.mapping(r, f"histories[{i}]", InvalidFeatures).get("character_id"),
                          f"histories[{i}].character_id", InvalidFeatures) for i, r in enumerate(rows)})
    if len(ids) < 2:
        raise NotEnoughData("splitting by character needs at least 2 characters", field="histories")
    rng = np.random.default_rng(seed)
    n_test = min(len(ids) - 1, max(1, round(test_fraction * len(ids))))
    test_ids = {ids[i] for i in rng.permutation(len(ids))[:n_test]}
    train = [r for r in rows if v.ident(r["character_id"], "character_id", InvalidFeatures) not in test_ids]
    test = [r for r in rows if v.ident(r["character_id"], "character_id", InvalidFeatures) in test_ids]
    return train, test


class DevelopmentModel:
    """Multinomial logistic regression of a character's next change given its current version."""

    def __init__(self, c: float = 1.0, max_iter: int = 500) -> None:
        self.c = v.number(c, "c", InvalidFeatures)
        if self.c <= 0:
            raise InvalidFeatures("c (inverse regularisation) must be positive", field="c")
        self.max_iter = v.positive_int(max_iter, "max_iter", InvalidFeatures, 1, 100_000)
        self.classes: list[Change] = []
        self.features: dict[str, int] = {}
        self.num_mean: dict[str, float] = {}
        self.num_std: dict[str, float] = {}
        self.coef = np.zeros((0, 0))
        self.intercept = np.zeros(0)
        self.class_counts = np.zeros(0)
        self.n_events = 0

    # -- features ---------------------------------------------------------------------------

    def _vector(self, state: State, previous: list[Change]) -> np.ndarray:
        x = np.zeros(len(self.features))
        for t in state.traits:
            if (j := self.features.get("t\x1f" + t)) is not None:
                x[j] = 1.0
        for k, val in state.cats.items():
            if (j := self.features.get(f"c\x1f{k}\x1f{val}")) is not None:
                x[j] = 1.0
        for k, val in state.nums.items():
            if (j := self.features.get("n\x1f" + k)) is not None:
                x[j] = (val - self.num_mean[k]) / self.num_std[k]
        for ch in previous:
            if (j := self.features.get("p\x1f" + _key(ch))) is not None:
                x[j] = 1.0
        return x

    @staticmethod
    def _events(by_char: dict[str, list[State]]) -> list[tuple[State, list[Change], list[Change]]]:
        """(state, changes that led to it, changes that follow it) for every transition."""
        out = []
        for states in by_char.values():
            previous: list[Change] = []
            for a, b in pairwise(states):
                nxt = changes(a, b)
                out.append((a, previous, nxt))
                previous = nxt
        return out

    def fit(self, histories: Any) -> DevelopmentModel:
        # heavy: scikit-learn takes about 1 s to import; only fitting needs it
        from sklearn.linear_model import LogisticRegression

        events = self._events(parse_histories(histories))
        if not events:
            raise NotEnoughData("no character has two versions; nothing to learn from", field="histories")
        labels = Counter(_key(ch) for _, _, nxt in events for ch in nxt)
        self.classes = [_unkey(k) for k in sorted(labels)]
        self.class_counts = np.array([labels[_key(c)] for c in self.classes], dtype=np.float64)
        self.n_events = int(self.class_counts.sum())
        names: set[str] = set()
        nums: dict[str, list[float]] = defaultdict(list)
        for state, previous, _ in events:
            names.update("t\x1f" + t for t in state.traits)
            names.update(f"c\x1f{k}\x1f{val}" for k, val in state.cats.items())
            names.update("p\x1f" + _key(ch) for ch in previous)
            for k, val in state.nums.items():
                nums[k].append(val)
        names.update("n\x1f" + k for k in nums)
        self.features = {n: i for i, n in enumerate(sorted(names))}
        self.num_mean = {k: float(np.mean(vals)) for k, vals in nums.items()}
        self.num_std = {k: float(np.std(vals)) or 1.0 for k, vals in nums.items()}
        index = {_key(c): i for i, c in enumerate(self.classes)}
        xs, ys, ws = [], [], []
        for state, previous, nxt in events:
            x = self._vector(state, previous)
            for ch in nxt:
                xs.append(x)
                ys.append(index[_key(ch)])
                ws.append(1.0 / len(nxt))
        if len(self.classes) == 1:  # logistic regression needs two classes; one class is certain
            self.coef = np.zeros((1, len(self.features)))
            self.intercept = np.zeros(1)
            return self
        lr = LogisticRegression(C=self.c, max_iter=self.max_iter)
        with single_thread():
            lr.fit(np.array(xs), np.array(ys), sample_weight=np.array(ws))
        # sklearn keeps only the classes it saw; all were seen, so its order is ours
        self.coef = lr.coef_ if lr.coef_.shape[0] > 1 else np.vstack([-lr.coef_, lr.coef_]) / 2
        self.intercept = lr.intercept_ if lr.intercept_.shape[0] > 1 else np.array([-1, 1]) * lr.intercept_[0] / 2
        return self

    # -- prediction -------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not self.classes:
            raise NotEnoughData("the model is not fitted; call fit(histories) first", field="model")

    def probabilities(self, state: State, previous: list[Change]) -> np.ndarray:
        """Masked, renormalised probabilities over ``classes`` (all zero if nothing is possible)."""
        logits = self.coef @ self._vector(state, previous) + self.intercept
        p = np.exp(logits - logits.max())
        return _mask(p, self.classes, state)

    def baseline(self, state: State) -> np.ndarray:
        return _mask(self.class_counts + 1.0, self.classes, state)

    def predict(self, history: Any, k: int = 5) -> dict[str, Any]:
        """The ``k`` likeliest next changes of one character from its versions (its last version
        is the current state), and the state after the likeliest one."""
        self._check_fitted()
        k = v.positive_int(k, "k", InvalidFeatures, 1, 1_000)
        by_char = parse_histories(history)
        if len(by_char) != 1:
            raise InvalidFeatures(f"history must hold one character's versions, got {len(by_char)} characters",
                                  field="history")
        (cid, states), = by_char.items()
        previous = changes(states[-2], states[-1]) if len(states) > 1 else []
        state = states[-1]
        p = self.probabilities(state, previous)
        order = [i for i in np.argsort(-p, kind="stable")[:k] if p[i] > 0]
        predictions = [{**describe(self.classes[i]), "p": float(p[i])} for i in order]
        traits, cats = set(state.traits), dict(state.cats)
        if order:
            top = self.classes[order[0]]
            if top[0] == "add":
                traits.add(top[1])
            elif top[0] == "remove":
                traits.discard(top[1])
            elif top[0] == "set":
                cats[top[1]] = top[2]
        return {"character_id": cid, "version": state.version, "predictions": predictions,
                "next_state": {"traits": sorted(traits), "attributes": {**cats, **state.nums}}}

    # -- persistence ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {"format": "aria-development-lr/1", "c": self.c, "max_iter": self.max_iter,
                "classes": [list(c) for c in self.classes], "features": sorted(self.features, key=self.features.get),
                "num_mean": self.num_mean, "num_std": self.num_std, "coef": self.coef.tolist(),
                "intercept": self.intercept.tolist(), "class_counts": self.class_counts.tolist(),
                "n_events": self.n_events}

    @classmethod
    def from_dict(cls, data: Any) -> DevelopmentModel:
        data = v.mapping(data, "model", InvalidFeatures)
        if data.get("format") != "aria-development-lr/1":
            raise InvalidFeatures("not a development model (format aria-development-lr/1)", field="format")
        model = cls(data["c"], data["max_iter"])
        model.classes = [tuple(c) for c in data["classes"]]
        model.features = {n: i for i, n in enumerate(data["features"])}
        model.num_mean, model.num_std = dict(data["num_mean"]), dict(data["num_std"])
        model.coef = np.array(data["coef"], dtype=np.float64).reshape(len(model.classes), len(model.features))
        model.intercept = np.array(data["intercept"], dtype=np.float64)
        model.class_counts = np.array(data["class_counts"], dtype=np.float64)
        model.n_events = int(data["n_events"])
        if not (np.isfinite(model.coef).all() and np.isfinite(model.intercept).all()):
            raise InvalidFeatures("model weights hold non-finite numbers", field="coef")
        return model


def _mask(weights: np.ndarray, classes: Sequence[Change], state: State) -> np.ndarray:
    mask = np.array([_possible(c, state) for c in classes])
    p = np.where(mask, weights, 0.0)
    total = p.sum()
    return p / total if total > 0 else p


def fit(histories: Any, c: float = 1.0, max_iter: int = 500) -> DevelopmentModel:
    return DevelopmentModel(c, max_iter).fit(histories)


def evaluate(train: Any, test: Any, ks: Sequence[int] = (1, 3, 5), c: float = 1.0) -> dict[str, Any]:
    """Fit on ``train`` histories, score next-change prediction on ``test`` histories: accuracy@k
    and mean log-likelihood per event for the model and the frequency baseline."""
    ks = [v.positive_int(k, "ks[]", InvalidFeatures, 1, 1_000) for k in ks]
    model = fit(train, c=c)
    events = model._events(parse_histories(test))
    if not events:
        raise NotEnoughData("no test character has two versions; nothing to evaluate", field="test")
    index = {_key(ch): i for i, ch in enumerate(model.classes)}
    hits = {name: dict.fromkeys(ks, 0) for name in ("model", "baseline")}
    loglik = {"model": 0.0, "baseline": 0.0}
    n = unseen = 0
    for state, previous, nxt in events:
        probs = {"model": model.probabilities(state, previous), "baseline": model.baseline(state)}
        ranks = {name: np.argsort(-p, kind="stable") for name, p in probs.items()}
        for ch in nxt:
            n += 1
            i = index.get(_key(ch))
            if i is None:
                unseen += 1
                continue
            for name, p in probs.items():
                rank = int(np.flatnonzero(ranks[name] == i)[0])
                for k in ks:
                    hits[name][k] += rank < k
                loglik[name] += math.log(max(float(p[i]), 1e-12))
    scored = n - unseen
    out: dict[str, Any] = {"n_events": n, "n_unseen": unseen, "n_train_events": model.n_events,
                           "n_classes": len(model.classes)}
    for name in ("model", "baseline"):
        out[name] = {**{f"accuracy@{k}": hits[name][k] / n for k in ks},
                     "log_likelihood": loglik[name] / scored if scored else float("nan")}
    return out
