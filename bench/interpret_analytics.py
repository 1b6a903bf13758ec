"""aria_interpret's analytics models, each scored with its metric next to its baseline.

The peer on every quality line is the baseline named in brackets, not another library: the point
is that each model finds the structure planted in :mod:`aria_actors.interpret.analytics.synthetic`
data (or real structure, for MovieLens) and the baseline does not.

1. patterns: ARI of the behaviour clusters (TF-IDF of action 1-3-grams, k by silhouette) against
   the planted clusters, peer: the same pipeline on unigrams (a bag of actions, order-blind);
   PrefixSpan time, peer: brute-force enumeration of every subsequence (supports must be equal).
2. interactions: precision@K of the pairs ranked by BH q-value (binomial test against activity),
   peer: pairs ranked by raw count; K = number of planted pairs.
3. development: accuracy@1/@3 and perplexity (exp of minus the mean log-likelihood) of the next
   change on held-out characters, peer: the training frequency of each change (same masking).
4. content: hit rate@5 and MRR of a hidden trait, peer: popularity.
5. cf: recall@10 and NDCG@10 of completing held-out picks (known players, and brand-new players),
   item-kNN and ALS, peer: popularity; then MovieLens-100k (recbole's bundled copy, 20% of each
   user's ratings held out, seen items excluded) if ``recbole`` is installed.

Fit times are wall seconds with one BLAS thread. Asserts nothing about time.
Run: ``.venv/bin/python bench/interpret_analytics.py [--seed 0]
[--only patterns,interactions,development,content,cf,ml100k]``
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/queue.py would shadow the standard
# library's queue.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)
sys.path.insert(0, str(_HERE.parent))

import argparse
import csv
import importlib.util
import itertools
import math
import time
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

SUITES = ("patterns", "interactions", "development", "content", "cf", "ml100k")


def line(name: str, aria: float, peer: float, what: str, higher_is_better: bool = True) -> None:
    ratio = (aria / peer if peer else float("inf")) if higher_is_better else (peer / aria if aria else float("inf"))
    print(f"{name}: aria {aria:.4g}, peer {peer:.4g}, ratio {ratio:.3f} ({what})", flush=True)


def timed(name: str, seconds: float) -> None:
    print(f"{name}_fit_s: {seconds:.3f}", flush=True)


def bench_patterns(seed: int) -> None:
    from sklearn.metrics import adjusted_rand_score

    from aria_actors.interpret.analytics import patterns, synthetic

    rows, truth = synthetic.action_sequences(n_characters=90, seed=seed)
    t0 = time.perf_counter()
    seqs, _ = patterns.sequences_from_actions(rows)
    ours = patterns.cluster_sequences(seqs, (2, 8), (1, 3), seed=seed)
    timed("patterns_cluster", time.perf_counter() - t0)
    peer = patterns.cluster_sequences(seqs, (2, 8), (1, 1), seed=seed)
    ids = sorted(truth["labels"])
    ari = [adjusted_rand_score([truth["labels"][i] for i in ids], [r["labels"][i] for i in ids]) for r in (ours, peer)]
    line("patterns_cluster_ari", ari[0], ari[1],
         f"peer [unigram bag of actions, same k-means]; k aria {ours['k']}, peer {peer['k']}, planted 3")
    seq_list = [seqs[c] for c in sorted(seqs)][:40]
    t0 = time.perf_counter()
    mined = patterns.prefixspan(seq_list, 0.2, 4)
    aria_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    support: Counter[tuple[str, ...]] = Counter()
    for s in seq_list:
        positions = range(len(s))
        support.update({tuple(s[i] for i in idx) for n in range(1, 5) for idx in itertools.combinations(positions, n)})
    brute = {p: c for p, c in support.items() if c >= mined["min_count"]}
    peer_s = time.perf_counter() - t0
    same = brute == {tuple(p["pattern"]): p["support"] for p in mined["patterns"]}
    line("prefixspan_s", aria_s, peer_s, f"peer [brute-force subsequences], lower is better; {len(brute)} patterns, "
         f"supports {'equal' if same else 'DIFFER'}", higher_is_better=False)
    found = sum(any(p["pattern"] == m for p in patterns.prefixspan(list(seqs.values()), 0.2, 5)["patterns"])
                for m in truth["motifs"])
    print(f"prefixspan_planted_motifs_found: {found}/{len(truth['motifs'])}", flush=True)


def bench_interactions(seed: int) -> None:
    from aria_actors.interpret.analytics import interactions, synthetic

    rows, truth = synthetic.interactions(n_characters=150, n_background=20_000, n_planted=10, seed=seed)
    t0 = time.perf_counter()
    ev = interactions.evaluate(rows, truth["pairs"])
    timed("interactions", time.perf_counter() - t0)
    line("interactions_precision_at_k", ev["precision_at_k"], ev["baseline_precision_at_k"],
         f"peer [top-K pairs by raw count]; K={ev['k']}")
    print(f"interactions_bh_significant: precision {ev['precision']:.3f}, recall {ev['recall']:.3f}, "
          f"{ev['n_significant']} significant at q<=0.05", flush=True)
    null_rows, _ = synthetic.interactions(n_characters=150, n_background=20_000, n_planted=0, seed=seed + 1)
    print(f"interactions_false_discoveries_without_planted_pairs: "
          f"{interactions.analyse(null_rows)['n_significant']}", flush=True)


def bench_development(seed: int) -> None:
    from aria_actors.interpret.analytics import development, synthetic

    rows, _ = synthetic.histories(n_characters=400, n_versions=12, seed=seed)
    train, test = development.split_by_character(rows, 0.25, seed=seed)
    t0 = time.perf_counter()
    development.fit(train)
    timed("development", time.perf_counter() - t0)
    m = development.evaluate(train, test, ks=(1, 3))
    what = "peer [training frequency of each change, same mask]"
    line("development_accuracy@1", m["model"]["accuracy@1"], m["baseline"]["accuracy@1"], what)
    line("development_accuracy@3", m["model"]["accuracy@3"], m["baseline"]["accuracy@3"], what)
    line("development_perplexity", math.exp(-m["model"]["log_likelihood"]), math.exp(-m["baseline"]["log_likelihood"]),
         what + ", lower is better; " + f"{m['n_events']} held-out events", higher_is_better=False)


def bench_content(seed: int) -> None:
    from aria_actors.interpret.analytics import content, synthetic

    chars, _ = synthetic.embeddings(n_characters=1_200, seed=seed)
    t0 = time.perf_counter()
    content.ContentRecommender().fit(chars)
    timed("content", time.perf_counter() - t0)
    t0 = time.perf_counter()
    m = content.evaluate(chars, ks=(5, 10), seed=seed)
    print(f"content_evaluate_s: {time.perf_counter() - t0:.3f}", flush=True)
    what = "peer [popularity]; one hidden trait per character"
    line("content_hit_rate@5", m["model"]["hit_rate@5"], m["baseline"]["hit_rate@5"], what)
    line("content_mrr", m["model"]["mrr"], m["baseline"]["mrr"], what)


def bench_cf(seed: int) -> None:
    from aria_actors.interpret.analytics import cf, synthetic

    picks, _ = synthetic.picks(n_players=600, seed=seed)
    for method in cf.METHODS:
        t0 = time.perf_counter()
        cf.CFRecommender(method, seed=seed).fit(picks)
        timed(f"cf_{method}", time.perf_counter() - t0)
    for by in ("pick", "player"):
        train, test = cf.split_picks(picks, 0.2, by=by, seed=seed)
        m = cf.evaluate(train, test, k=10, seed=seed)
        who = "known players" if by == "pick" else "brand-new players"
        for method in cf.METHODS:
            for metric in ("recall@10", "ndcg@10"):
                line(f"cf_{by}_{method}_{metric}", m[method][metric], m["popularity"][metric],
                     f"peer [popularity]; {who}, {m['n_cases']} held-out picks")


def _split_rows(rows: dict[str, list[str]], fraction: float, seed: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    train, test = {}, {}
    for user, items in rows.items():
        perm = rng.permutation(len(items))
        n = round(fraction * len(items))
        test[user] = [items[i] for i in perm[:n]]
        train[user] = [items[i] for i in perm[n:]]
    return train, test


def bench_ml100k(seed: int) -> None:
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        print("cf_ml100k: skipped (recbole is not installed: its bundled dataset_example/ml-100k is the data)")
        return
    path = Path(next(iter(spec.submodule_search_locations))) / "dataset_example" / "ml-100k" / "ml-100k.inter"
    if not path.exists():
        print(f"cf_ml100k: skipped ({path} is missing)")
        return
    from aria_actors.interpret.analytics import cf

    rows: dict[str, list[str]] = defaultdict(list)
    with path.open() as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader)
        for user, item, _rating, _ts in reader:
            rows[user].append(item)
    train, test = _split_rows(dict(rows), 0.2, seed)
    for method in cf.METHODS:
        t0 = time.perf_counter()
        cf.CFRecommender(method, seed=seed).fit_rows(train)
        timed(f"cf_ml100k_{method}", time.perf_counter() - t0)
    m = cf.evaluate_rows(train, test, k=10, seed=seed)
    for method in cf.METHODS:
        for metric in ("recall@10", "ndcg@10"):
            line(f"cf_ml100k_{method}_{metric}", m[method][metric], m["popularity"][metric],
                 f"peer [popularity]; {m['n_users']} users, 20% of ratings held out, all ratings as implicit")


def run(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=",".join(SUITES), help="comma-separated: " + ",".join(SUITES))
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SUITES)
    if unknown:
        parser.error(f"unknown suites: {', '.join(sorted(unknown))}")
    from aria_actors.interpret.analytics._threads import single_thread

    suites = {"patterns": bench_patterns, "interactions": bench_interactions, "development": bench_development,
              "content": bench_content, "cf": bench_cf, "ml100k": bench_ml100k}
    with single_thread():
        for name in chosen:
            suites[name](args.seed)


if __name__ == "__main__":
    run()
