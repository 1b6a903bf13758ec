"""Big Five profiles from traits."""

from __future__ import annotations

import math

import pytest

from aria_actors.shape.characters.corpus import TRAITS
from aria_actors.shape.characters.personality import DIMENSIONS, LEXICON, distance, profile


def test_every_shipped_trait_has_a_profile() -> None:
    assert set(TRAITS) <= set(LEXICON)


def test_profile_by_hand() -> None:
    p = profile(["kind", "shy"])
    # agreeableness 0.5 + (0.4 + 0.0) / 2, extraversion 0.5 + (0.1 - 0.5) / 2
    assert p["scores"]["agreeableness"] == pytest.approx(0.7)
    assert p["scores"]["extraversion"] == pytest.approx(0.3)
    assert p["contributions"]["shy"]["extraversion"] == -0.5
    assert p["unknown"] == []


def test_tension_flags_opposing_traits() -> None:
    coherent = profile(["loyal", "honest"])
    torn = profile(["kind", "cruel"])
    assert coherent["tension"] == 0.0
    assert torn["tension"] == pytest.approx(0.4)


def test_unknown_traits_are_listed_and_neutral() -> None:
    p = profile(["sparkly"])
    assert p["unknown"] == ["sparkly"] and set(p["scores"].values()) == {0.5}


def test_distance() -> None:
    a = profile(["kind"])["scores"]
    assert distance(a, a) == 0.0
    far = distance(profile(["cheerful", "kind"])["scores"], profile(["grumpy", "cruel"])["scores"])
    assert 0.5 < far <= math.sqrt(len(DIMENSIONS))
