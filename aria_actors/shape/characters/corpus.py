"""The prompt format of trait descriptions and a generator of the text the tiny model learns from.

No data is downloaded: the tokenizer of the tiny model is trained on :func:`corpus`, which writes
prompt/description pairs from a vocabulary shipped here. The same format is what GRPO's rewards
and hindsight relabelling read and write::

    Traits: brave, kind.
    Description: A brave and kind knight who ...

Guarantees and caveats
----------------------
- :func:`corpus` is deterministic for a seed, so two builds of the tiny model's tokenizer agree.
- :func:`parse_prompt` inverts :func:`prompt_for` exactly for trait names without commas or dots.
- The corpus is small and formulaic on purpose (it exists so a tokenizer has real words to learn);
  it is not a language-model pretraining set.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence

TRAITS: tuple[str, ...] = (
    "brave", "kind", "wise", "cruel", "curious", "calm", "greedy", "loyal", "honest", "cheerful",
    "grumpy", "patient", "reckless", "gentle", "arrogant", "humble", "cowardly", "generous",
    "jealous", "hopeful", "bitter", "lazy", "clever", "shy", "proud", "pacifist", "bloodthirsty",
    "stubborn", "playful", "serious",
)
ROLES = ("knight", "monk", "rogue", "mage", "farmer", "merchant", "sailor", "healer", "bard", "hunter")
PLACES = ("village", "forest", "city", "mountain", "harbour", "desert", "castle", "island")
VERBS = ("travels", "lives", "works", "wanders", "hides", "teaches", "fights", "sings")

PROMPT_PREFIX = "Traits: "
PROMPT_SUFFIX = ".\nDescription:"
_PROMPT_RE = re.compile(r"^Traits: (?P<traits>.*)\.\nDescription:$", re.S)
_WORD_RE = re.compile(r"[a-z]+")


def prompt_for(traits: Iterable[str]) -> str:
    """The prompt asking for a description of a character with these traits."""
    return PROMPT_PREFIX + ", ".join(traits) + PROMPT_SUFFIX


def parse_prompt(prompt: str) -> tuple[str, ...]:
    """The traits a prompt asks for; empty when the prompt is not in the format."""
    m = _PROMPT_RE.match(prompt)
    if not m or not m.group("traits").strip():
        return ()
    return tuple(t.strip() for t in m.group("traits").split(","))


def mentioned(text: str, vocabulary: Sequence[str] = TRAITS) -> tuple[str, ...]:
    """The traits of ``vocabulary`` that ``text`` mentions as whole words, in vocabulary order."""
    words = set(_WORD_RE.findall(text.lower()))
    return tuple(t for t in vocabulary if t.lower() in words)


def describe(traits: Sequence[str], rng: random.Random) -> str:
    """A one-sentence description mentioning every trait (the kind of text the rewards prefer)."""
    joined = traits[0] if len(traits) == 1 else ", ".join(traits[:-1]) + " and " + traits[-1]
    return (f" A {joined} {rng.choice(ROLES)} who {rng.choice(VERBS)} in the "
            f"{rng.choice(PLACES)}.")


def corpus(n: int = 2000, seed: int = 0, vocabulary: Sequence[str] = TRAITS) -> list[str]:
    """``n`` prompt+description texts with 1 to 3 traits each."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        traits = rng.sample(list(vocabulary), rng.randint(1, 3))
        out.append(prompt_for(traits) + describe(traits, rng))
    return out


def prompts(n: int, seed: int, k: int = 2, vocabulary: Sequence[str] = TRAITS) -> list[str]:
    """``n`` prompts of ``k`` distinct random traits each."""
    rng = random.Random(seed)
    return [prompt_for(rng.sample(list(vocabulary), k)) for _ in range(n)]
