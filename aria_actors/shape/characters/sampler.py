"""Constraint-aware sampling of characters from a template.

The template becomes a small finite constraint problem: one yes/no variable per trait, one variable
per choice attribute, and one per range attribute whose values are *segments* of the range cut at
every bound a constraint mentions (inside a segment every constraint on that attribute answers the
same, so a segment is as good as any number in it). A randomised backtracking search with forward
checking assigns the variables, then a number is drawn uniformly inside each chosen segment.

Guarantees and caveats
----------------------
- Every character returned satisfies every constraint, the trait count bounds and the attribute
  ranges; tests check this over 1,000 samples.
- The search is complete: when it exhausts the space the template is impossible, and
  :class:`ImpossibleTemplate` names a small set of constraints that conflict (found by deletion:
  each named constraint is needed for the conflict). It never loops forever: a node budget bounds
  it and :class:`TemplateTooHard` says so when the budget runs out first (only templates with
  many traits tied by many constraints get near it).
- Samples are random but not uniform over all valid characters: traits are included with a
  probability aimed at a random count in ``[min_traits, max_traits]``; continuous values avoid
  segment end points unless a constraint forces one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from aria_actors.shape.characters.templates import (
    Character,
    ChoiceAttribute,
    Condition,
    Constraint,
    RangeAttribute,
    Template,
)
from aria_actors.shape.errors import ImpossibleTemplate, TemplateTooHard

DEFAULT_NODE_BUDGET = 200_000


@dataclass(frozen=True, slots=True)
class Segment:
    """A point (``lo == hi``, closed) or an open interval ``(lo, hi)`` of a range attribute."""

    lo: float
    hi: float
    integer: bool

    @property
    def point(self) -> bool:
        return self.lo == self.hi

    @property
    def representative(self) -> float:
        return self.lo if self.point else (self.lo + self.hi) / 2

    @property
    def weight(self) -> float:
        if self.integer:
            return 1.0 if self.point else float(math.ceil(self.hi) - math.floor(self.lo) - 1)
        return 1e-9 if self.point else self.hi - self.lo

    def draw(self, rng: random.Random) -> float | int:
        if self.integer:
            if self.point:
                return int(self.lo)
            return rng.randint(math.floor(self.lo) + 1, math.ceil(self.hi) - 1)
        if self.point:
            return self.lo
        value = rng.uniform(self.lo, self.hi)
        # uniform() may return an end point; nudge inside the open interval.
        return value if self.lo < value < self.hi else self.representative


def segments(attr: RangeAttribute, constraints: tuple[Constraint, ...]) -> list[Segment]:
    """The range cut at every bound that a constraint puts on ``attr``."""
    cuts = {attr.low, attr.high}
    for c in constraints:
        for cond in (c.if_, c.then):
            if cond.attribute == attr.name:
                cuts.update(b for b in (cond.min, cond.max) if b is not None and attr.low < b < attr.high)
    ordered = sorted(cuts)
    out: list[Segment] = []
    for i, p in enumerate(ordered):
        if not attr.integer or p == int(p):
            out.append(Segment(p, p, attr.integer))
        if i + 1 < len(ordered):
            seg = Segment(p, ordered[i + 1], attr.integer)
            if seg.weight > 0:
                out.append(seg)
    return out


class _Problem:
    """The template as variables, domains and the constraints touching each variable."""

    def __init__(self, template: Template, constraints: tuple[Constraint, ...],
                 min_traits: int, max_traits: int) -> None:
        self.template = template
        self.constraints = constraints
        self.min_traits, self.max_traits = min_traits, max_traits
        self.domains: dict[str, list[Any]] = {}
        for trait in template.traits:
            self.domains[f"t:{trait}"] = [True, False]
        for attr in template.attributes:
            key = f"a:{attr.name}"
            if isinstance(attr, ChoiceAttribute):
                self.domains[key] = list(attr.values)
            else:
                self.domains[key] = segments(attr, constraints)
        self.touching: dict[str, list[Constraint]] = {k: [] for k in self.domains}
        for c in constraints:
            for key in {self._key(c.if_), self._key(c.then)}:
                self.touching[key].append(c)

    @staticmethod
    def _key(cond: Condition) -> str:
        return f"t:{cond.trait}" if cond.trait is not None else f"a:{cond.attribute}"

    def _truth(self, cond: Condition, assignment: dict[str, Any]) -> bool | None:
        key = self._key(cond)
        if key not in assignment:
            return None
        value = assignment[key]
        if cond.trait is not None:
            return bool(value)
        if cond.in_ is not None:
            return value in cond.in_
        x = value.representative
        lo = -math.inf if cond.min is None else cond.min
        hi = math.inf if cond.max is None else cond.max
        return lo <= x <= hi

    def consistent(self, key: str, assignment: dict[str, Any], traits_on: int, traits_open: int) -> bool:
        if traits_on > self.max_traits or traits_on + traits_open < self.min_traits:
            return False
        for c in self.touching[key]:
            cond_if = self._truth(c.if_, assignment)
            cond_then = self._truth(c.then, assignment)
            if cond_if is True and cond_then is not None and cond_then != (c.kind == "requires"):
                return False
        return True


def _weighted_order(values: list[Any], weights: list[float], rng: random.Random) -> list[Any]:
    # Efraimidis-Spirakis: sorting by u**(1/w) is a weighted random permutation.
    keys = [rng.random() ** (1.0 / w) if w > 0 else 0.0 for w in weights]
    return [v for _, v in sorted(zip(keys, values, strict=True), key=lambda kv: -kv[0])]


def _search(problem: _Problem, rng: random.Random | None, budget: int) -> dict[str, Any] | None:
    """One assignment satisfying every constraint, or None when there is none.

    ``rng=None`` searches in a fixed order (used to prove impossibility cheaply and repeatably).
    """
    keys = list(problem.domains)
    if rng is not None:
        rng.shuffle(keys)
    # Constrained variables first: conflicts surface near the root of the search tree.
    keys.sort(key=lambda k: -len(problem.touching[k]))
    n_traits = len(problem.template.traits)
    lo, hi = problem.min_traits, problem.max_traits
    target = rng.randint(lo, min(hi, n_traits)) if rng is not None and lo <= min(hi, n_traits) else lo
    p_on = target / n_traits if n_traits else 0.0
    assignment: dict[str, Any] = {}
    nodes = 0

    def order(key: str, traits_on: int) -> list[Any]:
        domain = problem.domains[key]
        if rng is None:
            return domain
        if key.startswith("t:"):
            return [True, False] if rng.random() < p_on else [False, True]
        if key.startswith("a:") and domain and isinstance(domain[0], Segment):
            return _weighted_order(domain, [s.weight for s in domain], rng)
        return rng.sample(domain, len(domain))

    def solve(i: int, traits_on: int, traits_open: int) -> bool:
        nonlocal nodes
        if i == len(keys):
            return True
        key = keys[i]
        is_trait = key.startswith("t:")
        for value in order(key, traits_on):
            nodes += 1
            if nodes > budget:
                raise TemplateTooHard(
                    f"template {problem.template.name!r}: no decision after {budget} search nodes",
                    template=problem.template.name, node_budget=budget,
                )
            assignment[key] = value
            on = traits_on + (1 if is_trait and value else 0)
            open_ = traits_open - (1 if is_trait else 0)
            if problem.consistent(key, assignment, on, open_) and solve(i + 1, on, open_):
                return True
            del assignment[key]
        return False

    return assignment if solve(0, 0, n_traits) else None


class CharacterSampler:
    """Draws characters that satisfy a template; built once per template.

    ``CharacterSampler(template)`` raises :class:`ImpossibleTemplate` at once when no character can
    satisfy the template, so a bad template fails where it is registered, not at first use.
    """

    def __init__(self, template: Template, *, node_budget: int = DEFAULT_NODE_BUDGET) -> None:
        self.template = template
        self.node_budget = node_budget
        self._problem = _Problem(template, template.constraints, template.min_traits, template.max_traits)
        if _search(self._problem, None, node_budget) is None:
            raise self._impossible()

    def _impossible(self) -> ImpossibleTemplate:
        t = self.template
        bounds_ok = t.min_traits <= min(t.max_traits, len(t.traits))
        if not bounds_ok:
            return ImpossibleTemplate(
                f"template {t.name!r}: {t.min_traits} to {t.max_traits} traits cannot be picked from "
                f"{len(t.traits)}", template=t.name, constraints=[], field="min_traits",
            )
        # Deletion filter: drop each constraint whose removal keeps the conflict.
        kept = list(t.constraints)
        for c in list(kept):
            trial = tuple(x for x in kept if x is not c)
            probe = _Problem(t, trial, t.min_traits, t.max_traits)
            if _search(probe, None, self.node_budget) is None:
                kept = list(trial)
        names = [c.name for c in kept]
        return ImpossibleTemplate(
            f"template {t.name!r}: constraints cannot be met together: " + "; ".join(map(str, kept))
            + f" (with {t.min_traits} to {t.max_traits} traits)",
            template=t.name, constraints=names, field="constraints",
        )

    def sample(self, rng: random.Random | None = None, *, name: str = "") -> Character:
        rng = rng or random.Random()
        assignment = _search(self._problem, rng, self.node_budget)
        if assignment is None:  # the constructor proved the template satisfiable
            raise self._impossible()
        traits = tuple(t for t in self.template.traits if assignment[f"t:{t}"])
        attributes: dict[str, float | int | str] = {}
        for attr in self.template.attributes:
            value = assignment[f"a:{attr.name}"]
            attributes[attr.name] = value.draw(rng) if isinstance(value, Segment) else value
        return Character(template=self.template.name, name=name, traits=traits, attributes=attributes)
