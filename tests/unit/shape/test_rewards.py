"""Reward functions and hindsight relabelling."""

from __future__ import annotations

import pytest

from aria_actors.shape.characters.corpus import corpus, parse_prompt, prompt_for
from aria_actors.shape.characters.templates import Template
from aria_actors.shape.training import rewards

P = "Traits: brave, kind.\nDescription:"


def test_prompt_round_trip() -> None:
    assert prompt_for(["brave", "kind"]) == P
    assert parse_prompt(P) == ("brave", "kind")
    assert parse_prompt("Describe someone brave") == ()


def test_trait_coverage_counts_whole_words() -> None:
    got = rewards.trait_coverage([P, P, P], [" A brave knight.", " A brave and kind monk.", " An unkind rogue."])
    assert got == [0.5, 1.0, 0.0]


def test_format_validity() -> None:
    got = rewards.format_validity([P] * 4, [" A brave knight.", " A brave knight. xx ##", "brave brave", ""])
    assert got == [1.0, 0.5, 0.0, 0.0]


def test_constraint_satisfaction_reads_trait_constraints() -> None:
    template = Template.parse({
        "name": "t", "traits": ["pacifist", "bloodthirsty", "kind"],
        "constraints": [{"name": "p", "kind": "excludes", "if": {"trait": "pacifist"},
                         "then": {"trait": "bloodthirsty"}}],
    })
    fn = rewards.constraint_satisfaction(template)
    assert fn([P, P], [" A pacifist and bloodthirsty bard.", " A pacifist and kind bard."]) == [0.0, 1.0]


def test_diversity_is_per_group() -> None:
    fn = rewards.diversity(group_size=2)
    got = fn([P] * 4, ["a b", "a b", "a b", "c d"])
    assert got == [0.0, 0.0, 1.0, 1.0]


def test_combine_is_weighted_mean() -> None:
    fn = rewards.combine([rewards.trait_coverage, rewards.format_validity], [3, 1])
    assert fn([P], [" A brave knight."]) == [pytest.approx((3 * 0.5 + 1.0) / 4)]


def test_relabel_produces_expected_prompts() -> None:
    assert rewards.relabel(P, " A cruel and brave knight.") == "Traits: cruel, brave.\nDescription:"
    assert rewards.relabel(P, " A kind, brave knight.") is None  # already what was asked
    assert rewards.relabel(P, " A tall knight.") is None  # nothing achieved
    assert rewards.relabel(P, " A shy knight who is shy.") == "Traits: shy.\nDescription:"


def test_relabel_group_takes_the_most_accomplished_completion() -> None:
    group = [" A tall knight.", " A shy monk.", " A greedy, lazy rogue.", " A calm, wise bard."]
    assert rewards.relabel_group(P, group) == "Traits: greedy, lazy.\nDescription:"
    relabelled = rewards.relabel_group(P, group)
    # The relabelled goal gives the group non-zero rewards where the original gave none.
    assert rewards.trait_coverage([P] * 4, group) == [0.0] * 4
    assert rewards.trait_coverage([relabelled] * 4, group) == [0.0, 0.0, 1.0, 0.0]


def test_corpus_is_deterministic_and_mentions_its_traits() -> None:
    texts = corpus(50, seed=3)
    assert texts == corpus(50, seed=3)
    for text in texts:
        prompt, _, description = text.partition("\nDescription:")
        asked = parse_prompt(prompt + "\nDescription:")
        assert rewards.trait_coverage([prompt + "\nDescription:"], [description]) == [1.0], asked
