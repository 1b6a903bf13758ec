"""The personality model: the shipped items, the trained head (held-out accuracy, determinism,
cache), and how consistent the profiles of the package's generated descriptions are with their
traits' profiles. Figures measured when written: 5-fold held-out accuracy O 0.88, C 0.89, E 0.81,
A 0.76, N 0.81 (0.83 overall; shuffled keys 0.48); consistency of generated descriptions with
their own traits 0.49 on average, with another character's traits 0.10; 24 of 29 hand-judged
trait-word directions."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from aria_actors.shape.characters import personality as pm
from aria_actors.shape.characters.corpus import TRAITS, describe
from aria_actors.shape.characters.personality import (
    DIMENSIONS,
    LETTERS,
    HeadSettings,
    PersonalityModel,
    TraitHead,
    consistency,
    cross_validate,
    distance,
    load_items,
    sentences,
    statement,
)
from aria_actors.shape.characters.sampler import CharacterSampler
from aria_actors.shape.characters.templates import Template

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def items() -> list[pm.Item]:
    return load_items()


@pytest.fixture(scope="module")
def embedded(items):
    """The items' embeddings, traits and keys (embedding them is the slow part: once)."""
    x = pm.default_embedder().encode([statement(i.text) for i in items])
    return x, np.array([i.trait for i in items]), np.array([i.key for i in items])


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> PersonalityModel:
    return pm.shared_model(tmp_path_factory.mktemp("personality"))


# -- the labelled text ---------------------------------------------------------------------------
def test_the_items_are_many_labelled_and_both_keyed_for_every_dimension(items) -> None:
    assert len(items) >= 200
    assert len({i.text for i in items}) == len(items)
    counts = Counter((i.trait, i.key) for i in items)
    assert all(counts[(t, k)] >= 25 for t in range(len(DIMENSIONS)) for k in (1, -1)), counts
    assert {i.source for i in items} == {"ipip50", "ipip", "adjective"}
    assert sum(i.source == "ipip50" for i in items) == 50


def test_items_read_as_first_person_sentences() -> None:
    assert statement("Am the life of the party.") == "I am the life of the party."
    assert statement("Don't talk a lot.") == "I don't talk a lot."
    assert sentences("One. Two!  Three?\nFour") == ["One.", "Two!", "Three?", "Four"]
    assert sentences(" \n ") == []


# -- the trained head ----------------------------------------------------------------------------
def test_held_out_accuracy_is_well_above_chance(embedded) -> None:
    cv = cross_validate(*embedded)
    # measured: O 0.88, C 0.89, E 0.81, A 0.76, N 0.81; floors leave a margin for other BLAS builds
    floors = {"O": 0.8, "C": 0.8, "E": 0.74, "A": 0.7, "N": 0.74}
    assert all(cv["accuracy"][k] > floors[k] for k in LETTERS), cv
    assert cv["overall"] > 0.78, cv
    assert cv["items"] == dict(Counter(LETTERS[t] for t in embedded[1]))


def test_shuffled_keys_score_near_chance(embedded) -> None:
    """The control: the same head on keys that say nothing about the text learns nothing."""
    x, traits, keys = embedded
    shuffled = np.random.default_rng(1).permutation(keys)
    assert 0.35 < cross_validate(x, traits, shuffled)["overall"] < 0.65


def test_training_is_deterministic(embedded) -> None:
    a = TraitHead.fit(*embedded)
    b = TraitHead.fit(*embedded)
    assert np.array_equal(a.weights, b.weights)
    assert cross_validate(*embedded) == cross_validate(*embedded)
    other = cross_validate(*embedded, settings=HeadSettings(seed=1))  # other folds: close, not equal
    assert abs(other["overall"] - cross_validate(*embedded)["overall"]) < 0.05


def test_scores_are_probabilities_and_move_the_items_own_dimension(embedded) -> None:
    x, traits, keys = embedded
    scores = TraitHead.fit(x, traits, keys).scores(x)
    assert scores.shape == (len(x), 5) and ((scores > 0) & (scores < 1)).all()
    own = scores[np.arange(len(x)), traits]
    others = scores[np.arange(len(x))[:, None], [[t for t in range(5) if t != i] for i in traits]]
    # An item's own dimension is pushed further from neutral than the others, on average.
    assert np.abs(own - 0.5).mean() > np.abs(others - 0.5).mean() + 0.1


@pytest.mark.long  # trains the head three times (~18 s): in .ci/run
def test_the_head_is_cached_by_items_model_and_settings(tmp_path: Path, embedded) -> None:
    calls = []
    original = PersonalityModel.train.__func__

    def counting(cls, *args, **kwargs):
        calls.append(1)
        return original(cls, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PersonalityModel, "train", classmethod(counting))
        first = PersonalityModel.load(tmp_path)
        again = PersonalityModel.load(tmp_path)
        assert len(calls) == 1 and not first.info["cached"] and again.info["cached"]
        assert np.array_equal(first.head.weights, again.head.weights)
        assert again.info["cv_accuracy"] == first.info["cv_accuracy"]
        PersonalityModel.load(tmp_path, settings=HeadSettings(l2=0.2))  # other settings: another head
        assert len(calls) == 2 and len(list(tmp_path.glob("personality-head-*.json"))) == 2
        path = next(p for p in tmp_path.glob("*.json") if json.loads(p.read_text())["key"][:12] == first.info["key"])
        path.write_text("{not json")
        assert not PersonalityModel.load(tmp_path).info["cached"] and len(calls) == 3  # retrained, rewritten
        assert PersonalityModel.load(tmp_path).info["cached"]
    # The trained head is the one fitted on all items.
    assert np.allclose(first.head.weights, TraitHead.fit(*embedded).weights, atol=1e-6)


# -- profiles ------------------------------------------------------------------------------------
def test_consistency_and_distance() -> None:
    high = dict(zip(DIMENSIONS, (0.9, 0.8, 0.7, 0.6, 0.2), strict=True))
    low = {d: 1 - v for d, v in high.items()}
    neutral = dict.fromkeys(DIMENSIONS, 0.5)
    assert consistency(high, high) == pytest.approx(1.0)
    assert consistency(high, low) == pytest.approx(-1.0)
    assert consistency(high, neutral) == 0.0
    assert distance(high, high) == 0.0 and 0 < distance(high, low) <= 5 ** 0.5


def test_clear_sentences_score_their_dimension(model) -> None:
    def score(text: str, dim: str) -> float:
        return model.profile(description=text)["scores"][dim]

    assert score("I love going to parties and talking to everyone there.", "extraversion") > \
        score("I prefer to stay home alone and rarely speak to anyone.", "extraversion") + 0.3
    assert score("I always plan ahead and keep my desk perfectly organised.", "conscientiousness") > \
        score("I leave my things everywhere and forget my chores.", "conscientiousness") + 0.3
    assert score("I worry all the time and panic easily.", "neuroticism") > \
        score("I stay calm and relaxed under pressure.", "neuroticism") + 0.3


# Trait words of the package with a direction a reader would agree on (the former hand-made
# lexicon's strongest loadings); the model was not fitted to most of them.
JUDGED = [
    ("kind", "agreeableness", 1), ("cruel", "agreeableness", -1), ("curious", "openness", 1),
    ("calm", "neuroticism", -1), ("gentle", "agreeableness", 1), ("arrogant", "agreeableness", -1),
    ("generous", "agreeableness", 1), ("jealous", "neuroticism", 1), ("cowardly", "neuroticism", 1),
    ("lazy", "conscientiousness", -1), ("shy", "extraversion", -1), ("pacifist", "agreeableness", 1),
    ("bloodthirsty", "agreeableness", -1), ("reckless", "conscientiousness", -1), ("wise", "openness", 1),
    ("loyal", "conscientiousness", 1), ("loyal", "agreeableness", 1), ("honest", "agreeableness", 1),
    ("cheerful", "extraversion", 1), ("grumpy", "agreeableness", -1), ("grumpy", "neuroticism", 1),
    ("brave", "neuroticism", -1), ("greedy", "agreeableness", -1), ("humble", "agreeableness", 1),
    ("hopeful", "neuroticism", -1), ("bitter", "neuroticism", 1), ("clever", "openness", 1),
    ("playful", "extraversion", 1), ("serious", "conscientiousness", 1),
]


def test_trait_words_mostly_score_the_judged_direction(model) -> None:
    contributions = model.profile(sorted({t for t, _, _ in JUDGED}))["traits"]["contributions"]
    agree = [np.sign(contributions[t][d] - 0.5) == sign for t, d, sign in JUDGED]
    assert np.mean(agree) >= 0.75, [j for j, ok in zip(JUDGED, agree, strict=True) if not ok]  # measured 24/29


def test_a_characters_profile_has_traits_description_and_consistency(model) -> None:
    out = model.profile(["kind", "cheerful", "kind"], "A kind and cheerful bard who sings in the city.")
    assert set(out["traits"]["contributions"]) == {"kind", "cheerful"}
    assert out["description"]["sentences"] == 1
    for d in DIMENSIONS:
        assert out["scores"][d] == pytest.approx((out["traits"]["scores"][d] + out["description"]["scores"][d]) / 2,
                                                 abs=1e-3)
    assert out["consistency"] > 0.5
    assert set(out["model"]["cv_accuracy"]) == set(LETTERS)
    only_traits = model.profile(["kind"])
    assert only_traits["description"] is None and only_traits["consistency"] is None
    assert model.profile()["scores"] == dict.fromkeys(DIMENSIONS, 0.5)
    torn = model.profile(["kind", "cruel"])["tension"]
    assert torn > model.profile(["kind", "generous"])["tension"]


def _package_characters(n: int) -> list[tuple[list[str], str]]:
    """Characters of the templates the package ships (the service's built-in ones, and the trait
    vocabulary of the corpus the model learns from), with the descriptions it generates for them."""
    from aria_actors.shape.service import BUILTIN_TEMPLATES  # the service's module: loads no model

    rng = random.Random(0)
    samplers = [CharacterSampler(Template.parse(t)) for t in BUILTIN_TEMPLATES]
    samplers.append(CharacterSampler(Template.parse({"name": "corpus", "traits": list(TRAITS),
                                                     "min_traits": 1, "max_traits": 3})))
    out = []
    for i in range(n):
        character = samplers[i % len(samplers)].sample(rng)
        out.append((list(character.traits), describe(character.traits, rng).strip()))
    return out


def test_generated_descriptions_are_consistent_with_their_traits(model) -> None:
    """Measured: each description's profile agrees with its own traits' profile far better than
    with another character's (measured: matched 0.49, shuffled 0.10)."""
    characters = _package_characters(120)
    traits = [model.profile(t)["traits"]["scores"] for t, _ in characters]
    texts = [model.profile(description=d)["description"]["scores"] for _, d in characters]
    matched = np.mean([consistency(a, b) for a, b in zip(traits, texts, strict=True)])
    shuffled = np.mean([consistency(a, b) for a, b in zip(traits, texts[1:] + texts[:1], strict=True)])
    assert matched > shuffled + 0.2, (matched, shuffled)
    assert matched > 0.25, matched
