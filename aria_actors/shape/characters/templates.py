"""Character templates, characters, and the validation of one against the other.

A template names a trait vocabulary (a character picks between ``min_traits`` and ``max_traits`` of
them), attributes (numeric ranges or string vocabularies) and constraints between traits and
attribute values::

    {"name": "no-bloodthirsty-pacifist", "kind": "excludes",
     "if": {"trait": "pacifist"}, "then": {"trait": "bloodthirsty"}}
    {"name": "elders-are-wise", "kind": "requires",
     "if": {"attribute": "age", "min": 60}, "then": {"trait": "wise"}}

``requires`` means *if -> then*; ``excludes`` means *if -> not then*.

Guarantees and caveats
----------------------
- A template that refers to an unknown trait, attribute or attribute value in a constraint is
  refused when it is built (:class:`InvalidTemplate`), so a typo cannot silently void a constraint.
- :func:`check_character` reports every problem at once, each naming its field
  (``traits[2]``, ``attributes.age``, ``constraints.no-bloodthirsty-pacifist``).
- Templates say nothing about whether their constraints can be met together; the sampler
  (:mod:`aria_actors.shape.characters.sampler`) decides that.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aria_actors.shape.errors import InvalidCharacter, InvalidTemplate

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_ '\-]*$"
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]
# Bounds on what a request can make the service hold or search (the sampler's search grows with
# traits and constraints; it also stops at its node budget).
MAX_ITEMS = 256
MAX_ATTRIBUTES = 64
MAX_DESCRIPTION = 20_000
MAX_PERSONALITY_TEXT = 4_000  # characters of free text one request may have a personality read from
# Text that PostgreSQL stores and a reader sees: no NUL (text and jsonb refuse it, which would fail
# the request late, as a 500) nor other control characters; TEXT also takes tabs and line breaks.
LINE = r"^[^\x00-\x1f\x7f]*$"
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # what TEXT refuses
Word = Annotated[str, Field(max_length=64, pattern=LINE)]  # a trait or attribute as a character names it


class RangeAttribute(BaseModel):
    """A numeric attribute drawn from ``[low, high]``; whole numbers when ``integer``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["range"] = "range"
    name: Name
    low: float
    high: float
    integer: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> RangeAttribute:
        if self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        if self.integer and int(self.high) < self.low:
            raise ValueError(f"no whole number lies in [{self.low}, {self.high}]")
        return self


class ChoiceAttribute(BaseModel):
    """A string attribute taking one value of ``values``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["choice"] = "choice"
    name: Name
    values: tuple[Name, ...] = Field(min_length=1, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _unique(self) -> ChoiceAttribute:
        if len(set(self.values)) != len(self.values):
            raise ValueError("values must be unique")
        return self


Attribute = Annotated[RangeAttribute | ChoiceAttribute, Field(discriminator="kind")]


class Condition(BaseModel):
    """One side of a constraint: has a trait, an attribute in a set of values, or in a range."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    trait: Name | None = None
    attribute: Name | None = None
    in_: tuple[Name, ...] | None = Field(None, alias="in", max_length=MAX_ITEMS)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        if (self.trait is None) == (self.attribute is None):
            raise ValueError("a condition names exactly one of 'trait' or 'attribute'")
        if self.trait is not None and (self.in_ is not None or self.min is not None or self.max is not None):
            raise ValueError("a trait condition takes no 'in', 'min' or 'max'")
        if self.attribute is not None:
            ranged = self.min is not None or self.max is not None
            if (self.in_ is not None) == ranged:
                raise ValueError("an attribute condition takes either 'in' or 'min'/'max'")
            if self.min is not None and self.max is not None and self.min > self.max:
                raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    def holds(self, traits: set[str], attributes: dict[str, Any]) -> bool:
        if self.trait is not None:
            return self.trait in traits
        value = attributes.get(self.attribute or "")
        if self.in_ is not None:
            return value in self.in_
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        lo = -float("inf") if self.min is None else self.min
        hi = float("inf") if self.max is None else self.max
        return lo <= value <= hi

    def __str__(self) -> str:
        if self.trait is not None:
            return f"trait {self.trait!r}"
        if self.in_ is not None:
            return f"{self.attribute} in {list(self.in_)}"
        return f"{self.attribute} in [{self.min}, {self.max}]"


class Constraint(BaseModel):
    """``requires``: if -> then.  ``excludes``: if -> not then."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    name: Name
    kind: Literal["requires", "excludes"]
    if_: Condition = Field(alias="if")
    then: Condition

    def satisfied(self, traits: set[str], attributes: dict[str, Any]) -> bool:
        if not self.if_.holds(traits, attributes):
            return True
        return self.then.holds(traits, attributes) == (self.kind == "requires")

    def __str__(self) -> str:
        verb = "requires" if self.kind == "requires" else "excludes"
        return f"{self.name}: {self.if_} {verb} {self.then}"


class Template(BaseModel):
    """What characters of one kind may look like."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Name
    description: str = Field("", max_length=MAX_DESCRIPTION, pattern=TEXT)
    traits: tuple[Name, ...] = Field(min_length=1, max_length=MAX_ITEMS)
    min_traits: int = Field(1, ge=0, le=MAX_ITEMS)
    max_traits: int = Field(3, ge=0, le=MAX_ITEMS)
    attributes: tuple[Attribute, ...] = Field((), max_length=MAX_ATTRIBUTES)
    constraints: tuple[Constraint, ...] = Field((), max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _consistent(self) -> Template:
        if len(set(self.traits)) != len(self.traits):
            raise ValueError("traits must be unique")
        names = [a.name for a in self.attributes]
        if len(set(names)) != len(names):
            raise ValueError("attribute names must be unique")
        seen: set[str] = set()
        for c in self.constraints:
            if c.name in seen:
                raise ValueError(f"constraint name {c.name!r} is used twice")
            seen.add(c.name)
            for side, cond in (("if", c.if_), ("then", c.then)):
                self._check_condition(f"constraints.{c.name}.{side}", cond)
        return self

    def _check_condition(self, where: str, cond: Condition) -> None:
        if cond.trait is not None:
            if cond.trait not in self.traits:
                raise ValueError(f"{where}: unknown trait {cond.trait!r}")
            return
        attr = self.attribute(cond.attribute or "")
        if attr is None:
            raise ValueError(f"{where}: unknown attribute {cond.attribute!r}")
        if cond.in_ is not None:
            if not isinstance(attr, ChoiceAttribute):
                raise ValueError(f"{where}: {attr.name} is a range; use 'min'/'max'")
            unknown = [v for v in cond.in_ if v not in attr.values]
            if unknown:
                raise ValueError(f"{where}: {attr.name} has no value {unknown[0]!r}")
        elif not isinstance(attr, RangeAttribute):
            raise ValueError(f"{where}: {attr.name} is a choice; use 'in'")

    def attribute(self, name: str) -> RangeAttribute | ChoiceAttribute | None:
        return next((a for a in self.attributes if a.name == name), None)

    @classmethod
    def parse(cls, data: dict[str, Any] | Template) -> Template:
        """Build a template, turning pydantic's error into :class:`InvalidTemplate` with fields."""
        if isinstance(data, Template):
            return data
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            errors = _field_errors(exc)
            raise InvalidTemplate(_summary("invalid template", errors), errors=errors) from None


class Character(BaseModel):
    """A character of a template: its traits, attribute values and optional text description."""

    model_config = ConfigDict(extra="forbid")
    template: Name
    name: str = Field("", max_length=128, pattern=LINE)
    # Not Name: a trait or attribute the template lacks is reported by check_character, by field.
    traits: tuple[Word, ...] = Field((), max_length=MAX_ITEMS)
    attributes: dict[Word, float | int | Word] = Field(default_factory=dict, max_length=MAX_ATTRIBUTES)
    description: str = Field("", max_length=MAX_DESCRIPTION, pattern=TEXT)


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "template"
        out.append({"field": loc, "message": err["msg"].removeprefix("Value error, ")})
    return out


def _summary(what: str, errors: list[dict[str, str]]) -> str:
    return f"{what}: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)


def parse_character(data: Character | dict[str, Any]) -> Character:
    """A character's fields, parsed (not checked against a template); raises
    :class:`InvalidCharacter` naming every malformed field."""
    if isinstance(data, Character):
        return data
    try:
        return Character.model_validate(data)
    except ValidationError as exc:
        errors = _field_errors(exc)
        raise InvalidCharacter(_summary("invalid character", errors), errors=errors) from None


def check_character(template: Template, character: Character | dict[str, Any]) -> list[dict[str, str]]:
    """Every way ``character`` breaks ``template``, each as ``{"field", "message"}``; empty if none."""
    if not isinstance(character, Character):
        try:
            character = Character.model_validate(character)
        except ValidationError as exc:
            return _field_errors(exc)
    errors: list[dict[str, str]] = []

    def bad(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    if character.template != template.name:
        bad("template", f"character is of template {character.template!r}, not {template.name!r}")
    seen: set[str] = set()
    for i, trait in enumerate(character.traits):
        if trait not in template.traits:
            bad(f"traits[{i}]", f"{trait!r} is not a trait of template {template.name!r}")
        elif trait in seen:
            bad(f"traits[{i}]", f"{trait!r} is listed twice")
        seen.add(trait)
    n = len(character.traits)
    if not template.min_traits <= n <= template.max_traits:
        bad("traits", f"{n} traits; template {template.name!r} wants "
                      f"{template.min_traits} to {template.max_traits}")
    for name in character.attributes:
        if template.attribute(name) is None:
            bad(f"attributes.{name}", f"template {template.name!r} has no attribute {name!r}")
    for attr in template.attributes:
        field = f"attributes.{attr.name}"
        if attr.name not in character.attributes:
            bad(field, "missing")
            continue
        value = character.attributes[attr.name]
        if isinstance(attr, ChoiceAttribute):
            if value not in attr.values:
                bad(field, f"{value!r} is not one of {list(attr.values)}")
        elif isinstance(value, str | bool):
            bad(field, f"{value!r} is not a number")
        elif not attr.low <= value <= attr.high:
            bad(field, f"{value} is outside [{attr.low}, {attr.high}]")
        elif attr.integer and value != int(value):
            bad(field, f"{value} is not a whole number")
    traits = set(character.traits)
    for c in template.constraints:
        if not c.satisfied(traits, character.attributes):
            bad(f"constraints.{c.name}", f"violated: {c.if_} {c.kind} {c.then}")
    return errors


def validate_character(template: Template, character: Character | dict[str, Any]) -> Character:
    """The character, parsed; raises :class:`InvalidCharacter` listing every field that is wrong."""
    errors = check_character(template, character)
    if errors:
        raise InvalidCharacter(_summary("invalid character", errors), errors=errors, template=template.name)
    return character if isinstance(character, Character) else Character.model_validate(character)
