"""Many characters: shared-resource reservations, priority conflict resolution, joint goals.

A plan step uses resources (``resources(action) -> names``, supplied per domain). A schedule
reserves ``(step, resource)`` pairs; two characters may never hold the same pair.

Resolution, in priority order (higher first, ties by request order)::

    plan (in parallel, e.g. on the planner pool)
      |
      v
    claims free? --yes--> reserve
      | no (a higher-priority character holds a claimed (step, resource))
      v
    replan the loser with those (step, resource) pairs forbidden --plan free?--yes--> reserve
      | no plan, or still in conflict
      v
    delay the loser's plan by 1, 2, ... steps (it waits) until its claims are free --> reserve

Guarantees and caveats:
    - No (step, resource) pair is ever reserved twice: reservation checks every claim first.
    - A character never loses a resource to a lower-priority one.
    - Waiting always resolves a conflict eventually (reservations are finite); ``max_delay``
      bounds it and reports ``status="unscheduled"`` beyond.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aria_actors.engine.domain import Domain
from aria_actors.engine.planner import Budget, find_plan
from aria_actors.engine.state import Multigoal, State

ResourceFn = Callable[[tuple[Any, ...]], Iterable[str]]
Claim = tuple[int, str]


@dataclass
class CharacterRequest:
    character: str
    state: State
    todo: list[Any]
    priority: int = 0
    domain: Domain | None = None  # this character's own domain; None: the one coordinate() takes


@dataclass
class Schedule:
    character: str
    priority: int
    status: str                          # "scheduled" | "no_plan" | "unscheduled"
    plan: list[Any] | None = None
    delay: int = 0                       # steps waited before the plan starts
    replanned: bool = False
    claims: list[Claim] = field(default_factory=list)
    lost_to: list[str] = field(default_factory=list)


class ReservationTable:
    """``(step, resource) -> character``; a pair is granted once."""

    def __init__(self) -> None:
        self._holder: dict[Claim, str] = {}

    def __contains__(self, claim: Claim) -> bool:
        return claim in self._holder

    def holder(self, claim: Claim) -> str | None:
        return self._holder.get(claim)

    def conflicts(self, claims: Iterable[Claim]) -> list[tuple[Claim, str]]:
        return [(c, self._holder[c]) for c in claims if c in self._holder]

    def reserve(self, character: str, claims: Sequence[Claim]) -> None:
        taken = self.conflicts(claims)
        if taken:
            raise ValueError(f"{character} cannot reserve {taken[0][0]}: held by {taken[0][1]}")
        for c in claims:
            self._holder[c] = character

    def __len__(self) -> int:
        return len(self._holder)


def claims_of(plan: Sequence[Any], resources: ResourceFn, delay: int = 0) -> list[Claim]:
    return [(delay + i, r) for i, step in enumerate(plan) for r in resources(step)]


PlanFn = Callable[[Sequence[CharacterRequest]], list[list[Any] | None]]


def _plan_in_process(domain: Domain, budget: Budget | None) -> PlanFn:
    def plan_all(requests: Sequence[CharacterRequest]) -> list[list[Any] | None]:
        return [find_plan(r.domain or domain, r.state, r.todo, budget=budget).plan for r in requests]
    return plan_all


def coordinate(domain: Domain, requests: Sequence[CharacterRequest], resources: ResourceFn, *,
               plan_all: PlanFn | None = None, budget: Budget | None = None,
               max_delay: int = 10_000) -> tuple[list[Schedule], ReservationTable]:
    """Plan every character and reserve resources without double booking (see module docstring)."""
    plans = (plan_all or _plan_in_process(domain, budget))(requests)
    table = ReservationTable()
    out: list[Schedule | None] = [None] * len(requests)
    order = sorted(range(len(requests)), key=lambda i: (-requests[i].priority, i))
    for i in order:
        req, plan = requests[i], plans[i]
        sched = Schedule(req.character, req.priority, "no_plan")
        out[i] = sched
        if plan is None:
            continue
        claims = claims_of(plan, resources)
        taken = table.conflicts(claims)
        if taken:
            sched.lost_to = sorted({who for _, who in taken})

            def forbid(step: int, action: Any) -> bool:
                return any((step, r) in table for r in resources(action))

            again = find_plan(req.domain or domain, req.state, req.todo, budget=budget, forbid=forbid)
            if again and again.plan is not None:
                plan, sched.replanned = again.plan, True
                claims = claims_of(plan, resources)
        delay = 0
        while table.conflicts(claims):
            delay += 1
            if delay > max_delay:
                sched.status = "unscheduled"
                break
            claims = claims_of(plan, resources, delay)
        if sched.status == "unscheduled":
            continue
        table.reserve(req.character, claims)
        sched.status, sched.plan, sched.delay, sched.claims = "scheduled", plan, delay, claims
    return [s for s in out if s is not None], table


def split_goal(goal: Multigoal, characters: Sequence[str],
               assign: Callable[[str, Any, Any], str] | None = None) -> dict[str, Multigoal]:
    """Split a joint multigoal into one multigoal per character.

    ``assign(var, arg, value) -> character`` decides who takes each goal; by default goals are
    dealt round robin in declaration order.
    """
    if not characters:
        raise ValueError("split_goal needs at least one character")
    parts = {c: Multigoal(f"{goal.__name__}_{c}") for c in characters}
    n = 0
    for var, args in goal.goals().items():
        for arg, val in args.items():
            who = assign(var, arg, val) if assign else characters[n % len(characters)]
            if who not in parts:
                raise ValueError(f"assign() chose {who!r}, which is not one of the characters")
            target = parts[who]
            if not hasattr(target, var):
                setattr(target, var, {})
            getattr(target, var)[arg] = val
            n += 1
    return parts
