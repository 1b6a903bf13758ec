"""Reward functions for GRPO and hindsight relabelling of prompts. Plain Python, no torch.

A reward function takes the batch's prompts and completions (``G`` consecutive completions share a
prompt) and returns one float per completion, so that group-level rewards (diversity) fit the same
signature as per-completion ones.

Guarantees and caveats
----------------------
- Every reward lies in ``[0, 1]``.
- Trait mentions are whole-word and case-insensitive; "unkind" does not mention "kind". Synonyms
  do not count: the rewards judge words, not meaning.
- ``constraint_satisfaction`` only reads constraints between traits: a description carries no
  attribute values, so a constraint whose condition is on an attribute never fires.
- Relabelling keeps traits in the order the completion mentions them; it returns ``None`` when
  the completion achieved nothing to relabel with, or exactly what was asked already.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from aria_actors.shape.characters.corpus import TRAITS, parse_prompt, prompt_for
from aria_actors.shape.characters.templates import Template

RewardFn = Callable[[Sequence[str], Sequence[str]], list[float]]
_WORD_RE = re.compile(r"[a-z]+")
_SENTENCE_RE = re.compile(r"^ ?(A|An) [a-z ,]+\.$")


def achieved(text: str, vocabulary: Sequence[str] = TRAITS) -> tuple[str, ...]:
    """The traits of ``vocabulary`` that ``text`` mentions, in the order it first mentions them."""
    wanted = {t.lower(): t for t in vocabulary}
    out: list[str] = []
    for word in _WORD_RE.findall(text.lower()):
        trait = wanted.get(word)
        if trait is not None and trait not in out:
            out.append(trait)
    return tuple(out)


def trait_coverage(prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
    """Share of the prompt's requested traits that the completion mentions."""
    out = []
    for prompt, completion in zip(prompts, completions, strict=True):
        requested = parse_prompt(prompt)
        got = set(achieved(completion, requested))
        out.append(len(got) / len(requested) if requested else 0.0)
    return out


def format_validity(prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
    """1 for one plain sentence ("A ... ."), 0.5 for a sentence with stray text after it, else 0."""
    out = []
    for completion in completions:
        text = completion.split("\n", 1)[0]
        if _SENTENCE_RE.match(text.rstrip()):
            out.append(1.0)
        elif "." in text and _SENTENCE_RE.match(text[: text.index(".") + 1]):
            out.append(0.5)
        else:
            out.append(0.0)
    return out


def constraint_satisfaction(template: Template) -> RewardFn:
    """1 when the traits a completion mentions break none of ``template``'s trait constraints."""

    def reward(prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        out = []
        for completion in completions:
            traits = set(achieved(completion, template.traits))
            ok = all(c.satisfied(traits, {}) for c in template.constraints)
            out.append(1.0 if ok else 0.0)
        return out

    return reward


def diversity(group_size: int) -> RewardFn:
    """1 minus the largest word-set Jaccard similarity to another completion of the same group."""

    def reward(prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        words = [set(_WORD_RE.findall(c.lower())) for c in completions]
        out = []
        for i, mine in enumerate(words):
            start = i - i % group_size
            sims = []
            for j in range(start, min(start + group_size, len(words))):
                if j != i:
                    union = mine | words[j]
                    sims.append(len(mine & words[j]) / len(union) if union else 1.0)
            out.append(1.0 - max(sims) if sims else 1.0)
        return out

    return reward


def combine(fns: Sequence[RewardFn], weights: Sequence[float] | None = None) -> RewardFn:
    """The weighted mean of several reward functions."""
    ws = list(weights or [1.0] * len(fns))
    total = sum(ws)

    def reward(prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        parts = [fn(prompts, completions) for fn in fns]
        return [sum(w * p[i] for w, p in zip(ws, parts, strict=True)) / total
                for i in range(len(completions))]

    return reward


def relabel(prompt: str, completion: str, vocabulary: Sequence[str] = TRAITS) -> str | None:
    """Hindsight relabelling: the prompt the completion would have fulfilled.

    ``None`` when the completion mentions no trait, or exactly the requested ones.
    """
    got = achieved(completion, vocabulary)
    if not got or set(got) == set(parse_prompt(prompt)):
        return None
    return prompt_for(got)


def relabel_group(prompt: str, completions: Sequence[str],
                  vocabulary: Sequence[str] = TRAITS) -> str | None:
    """Relabel a group's shared prompt with the goal its most accomplished completion reached.

    GRPO needs one prompt per group; choosing the completion with the most achieved traits (first
    on ties) gives the group a goal some member met, so a group whose rewards were all zero (and
    whose advantages were therefore all zero) still yields a learning signal after relabelling.
    """
    best: tuple[str, ...] = ()
    for completion in completions:
        got = achieved(completion, vocabulary)
        if len(got) > len(best):
            best = got
    if not best or set(best) == set(parse_prompt(prompt)):
        return None
    return prompt_for(best)
