"""Each character's decision state, kept in PostgreSQL: its current plan, the step it is on, what
it believes, and a short history. Ray-free: a plain class over aria_data's ``Database`` (or a
bare asyncpg pool); SQL in ``sql/decisions.sql``, tables from ``migrations/0001_decision_state.sql``.

Life of one character's state::

    set (a plan)  -> executing --advance--> ... --advance (last step)--> done
    set (planning)-> planning --set (plan found)--> executing | --set (none found)--> failed
    executing | planning --fail--> failed ;  any --set / replan--> planning | executing | failed

Guarantees and caveats:
    - Every write is one transaction that locks the character's row (``FOR UPDATE``), checks the
      expected version, writes the new state with ``version + 1`` and appends its event: a crash
      leaves the old state or the new one, never a mix, and concurrent writers are serialised.
    - Optimistic concurrency: a write naming ``expected_version`` that is not the stored one is
      :class:`StaleDecisionError` (409); ``advance`` always names one (a step is done once).
      Creating names no version (or 0); two concurrent creations: the second gets a 409.
    - Characters live within a tenant ('' for none). A tenant's operations run as tenant
      transactions (row-level security), so another tenant's characters are invisible (404).
    - The history keeps the newest ``max_events`` events per character (older ones are deleted
      in the same transaction).
    - Plans, todo lists and beliefs are stored in the wire format of :mod:`aria_actors.engine.wire`;
      they are checked here (a malformed one is :class:`DecisionInputError` or ``WireError``, 422).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from aria_actors.data.pool import Database
from aria_actors.data.sql_files import queries
from aria_actors.data.transactions import run_transaction
from aria_actors.engine import wire
from aria_actors.engine.domain import Domain
from aria_actors.engine.errors import (
    DecisionInputError,
    DecisionTransitionError,
    StaleDecisionError,
    UnknownCharacterError,
)
from aria_actors.engine.state import Multigoal, State

q = queries("aria_actors.engine", "decisions")
T = TypeVar("T")

STATUSES = ("planning", "executing", "done", "failed")
CHARACTER = re.compile(r"[A-Za-z0-9_.:-]{1,128}")  # fullmatch: '$' would let a final newline in
MAX_PLAN_STEPS = 10_000
MAX_TODO = 1_000
MAX_DEPTH = 32  # nesting of a stored plan, todo list or beliefs document
# Most bytes of one stored field as JSON (plan, todo, beliefs): every write and read carries the
# whole row, so one character must not hold megabytes. The service passes its setting
# (engine.decision_max_bytes); this is the default of the pure checks.
MAX_FIELD_BYTES = 1_048_576
MAX_REASON = 1000
MAX_PAGE = 500
MAX_EVENTS = 100


# -- checks (pure) ----------------------------------------------------------------------------
def check_character(name: Any) -> str:
    if not isinstance(name, str) or not CHARACTER.fullmatch(name):
        raise DecisionInputError("a character is 1 to 128 letters, digits or _ . : -",
                                 field="character", character=repr(name)[:140])
    return name


def check_size(doc: Any, field: str, max_bytes: int = MAX_FIELD_BYTES) -> Any:
    """``doc`` once it is JSON nested at most MAX_DEPTH deep and at most ``max_bytes`` long."""
    stack = [(doc, 1)]
    while stack:  # iterative: a deep document must not exhaust the interpreter's stack
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise DecisionInputError(f"{field} is nested more than {MAX_DEPTH} levels deep", field=field)
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    try:
        size = len(json.dumps(doc).encode())
    except (TypeError, ValueError) as exc:
        raise DecisionInputError(f"the {field} cannot be stored as JSON ({exc})", field=field) from None
    if size > max_bytes:
        raise DecisionInputError(f"{field} takes {size} bytes as JSON; at most {max_bytes} are stored",
                                 field=field, max_bytes=max_bytes)
    return doc


def check_plan(plan: Any, max_bytes: int = MAX_FIELD_BYTES) -> list[list[Any]]:
    """A plan in wire format: a list of steps ``[action, args...]``, action a non-empty string."""
    if not isinstance(plan, list) or len(plan) > MAX_PLAN_STEPS:
        raise DecisionInputError(f"plan must be a list of at most {MAX_PLAN_STEPS} steps", field="plan")
    for i, step in enumerate(plan):
        if not isinstance(step, list) or not step or not isinstance(step[0], str) or not step[0]:
            raise DecisionInputError(f"plan[{i}] must be [action, args...] with a non-empty action name",
                                     field=f"plan[{i}]")
    return check_size(plan, "plan", max_bytes)


def check_beliefs(doc: Any, max_bytes: int = MAX_FIELD_BYTES) -> dict[str, Any]:
    """Beliefs as a wire state, normalised (decoding checks it: a malformed one is a WireError)."""
    if not isinstance(doc, dict):
        raise DecisionInputError('beliefs must be a state {"name": ..., "vars": {...}}', field="beliefs")
    return check_size(wire.encode_state(wire.decode_state(doc)), "beliefs", max_bytes)


def check_todo(todo: Any, max_bytes: int = MAX_FIELD_BYTES) -> list[Any] | None:
    if todo is not None:
        if isinstance(todo, list) and len(todo) > MAX_TODO:
            raise DecisionInputError(f"todo takes at most {MAX_TODO} items, got {len(todo)}", field="todo")
        wire.decode_todo(todo)  # raises WireError naming the bad item
        check_size(todo, "todo", max_bytes)
    return todo


def merge_beliefs(current: dict[str, Any], patch: dict[str, Any],
                  max_bytes: int = MAX_FIELD_BYTES) -> dict[str, Any]:
    """``current`` with ``patch``'s variables merged in, one level deep: a variable that is an
    object in both gets the patch's keys (a null value removes the key); any other variable is
    replaced. ``patch`` is ``{"vars": {...}}`` (a ``name`` renames the state)."""
    if not isinstance(patch, dict) or not isinstance(patch.get("vars", {}), dict):
        raise DecisionInputError('a beliefs patch is {"vars": {"var": {"key": value}}}', field="beliefs")
    out = {"name": patch.get("name", current.get("name", "beliefs")), "vars": dict(current.get("vars", {}))}
    for var, value in patch.get("vars", {}).items():
        old = out["vars"].get(var)
        if _plain_object(old) and _plain_object(value):
            merged = {**old, **value}
            out["vars"][var] = {k: v for k, v in merged.items() if v is not None}
        else:
            out["vars"][var] = value
    return check_beliefs(out, max_bytes)


def _plain_object(v: Any) -> bool:
    """An object that is a mapping of keys, not a tagged ``$set``/``$tuple`` value."""
    return isinstance(v, dict) and not (len(v) == 1 and next(iter(v)) in ("$set", "$tuple"))


def encode_todo(todo: list[Any]) -> list[Any]:
    """A todo list (tasks as tuples, multigoals) in wire format: the inverse of ``wire.decode_todo``."""
    out: list[Any] = []
    for item in todo:
        if isinstance(item, Multigoal):
            out.append({"multigoal": item.__name__, "vars": wire.encode_value(item.goals())})
        else:
            out.append([wire.encode_value(x) for x in item])
    return out


def storable(doc: Any, what: str) -> Any:
    """``doc`` once it is JSON (a named problem's state may hold values that are not)."""
    try:
        json.dumps(doc)
    except (TypeError, ValueError) as exc:
        raise DecisionInputError(f"the {what} cannot be stored as JSON ({exc})", field=what) from None
    return doc


def simulate_step(domain: Domain, beliefs: dict[str, Any], step: list[Any]) -> dict[str, Any]:
    """The beliefs after ``step``'s action, as the domain models it (what the character expects
    to be true once it has acted); a step the domain cannot apply there is a 409: replan."""
    action = domain._action_dict.get(step[0])
    if action is None:
        raise DecisionTransitionError(f"domain {domain.name!r} has no action {step[0]!r} any more: replan",
                                      action=step[0])
    state = wire.decode_state(beliefs)
    try:
        after = action(state.copy(), *(wire.decode_value(a) for a in step[1:]))
    except Exception as exc:  # the domain's own code: its refusal is this step's, reported as such
        raise DecisionTransitionError(f"action {step[0]!r} raised {type(exc).__name__}: {exc} on the "
                                      f"character's beliefs: replan, or send the observed beliefs",
                                      action=step[0]) from None
    if not isinstance(after, State):
        raise DecisionTransitionError(f"action {step[0]!r} does not apply to the character's beliefs: "
                                      f"replan, or send the observed beliefs", action=step[0])
    return {**wire.encode_state(after), "name": state.__name__}  # copy() renamed it


def check_status(status: Any) -> str | None:
    if status is not None and status not in STATUSES:
        raise DecisionInputError(f"status must be one of {', '.join(STATUSES)}", field="status")
    return status


def record(row: Any) -> dict[str, Any]:
    """A stored row as the JSON the API returns (the plan view reads ``next`` and ``steps``)."""
    plan = json.loads(row["plan"])
    step = row["step"]
    return {
        "character": row["character"], "tenant": row["tenant"] or None, "domain": row["domain"],
        "status": row["status"], "reason": row["reason"], "plan": plan, "step": step,
        "steps": len(plan), "next": plan[step] if step < len(plan) else None,
        "todo": json.loads(row["todo"]) if row["todo"] is not None else None,
        "beliefs": json.loads(row["beliefs"]), "version": row["version"],
        "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat(),
    }


def summary(row: Any) -> dict[str, Any]:
    """A listed row (``list_states``): what :func:`record` returns less the plan, todo list and
    beliefs (a page of 500 characters must not carry 500 plans); ``get`` returns the whole state."""
    return {
        "character": row["character"], "tenant": row["tenant"] or None, "domain": row["domain"],
        "status": row["status"], "reason": row["reason"], "step": row["step"], "steps": row["steps"],
        "next": json.loads(row["next_step"]) if row["next_step"] is not None else None,
        "version": row["version"], "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def advanced(current: dict[str, Any], beliefs: dict[str, Any] | None) -> dict[str, Any]:
    """The fields after one step of ``current`` (executing) is done; done after the last one."""
    if current["status"] != "executing":
        raise DecisionTransitionError(
            f"character {current['character']!r} is {current['status']}, not executing: there is no "
            f"step to advance (set or replan a plan first)",
            character=current["character"], decision_status=current["status"])
    step = current["step"] + 1
    return {**current, "step": step, "beliefs": beliefs if beliefs is not None else current["beliefs"],
            "status": "done" if step >= len(current["plan"]) else "executing", "reason": ""}


# -- the store ------------------------------------------------------------------------------------
class DecisionStore:
    """Decision states over aria_data's ``Database`` (or a bare asyncpg pool) where aria_engine's
    migrations were applied."""

    def __init__(self, db: Database | asyncpg.Pool, *, max_events: int = MAX_EVENTS,
                 max_field_bytes: int = MAX_FIELD_BYTES) -> None:
        self.pool: Any = db
        self.max_events = max_events
        self.max_field_bytes = max_field_bytes

    async def _tx(self, tenant: str, fn: Callable[[asyncpg.Connection], Awaitable[T]], *,
                  readonly: bool = False) -> T:
        scope = tenant or None  # '' is "no tenant": not a tenant transaction (see data.tenancy)
        if isinstance(self.pool, Database):
            return await self.pool.transaction(fn, tenant=scope, readonly=readonly)
        return await run_transaction(self.pool, fn, tenant=scope, readonly=readonly)

    async def _write(self, tenant: str, character: str, event: str,
                     change: Callable[[dict[str, Any]], dict[str, Any]], *,
                     expected_version: int | None, create: dict[str, Any] | None = None,
                     detail: dict[str, Any] | None = None) -> dict[str, Any]:
        """Lock the row, check the version, write ``change(current)`` (or insert ``create`` when
        there is no row), append the event and trim the history: one transaction."""
        check_character(character)
        if expected_version is not None and (isinstance(expected_version, bool)
                                             or not isinstance(expected_version, int) or expected_version < 0):
            raise DecisionInputError("version must be a non-negative integer", field="version")

        async def fn(conn: asyncpg.Connection) -> dict[str, Any]:
            row = await conn.fetchrow(q("lock_state"), tenant, character)
            if row is None:
                if create is None:
                    raise UnknownCharacterError(f"no decision state for character {character!r}",
                                                character=character)
                if expected_version:
                    raise StaleDecisionError(f"character {character!r} has no decision state, not "
                                             f"version {expected_version}", character=character,
                                             expected=expected_version, current=None)
                new = {"character": character, **create}
                try:
                    async with conn.transaction():  # a savepoint: the losing racer's insert undone alone
                        saved = await conn.fetchrow(q("insert_state"), tenant, character, *_fields(new))
                except asyncpg.UniqueViolationError:
                    raise StaleDecisionError(f"character {character!r} was given a decision state "
                                             f"meanwhile; read it and retry with its version",
                                             character=character, expected=0) from None
            else:
                current = record(row)
                if expected_version is not None and expected_version != current["version"]:
                    raise StaleDecisionError(
                        f"character {character!r} is at version {current['version']}, not "
                        f"{expected_version}: read it again and retry", character=character,
                        expected=expected_version, current=current["version"])
                new = change(current)
                saved = await conn.fetchrow(q("update_state"), tenant, character, *_fields(new))
            out = record(saved)
            await conn.execute(q("insert_event"), tenant, character, out["version"], event, out["step"],
                               out["status"], json.dumps(detail or {}))
            await conn.execute(q("trim_events"), tenant, character, self.max_events)
            return out

        return await self._tx(tenant, fn)

    # -- writes ----------------------------------------------------------------------------------
    async def put(self, tenant: str, character: str, *, domain: str, plan: list[Any],
                  beliefs: dict[str, Any], todo: list[Any] | None = None, status: str = "executing",
                  reason: str = "", expected_version: int | None = None, event: str = "set",
                  detail: dict[str, Any] | None = None) -> dict[str, Any]:
        """Create or replace the character's state: a new plan from step 0 (an empty plan to
        execute is done at once)."""
        check_status(status)
        if status == "executing" and not plan:
            status = "done"
        cap = self.max_field_bytes
        fields = {"domain": domain, "plan": check_plan(plan, cap), "todo": check_todo(todo, cap), "step": 0,
                  "beliefs": check_beliefs(beliefs, cap), "status": status, "reason": reason[:MAX_REASON]}
        return await self._write(tenant, character, event, lambda current: {**current, **fields},
                                 expected_version=expected_version, create=fields, detail=detail)

    async def advance(self, tenant: str, character: str, expected_version: int, *,
                      beliefs: dict[str, Any] | None = None) -> dict[str, Any]:
        """The current step is done (``beliefs``: what the character believes after it)."""
        if expected_version is None:
            raise DecisionInputError("advancing names the version it advances from", field="version")
        new_beliefs = check_beliefs(beliefs, self.max_field_bytes) if beliefs is not None else None

        def change(current: dict[str, Any]) -> dict[str, Any]:
            return advanced(current, new_beliefs)

        return await self._write(tenant, character, "advance", change, expected_version=expected_version,
                                 detail={"done": None})

    async def update_beliefs(self, tenant: str, character: str, patch: dict[str, Any], *,
                             replace: bool = False, expected_version: int | None = None) -> dict[str, Any]:
        """Merge ``patch`` into the beliefs (see :func:`merge_beliefs`), or replace them."""
        cap = self.max_field_bytes
        if replace:
            whole = check_beliefs(patch, cap)  # checks its vars too
        elif not isinstance(patch, dict) or not isinstance(patch.get("vars", {}), dict):
            raise DecisionInputError('a beliefs patch is {"vars": {"var": {"key": value}}}', field="beliefs")
        else:
            check_size(patch, "beliefs", cap)  # before the row is locked: a bad patch costs no write

        def change(current: dict[str, Any]) -> dict[str, Any]:
            return {**current, "beliefs": whole if replace else merge_beliefs(current["beliefs"], patch, cap)}

        names = sorted(str(v) for v in patch.get("vars", {}))  # validated above: vars is an object
        return await self._write(tenant, character, "beliefs", change, expected_version=expected_version,
                                 detail={"vars": [n[:128] for n in names[:50]]})

    async def fail(self, tenant: str, character: str, reason: str, *,
                   expected_version: int | None = None) -> dict[str, Any]:
        """The plan failed (kept, with the step it failed at, for the plan view)."""
        if not isinstance(reason, str):
            raise DecisionInputError("reason must be text", field="reason")

        def change(current: dict[str, Any]) -> dict[str, Any]:
            if current["status"] not in ("executing", "planning"):
                raise DecisionTransitionError(
                    f"character {character!r} is {current['status']}: only a plan being made or "
                    f"executed can fail", character=character, decision_status=current["status"])
            return {**current, "status": "failed", "reason": reason[:MAX_REASON]}

        return await self._write(tenant, character, "fail", change, expected_version=expected_version,
                                 detail={"reason": reason[:200]})

    # -- reads -----------------------------------------------------------------------------------
    async def get(self, tenant: str, character: str) -> dict[str, Any]:
        check_character(character)

        async def fn(conn: asyncpg.Connection) -> Any:
            return await conn.fetchrow(q("get_state"), tenant, character)

        row = await self._tx(tenant, fn, readonly=True)
        if row is None:
            raise UnknownCharacterError(f"no decision state for character {character!r}", character=character)
        return record(row)

    async def list(self, tenant: str, *, status: str | None = None, after: str | None = None,
                   limit: int = 50) -> dict[str, Any]:
        """One page in character order: ``{"items": [...], "next": <after for the next page> | None}``;
        items are summaries (:func:`summary`: no plan, todo list or beliefs; ``get`` has those)."""
        check_status(status)
        if after is not None and after != "":
            check_character(after)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise DecisionInputError(f"limit must be an integer from 1 to {MAX_PAGE}", field="limit")

        async def fn(conn: asyncpg.Connection) -> list[Any]:
            return await conn.fetch(q("list_states"), tenant, after or "", status, limit + 1)

        rows = await self._tx(tenant, fn, readonly=True)
        items = [summary(r) for r in rows[:limit]]
        return {"items": items, "next": items[-1]["character"] if len(rows) > limit else None}

    async def history(self, tenant: str, character: str, limit: int = MAX_EVENTS) -> list[dict[str, Any]]:
        """The newest events of the character, newest first."""
        check_character(character)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_EVENTS:
            raise DecisionInputError(f"limit must be an integer from 1 to {MAX_EVENTS}", field="limit")

        async def fn(conn: asyncpg.Connection) -> tuple[Any, list[Any]]:
            return (await conn.fetchrow(q("get_state"), tenant, character),
                    await conn.fetch(q("events"), tenant, character, limit))

        exists, rows = await self._tx(tenant, fn, readonly=True)
        if exists is None:
            raise UnknownCharacterError(f"no decision state for character {character!r}", character=character)
        return [{"version": r["version"], "event": r["event"], "step": r["step"], "status": r["status"],
                 "detail": json.loads(r["detail"]), "at": r["at"].isoformat()} for r in rows]

    async def ping(self) -> None:
        """One round trip (``SELECT 1``): what the service's health checks, cheaply."""
        await self.pool.fetchval(q("ping"))

    async def counts(self) -> dict[str, int]:
        """Characters per status, every tenant's (the service counts once, at start: what it resumed)."""
        rows = await self.pool.fetch(q("count_by_status"))
        return {s: 0 for s in STATUSES} | {r["status"]: r["n"] for r in rows}


def _fields(new: dict[str, Any]) -> tuple[Any, ...]:
    """The positional values of insert_state/update_state after (tenant, character)."""
    return (new["domain"], json.dumps(new["plan"]),
            json.dumps(new["todo"]) if new.get("todo") is not None else None, new["step"],
            json.dumps(new["beliefs"]), new["status"], new["reason"])
