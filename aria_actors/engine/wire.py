"""JSON <-> planner values: states, todo lists and plans as they travel over HTTP.

Format:
    state  {"name": "s0", "vars": {"loc": {"alice": "home"}, "tags": {"$set": ["a", "b"]}}}
    todo   [["travel", "alice", "park"], {"multigoal": "g", "vars": {"loc": {"alice": "park"}}}]
    values lists stay lists; {"$set": [...]} is a set, {"$tuple": [...]} a tuple.
Todo items that are JSON arrays become tuples (GTPyhop tasks, actions and unigoals).

Guarantees and caveats:
    - Only data is decoded: no code, no pickle, no class names are ever evaluated.
    - Dict keys are strings (JSON); domains keyed by tuples cannot be fed over HTTP.
"""

from __future__ import annotations

from typing import Any

from aria_actors.engine.errors import EngineError
from aria_actors.engine.state import Multigoal, State


class WireError(EngineError):
    """A state or todo list sent over HTTP is malformed; the message names the bad part."""

    type = "engine-bad-input"
    status = 422
    title = "Malformed state or todo list"


MAX_DEPTH = 32          # nesting of one value (lists, objects, $set, $tuple)
MAX_ITEMS = 200_000     # values (every list member, object entry and scalar) in one decoded value


def decode_value(v: Any) -> Any:
    """A JSON value as a planner value; nested deeper than MAX_DEPTH or holding more than
    MAX_ITEMS values is a WireError (never a RecursionError or an unbounded walk)."""
    return _decode(v, 0, [0])


def _decode(v: Any, depth: int, seen: list[int]) -> Any:
    seen[0] += 1
    if seen[0] > MAX_ITEMS:
        raise WireError(f"a value holds more than {MAX_ITEMS} items", max_items=MAX_ITEMS)
    if isinstance(v, (dict, list)) and depth >= MAX_DEPTH:
        raise WireError(f"a value is nested more than {MAX_DEPTH} levels deep", max_depth=MAX_DEPTH)
    if isinstance(v, dict):
        if len(v) == 1 and "$set" in v:
            items = [_decode(x, depth + 1, seen) for x in _listed(v["$set"], "$set")]
            try:
                return set(items)
            except TypeError:  # a list or an object inside: not something a set can hold
                raise WireError(f"$set members must be numbers, strings, booleans or $tuples, "
                                f"got {v['$set']!r:.120}") from None
        if len(v) == 1 and "$tuple" in v:
            return tuple(_decode(x, depth + 1, seen) for x in _listed(v["$tuple"], "$tuple"))
        return {k: _decode(x, depth + 1, seen) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x, depth + 1, seen) for x in v]
    return v


def _listed(v: Any, tag: str) -> list[Any]:
    if not isinstance(v, list):
        raise WireError(f"{tag} takes a list, got {type(v).__name__}")
    return v


def encode_value(v: Any) -> Any:
    if isinstance(v, (set, frozenset)):
        return {"$set": sorted((encode_value(x) for x in v), key=repr)}
    if isinstance(v, tuple):
        return {"$tuple": [encode_value(x) for x in v]}
    if isinstance(v, dict):
        return {str(k): encode_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [encode_value(x) for x in v]
    return v


_RESERVED_STATE = frozenset(dir(State))
_RESERVED_MULTIGOAL = frozenset(dir(Multigoal))


def _var_names(names: Any, reserved: frozenset[str], field: str) -> None:
    """State variables are attributes: a name such as ``copy``, ``__class__`` or ``_snap`` would
    replace the object's own machinery (the planner calls ``state.copy()``), so it is refused."""
    for name in names:
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_") or name in reserved:
            raise WireError(f"{name!r:.60} cannot name a state variable: use an identifier that does not "
                            "start with '_' and is not one of the object's attributes "
                            f"({', '.join(sorted(n for n in reserved if not n.startswith('_')))})",
                            field=field, name=str(name)[:60])


def decode_state(doc: dict[str, Any]) -> State:
    if not isinstance(doc, dict) or not isinstance(doc.get("vars", {}), dict):
        raise WireError("state must be an object {\"name\": ..., \"vars\": {...}}", field="state")
    variables = doc.get("vars", {})
    _var_names(variables, _RESERVED_STATE, "state.vars")
    return State(str(doc.get("name", "state")), **{k: decode_value(v) for k, v in variables.items()})


def encode_state(state: State) -> dict[str, Any]:
    return {"name": state.__name__, "vars": {k: encode_value(v) for k, v in state.view().items()}}


def decode_todo(items: list[Any]) -> list[Any]:
    if not isinstance(items, list):
        raise WireError("todo must be a list", field="todo")
    out: list[Any] = []
    for i, item in enumerate(items):
        if isinstance(item, list) and item and isinstance(item[0], str):
            out.append(tuple(decode_value(x) for x in item))
        elif isinstance(item, dict) and "multigoal" in item and isinstance(item.get("vars"), dict):
            _var_names(item["vars"], _RESERVED_MULTIGOAL, f"todo[{i}].vars")
            out.append(Multigoal(str(item["multigoal"]),
                                 **{k: decode_value(v) for k, v in item["vars"].items()}))
        else:
            raise WireError(f"todo[{i}] must be [name, args...] or {{\"multigoal\": ..., \"vars\": ...}}",
                            field=f"todo[{i}]")
    return out
