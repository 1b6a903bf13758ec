"""Seeded synthetic inputs with planted structure, one generator per analytics input kind.

Each generator returns ``(data, truth)``: ``data`` in exactly the shape the service reads from
Postgres, ``truth`` the structure planted in it, so tests and the bench can check that a model finds
what was put there and that its baseline does not.

====================  ================================  ==========================================
generator             data                              planted
====================  ================================  ==========================================
action_sequences      (character_id, ts, action)        per-cluster orderings of one action set
                                                        (same unigrams, other order)
interactions          (a, b, ts, kind)                  quiet pairs that interact far more than
                                                        their activity predicts, next to hubs
histories             character versions                each trait's preferred next change, a mood
                                                        cycle
embeddings            id -> {embedding, traits}         trait groups tied to embedding centroids
picks                 (player, template, traits)        co-picked trait/template groups per taste
====================  ================================  ==========================================

Guarantees and caveats
----------------------
- Deterministic for a seed (numpy ``default_rng``); no global random state is touched.
- The structure is strong but noisy (noise actions, random changes, random picks), so a model
  recovers it only if it actually models it; the popularity/frequency baselines do not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aria_actors.interpret.errors import InvalidFeatures

ACTIONS = ("patrol", "talk", "trade", "rest", "craft", "explore", "pray", "train", "eat", "sleep", "sing", "hunt")
TRAITS = ("shy", "curious", "brave", "angry", "kind", "greedy", "loyal", "proud", "calm", "wise", "reckless",
          "honest", "cunning", "cheerful", "gloomy", "stubborn")
MOODS = ("calm", "tense", "angry")


def action_sequences(n_characters: int = 60, n_clusters: int = 3, motif_length: int = 5, repeats: int = 2,
                     noise: float = 0.6, inner_noise: float = 0.1, seed: int = 0,
                     ) -> tuple[list[tuple[str, float, str]], dict[str, Any]]:
    """Each cluster repeats its own ordering of the same ``motif_length`` actions ``repeats`` times:
    noise actions (any action) come between repeats (a geometric run, probability ``noise`` each)
    and, rarely (``inner_noise``), inside a motif."""
    rng = np.random.default_rng(seed)
    core = list(ACTIONS[:motif_length])
    motifs: list[list[str]] = []
    used: set[tuple[str, str]] = set()
    for _ in range(10_000):  # motifs share no adjacent pair (repeats wrap around), so they are distinct
        if len(motifs) == n_clusters:
            break
        perm = [core[i] for i in rng.permutation(motif_length)]
        pairs = {(perm[i], perm[(i + 1) % motif_length]) for i in range(motif_length)}
        if not pairs & used:
            motifs.append(perm)
            used |= pairs
    else:
        raise InvalidFeatures("cannot plant that many order-disjoint motifs; use a longer motif_length",
                              field="motif_length")
    rows: list[tuple[str, float, str]] = []
    labels: dict[str, int] = {}
    for c in range(n_characters):
        cid = f"c{c:04d}"
        cluster = c % n_clusters
        labels[cid] = cluster
        seq: list[str] = []
        for _ in range(repeats):
            while rng.random() < noise:
                seq.append(str(ACTIONS[rng.integers(len(ACTIONS))]))
            for j, act in enumerate(motifs[cluster]):
                if j and rng.random() < inner_noise:
                    seq.append(str(ACTIONS[rng.integers(len(ACTIONS))]))
                seq.append(act)
        t0 = float(rng.uniform(0, 1e6))
        rows += [(cid, t0 + 10.0 * j, a) for j, a in enumerate(seq)]
    order = rng.permutation(len(rows))  # the service reads rows in no particular order
    return [rows[i] for i in order], {"motifs": motifs, "labels": labels}


def interactions(n_characters: int = 80, n_background: int = 4_000, n_planted: int = 6, planted_count: int = 10,
                 span: float = 30 * 86_400.0, seed: int = 0,
                 ) -> tuple[list[tuple[str, str, float, str]], dict[str, Any]]:
    """Background interactions between random pairs in proportion to each character's activity
    (lognormal, so a few hubs), plus ``n_planted`` pairs of quiet characters with ``planted_count``
    extra interactions each."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, n_characters)
    order = np.argsort(activity)
    quiet = order[: 2 * n_planted]  # the least active characters form the planted pairs
    ids = [f"c{i:04d}" for i in range(n_characters)]
    p = activity / activity.sum()
    kinds = ("talk", "trade", "fight")
    rows: list[tuple[str, str, float, str]] = []
    drawn = 0
    while drawn < n_background:
        a, b = rng.choice(n_characters, size=2, p=p)
        if a == b:
            continue
        rows.append((ids[a], ids[b], float(rng.uniform(0, span)), kinds[rng.integers(3)]))
        drawn += 1
    planted = []
    for j in range(n_planted):
        a, b = int(quiet[2 * j]), int(quiet[2 * j + 1])
        planted.append(tuple(sorted((ids[a], ids[b]))))
        for _ in range(planted_count):
            x, y = (a, b) if rng.random() < 0.5 else (b, a)
            rows.append((ids[x], ids[y], float(rng.uniform(0, span)), "talk"))
    perm = rng.permutation(len(rows))
    return [rows[i] for i in perm], {"pairs": sorted(planted), "span": span}


def histories(n_characters: int = 200, n_versions: int = 12, follow: float = 0.8, seed: int = 0,
              ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Character versions whose next change is planted: with probability ``follow`` the change is
    the next mood in a cycle (a quarter of the time) or the preferred follow-up (a random map
    trait -> change) of the trait changed last; otherwise, or when the follow-up is not possible, a
    random valid change."""
    rng = np.random.default_rng(seed)
    traits = list(TRAITS)
    # each trait's planted follow-up: add another trait, or drop one the character is likely to hold
    follow_up: dict[str, str] = {}
    for t in traits:
        other = traits[int(rng.integers(len(traits)))]
        while other == t:
            other = traits[int(rng.integers(len(traits)))]
        follow_up[t] = ("+" if rng.random() < 0.7 else "-") + other
    versions: list[dict[str, Any]] = []
    for c in range(n_characters):
        cid = f"c{c:04d}"
        current = set(rng.choice(traits, size=3, replace=False).tolist())
        mood = MOODS[int(rng.integers(3))]
        level = float(rng.normal())
        ts = float(rng.uniform(0, 1e6))
        last: str | None = None
        for ver in range(n_versions):
            versions.append({"character_id": cid, "version": ver, "traits": sorted(current),
                             "attributes": {"mood": mood, "level": round(level, 4)}, "ts": ts})
            ts += float(rng.uniform(60, 3600))
            level += float(rng.normal(0, 0.1))
            change = None
            if rng.random() < follow:
                if rng.random() < 0.25:
                    change = "mood=" + MOODS[(MOODS.index(mood) + 1) % 3]
                else:
                    # the follow-up of the trait changed last, else of a random current trait
                    source = last if last else sorted(current)[int(rng.integers(len(current)))]
                    cand = follow_up[source]
                    if cand and ((cand[0] == "+") != (cand[1:] in current)):
                        change = cand
            if change is None:
                valid = [f"-{t}" for t in current] + [f"+{t}" for t in traits if t not in current]
                change = valid[int(rng.integers(len(valid)))]
            last = change[1:] if change[0] in "+-" else None
            if change.startswith("mood="):
                mood = change[5:]
            elif change[0] == "+":
                current.add(change[1:])
            elif len(current) > 1:
                current.discard(change[1:])
            else:  # never leave a character without traits
                current.add(traits[int(rng.integers(len(traits)))])
    return versions, {"follow_up": follow_up}


def embeddings(n_characters: int = 300, dim: int = 384, n_groups: int = 6, group_traits: int = 5, noise: float = 1.5,
               seed: int = 0) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Characters near their group's centroid, holding 3 of the group's traits and 1 to 2 generic
    traits drawn by a Zipf-like popularity."""
    rng = np.random.default_rng(seed)
    centroids = rng.normal(size=(n_groups, dim))
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    groups = [[f"g{g}_trait{j}" for j in range(group_traits)] for g in range(n_groups)]
    generic = [f"common{j}" for j in range(10)]
    pop = 1.0 / np.arange(1, len(generic) + 1)
    pop /= pop.sum()
    out: dict[str, dict[str, Any]] = {}
    labels: dict[str, int] = {}
    for c in range(n_characters):
        g = c % n_groups
        e = centroids[g] + noise * rng.normal(size=dim) / np.sqrt(dim)  # noise norm ~ noise
        e /= np.linalg.norm(e)
        traits = rng.choice(groups[g], size=3, replace=False).tolist()
        traits += rng.choice(generic, size=int(rng.integers(1, 3)), replace=False, p=pop).tolist()
        cid = f"c{c:04d}"
        out[cid] = {"embedding": e.tolist(), "traits": traits}
        labels[cid] = g
    return out, {"groups": groups, "labels": labels}


def picks(n_players: int = 300, picks_per_player: int = 6, n_groups: int = 6, group_size: int = 6,
          fidelity: float = 0.8, seed: int = 0) -> tuple[list[tuple[str, str, list[str]]], dict[str, Any]]:
    """Players with one or two tastes; a pick takes a template and 3 to 5 traits from one taste's
    group with probability ``fidelity`` each, otherwise popular (Zipf-like) ones."""
    rng = np.random.default_rng(seed)
    templates = [f"template{g}" for g in range(n_groups)] + ["template_generic"]
    groups = [[f"g{g}_t{j}" for j in range(group_size)] for g in range(n_groups)]
    popular = [f"pop{j}" for j in range(20)]
    pop = 1.0 / np.arange(1, len(popular) + 1)
    pop /= pop.sum()
    rows: list[tuple[str, str, list[str]]] = []
    tastes: dict[str, list[int]] = {}
    for u in range(n_players):
        pid = f"p{u:04d}"
        mine = rng.choice(n_groups, size=int(rng.integers(1, 3)), replace=False).tolist()
        tastes[pid] = mine
        for _ in range(picks_per_player):
            g = mine[int(rng.integers(len(mine)))]
            template = templates[g] if rng.random() < fidelity else templates[int(rng.integers(len(templates)))]
            chosen: list[str] = []
            for _ in range(int(rng.integers(3, 6))):
                pool = groups[g] if rng.random() < fidelity else popular
                cand = [t for t in pool if t not in chosen]
                weights = None if pool is groups[g] else np.array([pop[popular.index(t)] for t in cand])
                chosen.append(str(rng.choice(cand, p=None if weights is None else weights / weights.sum())))
            rows.append((pid, template, chosen))
    return rows, {"groups": groups, "tastes": tastes}
