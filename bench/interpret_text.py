"""aria_interpret's character-text core against sentence-transformers, and its quality figures.

1. Embedding throughput: ``TextAnalyzer.embed`` (validation, length-ordered batches through the
   shared all-MiniLM-L6-v2 embedder, lists back) against ``SentenceTransformer(<the wheel's model
   dir>).encode`` called directly (numpy back) on the same 1,000 character descriptions of mixed
   length, the same batch size, one torch thread both sides, interleaved rounds (the side going
   first alternates), medians. ``run(argv, embed_fn=...)`` measures another aria path (e.g. the
   service through its client) on the same line. Goal: ratio >= 0.9.
2. Trait extraction: precision and recall of the traits ``TextAnalyzer.analyze`` maps onto the
   aria_shape trait vocabulary, on generated descriptions whose stated traits are known (some
   stated by synonym, plus distractors: adjectives of other things, negated traits).
3. Consistency: AUC of the overall score separating descriptions that state a character's traits
   from ones that state their antonyms or negate them (half of the latter by words outside the
   vocabulary's lexicon cues).
4. Sentiment: accuracy of VADER's label on tests/fixtures/interpret/sentiment.csv.

Prints ``name: aria X, peer Y, ratio Z`` lines (no peer for the quality lines). Asserts nothing
about time. Run: ``.venv/bin/python bench/interpret_text.py [--rounds 5] [--batch 64] [--quality 300]
[--only embed,quality]``
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/queue.py would shadow the standard
# library's queue (which torch imports).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse
import csv
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

ROOT = _HERE.parent
SENTIMENT_FILE = ROOT / "tests" / "fixtures" / "interpret" / "sentiment.csv"
NAMES = ("Mara", "Tomas", "Elena", "Ravi", "Ingrid", "Kofi", "Lucia", "Oren", "Sade", "Yuki")
CREATURES = ("dragon", "wolf", "bandit", "giant", "serpent", "troll")
# Bench data only: words stating a vocabulary trait (synonyms) and contradicting it (antonyms).
SYNONYMS = {"brave": "courageous", "kind": "compassionate", "calm": "serene", "honest": "truthful",
            "loyal": "faithful", "cheerful": "joyful", "curious": "inquisitive", "clever": "smart",
            "humble": "modest", "generous": "charitable", "gentle": "tender", "patient": "tolerant"}
ANTONYMS = {"brave": ("cowardly", "timid"), "kind": ("cruel", "heartless"), "generous": ("greedy", "selfish"),
            "humble": ("arrogant", "vain"), "patient": ("impatient", "restless"), "hopeful": ("hopeless", "gloomy"),
            "calm": ("anxious", "nervous"), "cheerful": ("gloomy", "miserable"), "honest": ("dishonest", "deceitful"),
            "loyal": ("disloyal", "treacherous"), "wise": ("foolish", "unwise"), "clever": ("stupid", "dull"),
            "gentle": ("violent", "brutal"), "shy": ("outgoing", "bold"), "curious": ("indifferent", "incurious"),
            "pacifist": ("bloodthirsty", "warlike"), "lazy": ("hardworking", "diligent")}
FILLER = ("The {place} is quiet at dawn.", "{P} keeps an old map of the {place}.",
          "Travellers often stop at the {place} to rest.", "{P} has walked these roads for many years.",
          "Rain falls on the {place} most of the winter.", "{P} carries a lantern and a small knife.",
          "Nobody in the {place} remembers where {p} came from.", "{P} writes letters to a sister far away.")


def line(name: str, aria: float, peer: float, unit: str, note: str) -> None:
    ratio = aria / peer if peer else float("nan")
    print(f"{name}: aria {aria:.4g} {unit}, peer {peer:.4g} {unit}, ratio {ratio:.3f} (goal >= 0.9; {note})")


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def character(rng: random.Random, *, synonyms: bool = True, distractors: bool = True,
              max_filler: int = 12) -> tuple[str, set[str]]:
    """A description of a generated character and the vocabulary traits it states of them."""
    from aria_actors.shape.characters.corpus import PLACES, ROLES, TRAITS, VERBS

    traits = rng.sample(list(TRAITS), rng.randint(1, 3))
    said = [SYNONYMS[t] if synonyms and t in SYNONYMS and rng.random() < 0.3 else t for t in traits]
    name, role, place = rng.choice(NAMES), rng.choice(ROLES), rng.choice(PLACES)
    p = rng.choice(("he", "she"))
    be = "are" if p == "they" else "is"
    first = rng.randrange(3)
    if first == 0:
        out = [f"A {_join(said)} {role} who {rng.choice(VERBS)} in the {place}."]
    elif first == 1:
        out = [f"{name} is a {said[0]} {role} from the {place}."]
        if len(said) > 1:
            out.append(f"{p.capitalize()} {be} {_join(said[1:])}.")
    else:
        out = [f"{name} lives in the {place}. {p.capitalize()} {'seem' if p == 'they' else 'seems'} "
               f"{_join(said)}."]
    others = [t for t in TRAITS if t not in traits]
    if distractors and rng.random() < 0.5:
        out.append(f"{p.capitalize()} once fought a {rng.choice(others)} {rng.choice(CREATURES)} near the {place}.")
    if distractors and rng.random() < 0.4:
        out.append(f"{p.capitalize()} {be} never {rng.choice(others)}.")
    for _ in range(rng.randint(0, max_filler)):
        out.append(rng.choice(FILLER).format(place=rng.choice(PLACES), P=p.capitalize(), p=p))
    rest = out[1:]
    rng.shuffle(rest)  # the opening sentence stays first: it introduces the character
    return " ".join(out[:1] + rest), set(traits)


def descriptions(n: int = 1000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [character(rng, max_filler=rng.choice((0, 2, 6, 20)))[0] for _ in range(n)]


def bench_embed(args: argparse.Namespace, embed_fn: Callable[[list[str]], Any] | None) -> None:
    from sentence_transformers import SentenceTransformer

    from aria_actors.interpret.text.analyzer import TextAnalyzer
    from aria_actors.shape.characters.embedding import SentenceEmbedder, model_dir

    texts = descriptions(args.n)
    analyzer = TextAnalyzer(SentenceEmbedder(batch_size=args.batch).load(), personality=False)
    aria = embed_fn or analyzer.embed
    peer = SentenceTransformer(str(model_dir()), device="cpu")

    def peer_fn(batch: list[str]) -> Any:
        return peer.encode(batch, batch_size=args.batch, convert_to_numpy=True)

    aria(texts[:64]), peer_fn(texts[:64])  # warm-up
    times: dict[str, list[float]] = {"aria": [], "peer": []}
    for r in range(args.rounds):
        sides = [("aria", aria), ("peer", peer_fn)]
        for side, fn in sides if r % 2 == 0 else sides[::-1]:
            t0 = time.perf_counter()
            fn(texts)
            times[side].append(time.perf_counter() - t0)
    a, p = (len(texts) / statistics.median(times[s]) for s in ("aria", "peer"))
    chars = sorted(len(t) for t in texts)
    print(f"embed_throughput: aria {a:.1f}/s, peer {p:.1f}/s, ratio {a / p:.3f} (goal >= 0.9; "
          f"{'aria: embed_fn' if embed_fn else 'aria: TextAnalyzer.embed, lists back'}, peer: "
          f"SentenceTransformer.encode, numpy back; {len(texts)} descriptions of {chars[0]}-{chars[-1]} chars "
          f"(median {chars[len(chars) // 2]}), batch {args.batch}, torch threads {_threads()}, "
          f"{args.rounds} interleaved rounds, medians)")


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([1] * len(positive) + [0] * len(negative), [*positive, *negative]))


def contradiction(rng: random.Random, traits: list[str]) -> str:
    """A description contradicting every trait: its antonym, or the trait negated."""
    from aria_actors.shape.characters.corpus import PLACES, ROLES

    p = rng.choice(("He", "She"))
    said = []
    for t in traits:
        if t in ANTONYMS and rng.random() < 0.7:
            said.append(rng.choice(ANTONYMS[t]))
        else:
            said.append(f"not {t}")
    if all(s.startswith("not ") for s in said) or rng.random() < 0.5:
        parts = [f"{p} is {s}." for s in said]
        return f"A {rng.choice(ROLES)} from the {rng.choice(PLACES)}. " + " ".join(parts)
    plain = [s for s in said if not s.startswith("not ")]
    rest = [s for s in said if s.startswith("not ")]
    return (f"A {_join(plain)} {rng.choice(ROLES)} from the {rng.choice(PLACES)}."
            + "".join(f" {p} is {s}." for s in rest))


def bench_quality(args: argparse.Namespace) -> None:
    from aria_actors.interpret.text.analyzer import TextAnalyzer
    from aria_actors.interpret.text.sentiment import label, scores
    from aria_actors.shape.characters.corpus import TRAITS

    analyzer = TextAnalyzer()
    rng = random.Random(1)
    tp = fp = fn = 0
    t0 = time.perf_counter()
    for _ in range(args.quality):
        text, known = character(rng, max_filler=3)
        got = {m["trait"] for m in analyzer.analyze(text, vocabulary=list(TRAITS))["mapped_traits"]
               if not m["negated"]}
        tp, fp, fn = tp + len(got & known), fp + len(got - known), fn + len(known - got)
    took = time.perf_counter() - t0
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    print(f"trait_extraction: precision {precision:.3f}, recall {recall:.3f} ({args.quality} generated descriptions "
          f"with 1-3 known traits of {len(TRAITS)}, 30% stated by synonym, distractors: other things' and negated "
          f"adjectives; {args.quality / took:.1f} analyses/s)")

    rng = random.Random(2)
    vocab = [t for t in TRAITS if t in ANTONYMS]
    good, bad = [], []
    for _ in range(args.quality // 2):
        traits = rng.sample(vocab, rng.randint(1, 3))
        good.append(analyzer.analyze(_consistent(rng, traits), traits)["consistency"]["score"])
        bad.append(analyzer.analyze(contradiction(rng, traits), traits)["consistency"]["score"])
    print(f"consistency_auc: {auc(good, bad):.3f} (consistent vs contradicted descriptions, {len(good)} pairs; "
          f"mean score {statistics.mean(good):+.3f} vs {statistics.mean(bad):+.3f})")

    with SENTIMENT_FILE.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    right = sum(label(scores(r["text"])["compound"]) == r["label"] for r in rows)
    print(f"sentiment_accuracy: {right / len(rows):.3f} ({right}/{len(rows)} labelled sentences, "
          f"positive/negative/neutral, {SENTIMENT_FILE.relative_to(ROOT)})")


def _consistent(rng: random.Random, traits: list[str]) -> str:
    from aria_actors.shape.characters.corpus import PLACES, ROLES

    said = [SYNONYMS[t] if t in SYNONYMS and rng.random() < 0.3 else t for t in traits]
    if rng.random() < 0.5:
        return f"A {_join(said)} {rng.choice(ROLES)} from the {rng.choice(PLACES)}."
    return f"A {rng.choice(ROLES)} from the {rng.choice(PLACES)}. " + " ".join(
        f"{rng.choice(('He', 'She'))} is {s}." for s in said)


def run(argv: Sequence[str] | None = None, embed_fn: Callable[[list[str]], Any] | None = None) -> None:
    """The bench; ``embed_fn`` (texts -> vectors) replaces ``TextAnalyzer.embed`` on the aria side."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="Descriptions embedded per round.")
    ap.add_argument("--batch", type=int, default=64, help="Batch size of both sides.")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quality", type=int, default=300, help="Generated descriptions for the quality lines.")
    ap.add_argument("--only", default="", help="Comma-separated parts: embed,quality.")
    args = ap.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)
    if not only or "embed" in only:
        bench_embed(args, embed_fn)
    if not only or "quality" in only:
        bench_quality(args)


if __name__ == "__main__":
    run()
