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
    delay the loser's plan (it waits) to the first delay where its claims are free --> reserve

Guarantees and caveats:
    - No (step, resource) pair is ever reserved twice: reservation checks every claim first.
    - A character never loses a resource to a lower-priority one.
    - Waiting always resolves a conflict eventually (reservations are finite); ``max_delay``
      bounds it and reports ``status="unscheduled"`` beyond.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aria_actors.engine.domain import Domain
from aria_actors.engine.errors import BudgetExhaustedError, InvalidRequestError
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
               max_delay: int = 10_000, deadline: float | None = None,
               max_claims: int | None = None) -> tuple[list[Schedule], ReservationTable]:
    """Plan every character and reserve resources without double booking (see module docstring).

    ``deadline`` (a ``time.perf_counter()`` instant) bounds the search for free delays: past it
    the call raises :class:`BudgetExhaustedError`. ``max_claims`` bounds the reservation table
    (:class:`InvalidRequestError` beyond): both keep a service call within its budget.
    """
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
        if max_claims is not None and len(table) + len(claims) > max_claims:
            raise InvalidRequestError(
                f"the schedules claim more than {max_claims} (step, resource) pairs: fewer characters, "
                f"shorter plans or fewer resources per step", field="characters", max_claims=max_claims)
        delay = _free_delay(table, claims, max_delay, deadline)
        if delay is None:
            sched.status = "unscheduled"
            continue
        if delay:
            claims = [(step + delay, r) for step, r in claims]
        table.reserve(req.character, claims)
        sched.status, sched.plan, sched.delay, sched.claims = "scheduled", plan, delay, claims
    return [s for s in out if s is not None], table


def _free_delay(table: ReservationTable, claims: Sequence[Claim], max_delay: int,
                deadline: float | None) -> int | None:
    """The least delay ``d <= max_delay`` at which every claim shifted by ``d`` is free (None: none).

    Jumps instead of stepping by one: when the claim at offset ``i`` of resource ``r`` is held at
    ``d + i``, every delay up to the end of that held run conflicts on it too, so the next candidate
    is just past the run. Each jump moves ``d`` forward, so the search is linear in the delays it skips.
    """
    delay = 0
    while True:
        if deadline is not None and time.perf_counter() > deadline:
            raise BudgetExhaustedError("the time budget ran out while looking for free resource slots",
                                       max_delay=max_delay)
        blocked = next(((step, r) for step, r in claims if (step + delay, r) in table), None)
        if blocked is None:
            return delay
        step, r = blocked
        end = step + delay + 1
        while (end, r) in table:
            end += 1
        delay = end - step
        if delay > max_delay:
            return None


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
