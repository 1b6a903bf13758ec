"""Content-based trait and attribute recommendations from character embeddings.

::

    character (embedding e, traits T, attributes A)
      -> cosine similarity to every known character -> the ``neighbors`` most similar (sim > floor)
      -> score(item) = sum over neighbours holding it of sim ** power     (item: trait or key=value)
      -> drop what the character already holds -> top k (ties and empty neighbourhoods: popularity)

    evaluate: hide one item per character, rank the rest: hit rate@k and MRR, next to the same
    ranking by popularity (item counts over the other characters)

Guarantees and caveats
----------------------
- Embeddings are re-normalised to unit length (the service stores 384-d unit vectors; anything
  finite and non-zero is accepted); all must share one dimension.
- A character never votes for itself (``exclude``), so the leave-one-out evaluation is honest; the
  popularity baseline leaves the character's own items out of the counts for the same reason.
- Popularity breaks ties (a 1e-9-scaled term), so a character without similar neighbours still
  gets the most popular items it lacks; ``source`` says which items came from neighbours.
- Memory is O(characters x items) dense float32 at fit time; sizes are bounded by ``MAX_CHARACTERS``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from aria_actors.interpret.analytics import _validate as v
from aria_actors.interpret.errors import InvalidFeatures, NotEnoughData

MAX_CHARACTERS = 100_000
MAX_ITEMS = 20_000


def _item_key(kind: str, *parts: str) -> str:
    return "\x1f".join((kind, *parts))


def describe(key: str) -> dict[str, str]:
    parts = key.split("\x1f")
    return {"trait": parts[1]} if parts[0] == "t" else {"attribute": parts[1], "value": parts[2]}


def _items(traits: Any, attributes: Any, field: str) -> list[str]:
    out = [_item_key("t", t) for t in v.names(traits, f"{field}.traits", InvalidFeatures)]
    for key, value in v.mapping(attributes or {}, f"{field}.attributes", InvalidFeatures).items():
        if isinstance(value, str):  # categorical attributes are recommendable; numbers are not
            out.append(_item_key("a", v.name(key, f"{field}.attributes key", InvalidFeatures),
                                 v.name(value, f"{field}.attributes.{key}", InvalidFeatures)))
    return out


def parse_characters(characters: Any) -> tuple[list[str], np.ndarray, list[list[str]]]:
    """Ids, unit embeddings (n x d) and item keys from ``{id: {embedding, traits, attributes?}}``
    or a list of such records with ``character_id``."""
    if isinstance(characters, Mapping):
        records = [({"character_id": k, **v.mapping(r, f"characters[{k!r}]", InvalidFeatures)}) for k, r in
                   characters.items()]
    else:
        records = list(v.records(characters, "characters", InvalidFeatures, MAX_CHARACTERS))
    if not records:
        raise NotEnoughData("no characters with embeddings yet", field="characters")
    if len(records) > MAX_CHARACTERS:
        raise InvalidFeatures(f"at most {MAX_CHARACTERS} characters are allowed", field="characters")
    ids: list[str] = []
    vecs: list[np.ndarray] = []
    items: list[list[str]] = []
    seen: set[str] = set()
    for i, rec in enumerate(records):
        rec = v.mapping(rec, f"characters[{i}]", InvalidFeatures)
        cid = v.ident(rec.get("character_id"), f"characters[{i}].character_id", InvalidFeatures)
        if cid in seen:
            raise InvalidFeatures(f"character {cid} appears twice", field=f"characters[{i}].character_id")
        seen.add(cid)
        if "embedding" not in rec:
            raise InvalidFeatures(f"characters[{i}] has no embedding", field=f"characters[{i}].embedding")
        vec = v.vector(rec["embedding"], f"characters[{i}].embedding", InvalidFeatures)
        if vecs and vec.size != vecs[0].size:
            raise InvalidFeatures(f"characters[{i}].embedding has {vec.size} numbers, others {vecs[0].size}",
                                  field=f"characters[{i}].embedding")
        ids.append(cid)
        vecs.append(vec)
        items.append(_items(rec.get("traits", []), rec.get("attributes"), f"characters[{i}]"))
    return ids, np.vstack(vecs), items


class ContentRecommender:
    """kNN over character embeddings; neighbours vote (similarity-weighted) for items."""

    def __init__(self, neighbors: int = 20, power: float = 1.0, min_similarity: float = 0.0) -> None:
        self.neighbors = v.positive_int(neighbors, "neighbors", InvalidFeatures, 1, 10_000)
        self.power = v.number(power, "power", InvalidFeatures)
        self.min_similarity = v.number(min_similarity, "min_similarity", InvalidFeatures)
        if not 0 < self.power <= 10:
            raise InvalidFeatures("power must be in (0, 10]", field="power")
        if not -1 <= self.min_similarity < 1:
            raise InvalidFeatures("min_similarity must be in [-1, 1)", field="min_similarity")
        self.ids: list[str] = []
        self.position: dict[str, int] = {}
        self.embeddings = np.zeros((0, 0), dtype=np.float32)
        self.items: list[str] = []
        self.item_index: dict[str, int] = {}
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.popularity = np.zeros(0)

    def fit(self, characters: Any) -> ContentRecommender:
        ids, emb, items = parse_characters(characters)
        vocab = sorted({it for row in items for it in row})
        if not vocab:
            raise NotEnoughData("no character has traits to recommend", field="characters")
        if len(vocab) > MAX_ITEMS:
            raise InvalidFeatures(f"{len(vocab)} distinct traits/attributes; at most {MAX_ITEMS}", field="characters")
        self.ids, self.position = ids, {c: i for i, c in enumerate(ids)}
        self.embeddings = emb.astype(np.float32)
        self.items, self.item_index = vocab, {it: j for j, it in enumerate(vocab)}
        self.matrix = np.zeros((len(ids), len(vocab)), dtype=np.float32)
        for i, row in enumerate(items):
            self.matrix[i, [self.item_index[it] for it in row]] = 1.0
        self.popularity = self.matrix.sum(axis=0).astype(np.float64)
        return self

    def _scores(self, sims: np.ndarray, owned: np.ndarray, popularity: np.ndarray) -> np.ndarray:
        """Item scores for rows of similarities (``-inf`` where a character may not vote)."""
        n = sims.shape[1]
        keep = min(self.neighbors, n)
        top = np.argpartition(-sims, keep - 1, axis=1)[:, :keep]
        weights = np.zeros_like(sims)
        rows = np.arange(sims.shape[0])[:, None]
        chosen = sims[rows, top]
        ok = np.isfinite(chosen) & (chosen > self.min_similarity)
        weights[rows, top] = np.where(ok, np.maximum(chosen, 0.0) ** self.power, 0.0)
        scores = weights @ self.matrix
        pop = popularity / np.maximum(popularity.max(axis=-1, keepdims=True), 1.0)
        scores = scores + 1e-9 * pop  # popularity breaks ties and fills empty neighbourhoods
        return np.where(owned > 0, -np.inf, scores)

    def recommend(self, embedding: Any, traits: Any = (), attributes: Any = None, k: int = 10,
                  exclude: str | None = None) -> dict[str, Any]:
        """Top-``k`` traits/attributes the character lacks, with the neighbours that voted."""
        if not self.ids:
            raise NotEnoughData("the recommender is not fitted; call fit(characters) first", field="model")
        k = v.positive_int(k, "k", InvalidFeatures, 1, 1_000)
        q = v.vector(embedding, "embedding", InvalidFeatures)
        if q.size != self.embeddings.shape[1]:
            raise InvalidFeatures(f"embedding has {q.size} numbers; the model's have {self.embeddings.shape[1]}",
                                  field="embedding")
        owned = np.zeros(len(self.items), dtype=np.float32)
        for it in _items(traits, attributes, "character"):
            if (j := self.item_index.get(it)) is not None:
                owned[j] = 1.0
        sims = (self.embeddings @ q.astype(np.float32)).astype(np.float64)[None, :]
        if exclude is not None and (i := self.position.get(v.ident(exclude, "exclude", InvalidFeatures))) is not None:
            sims[0, i] = -np.inf
        scores = self._scores(sims, owned[None, :], self.popularity)[0]
        order = [j for j in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[j])]
        nn = [int(i) for i in np.argsort(-sims[0], kind="stable")[: min(5, len(self.ids))] if np.isfinite(sims[0, i])]
        return {"recommendations": [{**describe(self.items[j]), "score": float(scores[j]),
                                     "source": "neighbours" if scores[j] >= 1e-6 else "popularity"} for j in order],
                "neighbours": [{"character_id": self.ids[i], "similarity": float(sims[0, i])} for i in nn]}

    def recommend_for(self, character_id: Any, k: int = 10) -> dict[str, Any]:
        """Recommendations for a character the model was fitted on (it does not vote for itself)."""
        cid = v.ident(character_id, "character_id", InvalidFeatures)
        if cid not in self.position:
            raise InvalidFeatures(f"unknown character {cid}; send its embedding instead", field="character_id")
        i = self.position[cid]
        held = [self.items[j] for j in np.flatnonzero(self.matrix[i])]
        traits = [describe(h)["trait"] for h in held if h.startswith("t\x1f")]
        attrs = {describe(h)["attribute"]: describe(h)["value"] for h in held if h.startswith("a\x1f")}
        return {"character_id": cid, **self.recommend(self.embeddings[i], traits, attrs, k, exclude=cid)}


def _rank_metrics(scores: np.ndarray, hidden: np.ndarray, ks: Sequence[int]) -> dict[str, float]:
    target = scores[np.arange(len(hidden)), hidden]
    higher = (scores > target[:, None]).sum(axis=1)
    ties = (scores == target[:, None]).sum(axis=1) - 1
    rank = higher + ties  # pessimistic: a tie counts against the model
    valid = np.isfinite(target)
    rr = np.where(valid, 1.0 / (rank + 1), 0.0)
    out = {f"hit_rate@{k}": float(np.mean(valid & (rank < k))) for k in ks}
    out["mrr"] = float(rr.mean())
    return out


def evaluate(characters: Any, ks: Sequence[int] = (5, 10), neighbors: int = 20, power: float = 1.0,
             seed: int = 0) -> dict[str, Any]:
    """Leave-one-out: hide one random trait/attribute of every character holding two or more,
    rank all items it lacks; hit rate@k and MRR of the kNN model and of popularity."""
    ks = [v.positive_int(k, "ks[]", InvalidFeatures, 1, 1_000) for k in ks]
    model = ContentRecommender(neighbors, power).fit(characters)
    rng = np.random.default_rng(v.integer(seed, "seed", InvalidFeatures))
    counts = model.matrix.sum(axis=1)
    rows = np.flatnonzero(counts >= 2)
    if len(rows) < 2 or len(model.ids) < 3:
        raise NotEnoughData("evaluation needs at least 2 characters with 2+ traits among 3+", field="characters")
    hidden = np.array([rng.choice(np.flatnonzero(model.matrix[i])) for i in rows])
    results: dict[str, list[np.ndarray]] = {"model": [], "baseline": []}
    chunk = 1_024
    for start in range(0, len(rows), chunk):
        idx = rows[start:start + chunk]
        hid = hidden[start:start + chunk]
        owned = model.matrix[idx].copy()
        owned[np.arange(len(idx)), hid] = 0.0
        sims = (model.embeddings[idx] @ model.embeddings.T).astype(np.float64)
        sims[np.arange(len(idx)), idx] = -np.inf  # a character never votes for itself
        # popularity without the character's own items (its hidden trait must not count for it)
        pop = model.popularity[None, :] - model.matrix[idx]
        results["model"].append(model._scores(sims, owned, pop))
        results["baseline"].append(np.where(owned > 0, -np.inf, pop))
    out: dict[str, Any] = {"n_characters": len(model.ids), "n_evaluated": len(rows), "n_items": len(model.items)}
    for name, parts in results.items():
        out[name] = _rank_metrics(np.vstack(parts), hidden, ks)
    return out
