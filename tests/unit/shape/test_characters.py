"""Templates, constraint-aware sampling, validation and portraits."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET

import pytest

from aria_actors.shape.characters.portrait import portrait_svg
from aria_actors.shape.characters.sampler import CharacterSampler
from aria_actors.shape.characters.templates import Template, check_character, validate_character
from aria_actors.shape.errors import ImpossibleTemplate, InvalidCharacter, InvalidTemplate

FANTASY = {
    "name": "fantasy",
    "traits": ["pacifist", "bloodthirsty", "brave", "cowardly", "wise", "kind", "cruel", "curious"],
    "min_traits": 2,
    "max_traits": 4,
    "attributes": [
        {"kind": "range", "name": "age", "low": 16, "high": 300, "integer": True},
        {"kind": "range", "name": "height", "low": 1.2, "high": 2.2},
        {"kind": "choice", "name": "alignment", "values": ["good", "neutral", "evil"]},
        {"kind": "choice", "name": "class", "values": ["knight", "monk", "rogue", "mage"]},
    ],
    "constraints": [
        {"name": "no-bloodthirsty-pacifist", "kind": "excludes",
         "if": {"trait": "pacifist"}, "then": {"trait": "bloodthirsty"}},
        {"name": "brave-not-cowardly", "kind": "excludes",
         "if": {"trait": "brave"}, "then": {"trait": "cowardly"}},
        {"name": "elders-are-wise", "kind": "requires",
         "if": {"attribute": "age", "min": 120}, "then": {"trait": "wise"}},
        {"name": "monks-are-pacifists", "kind": "requires",
         "if": {"attribute": "class", "in": ["monk"]}, "then": {"trait": "pacifist"}},
        {"name": "cruel-is-evil", "kind": "requires",
         "if": {"trait": "cruel"}, "then": {"attribute": "alignment", "in": ["evil"]}},
        {"name": "good-not-cruel", "kind": "excludes",
         "if": {"attribute": "alignment", "in": ["good"]}, "then": {"trait": "cruel"}},
        {"name": "tall-knights", "kind": "requires",
         "if": {"attribute": "class", "in": ["knight"]}, "then": {"attribute": "height", "min": 1.7}},
    ],
}


def test_thousand_generated_characters_have_zero_violations() -> None:
    template = Template.parse(FANTASY)
    sampler = CharacterSampler(template)
    rng = random.Random(7)
    chars = [sampler.sample(rng) for _ in range(1000)]
    violations = [e for c in chars for e in check_character(template, c)]
    assert violations == []
    # The sampler explores: both sides of each constraint's condition occur.
    assert any(c.attributes["age"] >= 120 for c in chars)
    assert any(c.attributes["class"] == "monk" for c in chars)
    assert any("cruel" in c.traits for c in chars)
    assert {len(c.traits) for c in chars} == {2, 3, 4}
    assert all(isinstance(c.attributes["age"], int) for c in chars)


def test_generation_is_reproducible_with_a_seed() -> None:
    sampler = CharacterSampler(Template.parse(FANTASY))
    a = [sampler.sample(random.Random(3)) for _ in range(3)]
    b = [sampler.sample(random.Random(3)) for _ in range(3)]
    assert a == b


def test_forced_boundary_value_is_found() -> None:
    # The only way to satisfy both constraints is age exactly 40 (a point segment).
    data = {
        "name": "exact", "traits": ["a", "b"], "min_traits": 1, "max_traits": 1,
        "attributes": [{"kind": "range", "name": "age", "low": 0, "high": 100}],
        "constraints": [
            {"name": "a-old", "kind": "requires", "if": {"trait": "a"},
             "then": {"attribute": "age", "min": 40}},
            {"name": "a-young", "kind": "requires", "if": {"trait": "a"},
             "then": {"attribute": "age", "max": 40}},
            {"name": "no-b", "kind": "excludes", "if": {"trait": "b"}, "then": {"trait": "b"}},
        ],
    }
    sampler = CharacterSampler(Template.parse(data))
    for seed in range(20):
        c = sampler.sample(random.Random(seed))
        assert c.traits == ("a",) and c.attributes["age"] == 40


def test_impossible_template_raises_typed_error_naming_the_conflict() -> None:
    data = dict(FANTASY)
    data["constraints"] = [
        *FANTASY["constraints"],
        {"name": "everyone-is-a-monk", "kind": "requires",
         "if": {"attribute": "alignment", "in": ["good", "neutral", "evil"]},
         "then": {"attribute": "class", "in": ["monk"]}},
        {"name": "monks-are-bloodthirsty", "kind": "requires",
         "if": {"attribute": "class", "in": ["monk"]}, "then": {"trait": "bloodthirsty"}},
    ]
    with pytest.raises(ImpossibleTemplate) as info:
        CharacterSampler(Template.parse(data))
    err = info.value
    assert err.fields["template"] == "fantasy"
    assert sorted(err.fields["constraints"]) == [
        "everyone-is-a-monk", "monks-are-bloodthirsty", "monks-are-pacifists", "no-bloodthirsty-pacifist"]
    assert err.status == 422 and err.problem()["type"].endswith("shape-impossible-template")


def test_impossible_trait_count_is_reported() -> None:
    data = {"name": "few", "traits": ["a", "b"], "min_traits": 3, "max_traits": 4}
    with pytest.raises(ImpossibleTemplate) as info:
        CharacterSampler(Template.parse(data))
    assert info.value.fields["field"] == "min_traits"


def test_trait_count_conflicting_with_constraints_is_impossible() -> None:
    data = {"name": "pair", "traits": ["a", "b"], "min_traits": 2, "max_traits": 2,
            "constraints": [{"name": "a-not-b", "kind": "excludes", "if": {"trait": "a"},
                             "then": {"trait": "b"}}]}
    with pytest.raises(ImpossibleTemplate) as info:
        CharacterSampler(Template.parse(data))
    assert info.value.fields["constraints"] == ["a-not-b"]


def test_template_with_unknown_trait_in_constraint_is_refused() -> None:
    data = dict(FANTASY)
    data["constraints"] = [{"name": "x", "kind": "excludes", "if": {"trait": "pacifist"},
                            "then": {"trait": "bloodthristy"}}]
    with pytest.raises(InvalidTemplate) as info:
        Template.parse(data)
    assert "bloodthristy" in str(info.value)
    assert info.value.fields["errors"][0]["field"] == "template"  # model-level check


def test_template_with_bad_range_names_the_field() -> None:
    data = dict(FANTASY)
    data["attributes"] = [{"kind": "range", "name": "age", "low": 10, "high": 5}]
    data["constraints"] = []
    with pytest.raises(InvalidTemplate) as info:
        Template.parse(data)
    assert info.value.fields["errors"][0]["field"].startswith("attributes.0")


def test_user_character_validation_names_each_bad_field() -> None:
    template = Template.parse(FANTASY)
    bad = {
        "template": "fantasy", "name": "Grim",
        "traits": ["pacifist", "bloodthirsty", "sneaky"],
        "attributes": {"age": 500, "height": 1.8, "alignment": "chaotic", "mood": "x"},
    }
    errors = check_character(template, bad)
    fields = {e["field"] for e in errors}
    assert fields == {"traits[2]", "attributes.age", "attributes.alignment", "attributes.class",
                      "attributes.mood", "constraints.no-bloodthirsty-pacifist",
                      "constraints.elders-are-wise"}
    with pytest.raises(InvalidCharacter) as info:
        validate_character(template, bad)
    assert info.value.fields["errors"] == errors


def test_valid_user_character_passes() -> None:
    template = Template.parse(FANTASY)
    good = {"template": "fantasy", "name": "Ada", "traits": ["wise", "kind"],
            "attributes": {"age": 150, "height": 1.6, "alignment": "good", "class": "mage"}}
    assert validate_character(template, good).name == "Ada"


def test_portrait_is_deterministic_wellformed_svg() -> None:
    sampler = CharacterSampler(Template.parse(FANTASY))
    c = sampler.sample(random.Random(1), name="Tom & <Jerry>")
    svg = portrait_svg(c)
    assert svg == portrait_svg(c)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    texts = [el.text for el in root.iter() if el.tag.endswith("text")]
    assert texts == [t[:10] for t in c.traits]
    other = c.model_copy(update={"traits": ("cruel", "bloodthirsty")})
    assert portrait_svg(other) != svg
