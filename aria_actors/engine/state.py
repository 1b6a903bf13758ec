"""GTPyhop's State and Multigoal, with copy-on-access state variables.

GTPyhop copies the whole state with ``copy.deepcopy`` before every action, which is where most of
its planning time goes. Here the planner's copy (``_fork``) is O(number of state variables): the
copy shares the parent's values and a variable is copied the first time it is *read* through
attribute access on that state (reading is the only hook Python offers before an in-place
mutation such as ``state.pos[b] = 'table'``).

Same plans as GTPyhop: deepcopy rebuilds a set as ``set(list(s))``, which changes its iteration
order, and domains that take "the first" element of a set then depend on how many copies were
made. So every state knows its copy generation, and a set read ``k`` generations after its
source is rebuilt as if copied ``k`` times. Those orders are periodic (period 1 or 2 nearly
always), so a per-thread *orbit* cache gives them in O(1) once the cycle is known. On top:
    - states the planner only shows to methods *borrow* values read-only (no copy at all);
    - a set an action reads but does not change keeps pointing at its source (provenance), so a
      static set such as a type's members keeps one orbit for the whole search;
    - actions are lent a spare copy from the orbit cache, given back when they did not touch it;
    - a list copied from a list of scalars remembers its source, so the next copy type-checks only
      the elements appended since (logs and result lists grow by one element per action);
    - attribute dicts are installed whole, so that CPython specialises ``state.x`` in domain code.

Guarantees and caveats:
    - Attribute access (``s.pos``), ``vars(s)``, ``s.__dict__``, pickle and ``deepcopy`` all see
      every state variable; ``copy()`` is a real deep copy (GTPyhop's ``State.copy``).
    - Methods must not mutate the state (GTPyhop's contract too): here a mutating method could
      change values shared with other states of the search.
    - An action that removes and re-adds the same element of a set in one call leaves it equal
      but with a hash-table tombstone; its later copies may then iterate differently from
      GTPyhop's in rare layouts. No bundled example does this.
    - Values are copied one level deep when every element is an immutable scalar (str, int, float,
      bool, None, bytes, tuples of those); anything else falls back to ``deepcopy``. Set elements
      are hashable and treated as immutable (a mutable hashable object inside a set is shared).
      A copied list's old prefix is compared with ``==`` to its source: an element replaced by a
      mutable object that compares equal to the scalar it replaced would be shared, not copied.
    - Equality ignores the name, as in GTPyhop.
    - Methods see sets *nested* in a dict or list in their source's order, where GTPyhop's copies
      would have reordered them (top-level sets are exact; actions get exact copies).
"""

from __future__ import annotations

import copy as _copy
import re
import sys
import threading
from operator import is_ as _is
from typing import Any

_ATOMIC: frozenset[type] = frozenset({str, int, float, bool, type(None), bytes, complex, range})


def _immutable(value: Any) -> bool:
    t = type(value)
    if t in _ATOMIC:
        return True
    if t is tuple:
        return all(_immutable(x) for x in value)
    return False


def clone_value(value: Any, times: int = 1) -> Any:
    """``copy.deepcopy`` applied ``times`` times, only as deep as the value needs.

    Sets are rebuilt exactly as deepcopy rebuilds them (``set(list(s))``) once per copy, because
    that changes their iteration order and GTPyhop domains often pick "the first" element of a
    set: plans are identical to GTPyhop's only if the number of copies is too.
    """
    t = type(value)
    if t in _ATOMIC:
        return value
    if times < 1:
        times = 1
    if t is dict:
        if set(map(type, value.values())) <= _ATOMIC:
            return value.copy()
        return {k: clone_value(v, times) for k, v in value.items()}
    if t is set:
        # Set elements are hashable, hence treated as immutable: no per-element check.
        for _ in range(times):
            value = set(list(value))
        return value
    if t is frozenset:
        for _ in range(times):
            value = frozenset(list(value))
        return value
    if t is list:
        if _flat_list(value):
            copy = value.copy()
            _grown_from(copy, value)
            return copy
        return [clone_value(v, times) for v in value]
    if t is tuple and _immutable(value):
        return value
    for _ in range(times):
        value = _copy.deepcopy(value)
    return value


_local = threading.local()
_ORBIT_CACHE_MAX = 2048


def _grown_from(copy: list[Any], source: list[Any]) -> None:
    """Remember that ``copy`` started as a copy of ``source``, a list of immutable scalars."""
    known = getattr(_local, "lists", None)
    if known is None:
        known = _local.lists = {}
    else:
        # One entry per chain of copies: holding every generation's list would keep them all
        # alive (a search that appends to a long list would hold its whole history).
        known.pop(id(source), None)
        if len(known) >= _ORBIT_CACHE_MAX:
            known.clear()
    known[id(copy)] = (copy, source)


def _flat_list(value: list[Any]) -> bool:
    """Whether every element of ``value`` is an immutable scalar, checking only what changed
    since its copy was made when the copy came from :func:`clone_value`.

    A list that actions keep appending to (a log, results) is copied once per step: checking
    every element's type each time cost ten times the copy itself. When ``value`` is such a copy
    its old prefix is compared with its source in one C-level pass (equal scalars, or the very
    same objects) and only the new tail is type-checked.
    """
    known = getattr(_local, "lists", None)
    if known is not None:
        entry = known.get(id(value))
        if entry is not None and entry[0] is value:
            source = entry[1]
            n = len(source)
            if len(value) >= n and value[:n] == source:
                return n == len(value) or _ATOMIC.issuperset(map(type, value[n:]))
    return _ATOMIC.issuperset(map(type, value))


def _orbit_entry(value: Any) -> list[Any]:
    cache = getattr(_local, "orbits", None)
    if cache is None:
        cache = _local.orbits = {}
    entry = cache.get(id(value))
    if entry is None or entry[0][0] is not value:
        if len(cache) >= _ORBIT_CACHE_MAX:
            cache.clear()
        # sequence, cycle start, period (0 = not known yet), order -> index seen so far,
        # spare copies lent to actions (sequence index of the copied element -> copy)
        entry = [[value], 0, 0, None, None]
        cache[id(value)] = entry
    return entry


def _orbit_index(entry: list[Any], times: int) -> int:
    seq = entry[0]
    if times < len(seq):
        return times
    period = entry[2]
    if period:
        start = entry[1]
        return start + (times - start) % period
    make = set if type(seq[0]) is set else frozenset
    while not entry[2] and len(seq) <= times:
        last = seq[-1]
        nxt = make(list(last))
        if len(seq) >= 2:  # a copy or two in, look for the cycle (any period)
            if all(map(_is, nxt, last)):
                # Period 1, the usual fixed point: found by comparing element identities in
                # order (the copy holds the very same objects), before any order -> index map.
                entry[1] = len(seq) - 1
                entry[2] = 1
                continue
            seen = entry[3]
            if seen is None:
                seen = entry[3] = {tuple(x): i for i, x in enumerate(seq)}
            key = tuple(nxt)
            if key in seen:
                entry[1] = seen[key]
                entry[2] = len(seq) - entry[1]
                continue
            seen[key] = len(seq)
        seq.append(nxt)
    if times < len(seq):
        return times
    start, period = entry[1], entry[2]
    return start + (times - start) % period


def orbit(value: Any, times: int) -> Any:
    """An object iterating like ``value`` deep-copied ``times`` times (sets change order each
    copy). Shared and read-only: cached per thread, and periodic orbits (the usual case: period 1
    or 2 after a copy or two) cost nothing once their cycle is known."""
    if times <= 0:
        return value
    # Fast path (most reads): the value's orbit is cached and already covers ``times``.
    cache = getattr(_local, "orbits", None)
    if cache is not None:
        entry = cache.get(id(value))
        if entry is not None:
            seq = entry[0]
            if seq[0] is value:
                if times < len(seq):
                    return seq[times]
                period = entry[2]
                if period:
                    start = entry[1]
                    return seq[start + (times - start) % period]
    entry = _orbit_entry(value)
    return entry[0][_orbit_index(entry, times)]


def _lend(value: set[Any], times: int) -> tuple[set[Any], tuple[list[Any], int]]:
    """A private, mutable set laid out exactly like ``value`` deep-copied ``times`` times.

    It is built like deepcopy builds it, from the previous copy's order, or taken from the spare
    copies an earlier action gave back untouched; give it back with :func:`_give_back`.
    """
    entry = _orbit_entry(value)
    index = _orbit_index(entry, times - 1)
    spares = entry[4]
    copy = spares.pop(index, None) if spares else None
    if copy is None:
        copy = set(list(entry[0][index]))
    return copy, (entry, index)


def _give_back(slot: tuple[list[Any], int], copy: set[Any]) -> None:
    entry, index = slot
    if entry[4] is None:
        entry[4] = {}
    entry[4][index] = copy


def release_orbits() -> None:
    """Drop this thread's cached set orders (and container shapes)."""
    cache = getattr(_local, "orbits", None)
    if cache:
        cache.clear()
    lists = getattr(_local, "lists", None)
    if lists:
        lists.clear()
    shapes = getattr(_local, "flat", None)
    if shapes:
        shapes.clear()


def _flat(value: Any) -> bool:
    """Whether a dict, list or tuple holds only immutable scalars (then sharing it read-only shows
    what GTPyhop's copies would: nothing inside changes order when copied). Cached per thread and
    search; the entry keeps the object alive so that its id is not reused meanwhile."""
    shapes = getattr(_local, "flat", None)
    if shapes is None:
        shapes = _local.flat = {}
    entry = shapes.get(id(value))
    if entry is not None and entry[0] is value:
        return entry[1]
    items = value.values() if type(value) is dict else value
    flat = _ATOMIC.issuperset(map(type, items))
    if len(shapes) >= _ORBIT_CACHE_MAX:
        shapes.clear()
    shapes[id(value)] = (value, flat)
    return flat


class _WithDict:
    """Gives subclasses a real instance ``__dict__`` whose descriptor we can still reach."""


_REAL_DICT = _WithDict.__dict__["__dict__"]
_get_real = _REAL_DICT.__get__
# A state's attribute dict is always installed whole (``_set_real``), never filled in place after
# the object exists: CPython 3.11 only specialises ``state.pos`` loads (3x faster in the code of
# methods) on a plain combined dict; one grown from the object's inline values is left generic.
_set_real = _REAL_DICT.__set__
_set_attr = object.__setattr__
_next_copy_number = 0


def _name_for_copy(old_name: str, number: int) -> str:
    if re.search(r"_copy_[0-9]*$", old_name):
        return re.sub(r"_[0-9]*$", f"_{number}", old_name)
    return f"{old_name}_copy_{number}"


class State(_WithDict):
    """``State(name, **vars)``: state-variable bindings of a state of the world (GTPyhop model)."""

    # _snap: variables shared with the ancestor they came from, name -> (value, generation);
    # _gen: how many planner copies separate this state from the root.
    # _borrow: reads share values read-only (set on states only methods will see, in the planner);
    # _prov: where borrowed values came from, so forks copy from the source, not the loan.
    # _pend: sets this state copied (or was lent) for an action, with their source, until
    # changed() sees whether the action left them alone: then a copy joins _prov (forks keep
    # following the source) and a lent copy goes back to the cache for the next action.
    __slots__ = ("_borrow", "_gen", "_pend", "_prov", "_snap")

    def __init__(self, state_name: str = "state", **kwargs: Any) -> None:
        self._snap: dict[str, tuple[Any, int]] | None = None
        self._gen = 0
        self._borrow = False
        self._prov: dict[str, tuple[Any, int]] | None = None
        self._pend: dict[str, tuple[tuple[Any, int], Any]] | None = None
        real = dict(_get_real(self))  # keeps what a subclass set before calling us
        real["__name__"] = state_name
        real.update(kwargs)
        _set_real(self, real)

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        """The real attribute dict with every state variable materialised (used by vars())."""
        self._materialise()
        return _get_real(self)

    def _materialise(self) -> None:
        snap = self._snap
        real = _get_real(self)
        gen = self._gen
        if self._prov:
            for k, (v, g) in self._prov.items():
                real[k] = clone_value(v, gen - g)  # turn loans into owned copies
            self._prov = None
        self._pend = None
        if snap:
            for k, (v, g) in snap.items():
                if k not in real:
                    real[k] = clone_value(v, gen - g)
        self._snap = None
        self._borrow = False

    def __delattr__(self, name: str) -> None:
        self._materialise()
        object.__delattr__(self, name)

    def peek(self, name: str, default: Any = None) -> Any:
        """A state variable's value without copying it: read-only use only."""
        real = _get_real(self)
        if name in real:
            return real[name]
        snap = self._snap
        if snap is not None and name in snap:
            return snap[name][0]
        return default

    def view(self) -> dict[str, Any]:
        """All state variables (without the name), values shared: read-only use only."""
        real = _get_real(self)
        out = {k: v for k, (v, _g) in self._snap.items()} if self._snap else {}
        out.update(real)
        out.pop("__name__", None)
        return out

    def _fork(self, name: str) -> State:
        """A copy sharing values until they are read; the planner's hot path.

        The parent keeps its own values (planners never mutate a state after forking it, and
        GTPyhop hands methods that very object too), so forking costs O(number of variables).
        """
        gen = self._gen
        merged = dict(self._snap) if self._snap else {}
        for k, v in _get_real(self).items():
            merged[k] = (v, gen)
        del merged["__name__"]
        if self._prov:
            merged.update(self._prov)
        child = _Forked.__new__(_Forked)
        child._mview = None
        child._snap = merged
        child._gen = gen + 1
        child._borrow = False
        child._prov = None
        child._pend = None
        _set_real(child, {"__name__": name})
        return child

    def copy(self, new_name: str | None = None) -> State:
        """A deep copy named ``new_name`` or ``<name>_copy_<n>``, as GTPyhop's ``State.copy``."""
        global _next_copy_number
        if new_name is None:
            new_name = _name_for_copy(self.__name__, _next_copy_number)
            _next_copy_number += 1
        the_copy = _copy.deepcopy(self)
        _get_real(the_copy)["__name__"] = new_name
        return the_copy

    # -- GTPyhop surface ------------------------------------------------------------------------
    def state_vars(self) -> list[str]:
        return list(self.view())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, State):
            return False
        return self.view() == other.view()

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return f"<State {self.__name__}>"

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v}" for k, v in self.view().items())
        return f"State('{self.__name__}', {body})"

    def display(self, heading: str | None = None) -> None:
        print_object(self, heading)

    def __reduce__(self) -> tuple[Any, ...]:
        self._materialise()
        real = dict(_get_real(self))
        return (_rebuild_state, (_public(type(self)), real.pop("__name__"), real))

    def __deepcopy__(self, memo: dict[int, Any]) -> State:
        self._materialise()
        cls = _public(type(self))
        new = cls.__new__(cls)
        new._snap = None
        new._gen = 0
        new._borrow = False
        new._prov = None
        new._pend = None
        _set_real(new, {k: _copy.deepcopy(v, memo) for k, v in _get_real(self).items()})
        return new


class _Forked(State):
    """A state the planner forked: its variables are copied from its ancestors on first read.

    A separate class so that ``State`` itself has no ``__getattr__``: with one, CPython cannot
    specialise attribute loads, and every ``state.pos`` in a domain's methods costs about twice
    as much. Methods are shown :func:`method_view` of a forked state, a plain ``State``.
    """

    __slots__ = ("_mview",)

    def _materialise(self) -> None:
        super()._materialise()
        self._mview = None  # its values may now be replaced in place

    # -- copy on access -------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # Only reached when the variable is not materialised on this state yet.
        if name[:2] != "__":
            snap = self._snap
            if snap is not None and name in snap:
                entry = snap[name]
                value, gen = entry
                t = type(value)
                k = self._gen - gen
                if self._borrow and (t is set or t is frozenset or ((t is dict or t is list) and _flat(value))):
                    if t is set or t is frozenset:
                        value = orbit(value, k)
                    prov = self._prov
                    if prov is None:
                        prov = self._prov = {}
                    prov[name] = entry
                elif t is set:
                    if k > 1:
                        value, slot = _lend(value, k)
                    else:
                        value, slot = set(list(value)), None
                    pend = self._pend
                    if pend is None:
                        pend = self._pend = {}
                    pend[name] = (entry, value, slot)
                elif t not in _ATOMIC:
                    value = clone_value(value, k)
                _set_attr(self, name, value)
                return value
        raise AttributeError(f"state {_get_real(self).get('__name__')!r} has no state variable {name!r}")


def _public(cls: type[State]) -> type[State]:
    """Copies and pickles of a planner fork are plain states."""
    return State if cls is _Forked else cls


def _rebuild_state(cls: type[State], name: str, variables: dict[str, Any]) -> State:
    new = cls.__new__(cls)
    new._snap = None
    new._gen = 0
    new._borrow = False
    new._prov = None
    new._pend = None
    real = {"__name__": name}
    real.update(variables)
    _set_real(new, real)
    return new


def method_view(state: State) -> State:
    """What a method is shown for ``state``: the state itself, or for a planner fork a plain
    ``State`` holding every variable as GTPyhop's copy would hold it (sets in the order that many
    deep copies give them), values shared read-only (methods must not mutate: GTPyhop's contract).
    Built once per forked state."""
    if type(state) is not _Forked:
        return state
    view = state._mview
    if view is not None:
        return view
    view = State.__new__(State)
    view._snap = None
    view._gen = state._gen
    view._borrow = False
    view._prov = None
    view._pend = None
    real = _get_real(state)
    out = {"__name__": real["__name__"]}
    gen = state._gen
    for entries in (state._snap, state._prov):
        if entries:
            for k, (v, g) in entries.items():
                t = type(v)
                # Top-level sets only: scanning every unread container for nested sets on each
                # view cost 60% on list-heavy domains (see the caveat in the module docstring).
                out[k] = orbit(v, gen - g) if (t is set or t is frozenset) and gen > g else v
    out.update(real)
    _set_real(view, out)
    state._mview = view
    return view


# References to a lent set in changed() when nothing else holds it: the pend entry, the loop
# variable and getrefcount's argument. More means the action stored it elsewhere (``s.b = s.a``,
# ``s.log.append(s.a)``): then it is not given back for another action to mutate.
_UNSHARED = 3


def changed(new: State, old: State) -> bool:
    """Whether an action changed the state (GTPyhop leaves unchanged actions out of plans)."""
    if new is old:
        return False
    snap = new._snap if type(new) is _Forked else None
    if snap is not None and isinstance(old, State) and new._gen == old._gen + 1:
        # ``new`` was forked from ``old``: only the variables it materialised can differ.
        # Sets the action copied but left untouched keep following their source, so later
        # copies of them reuse one cached orbit instead of rebuilding the set every step.
        old_real = _get_real(old)
        old_snap = old._snap or {}
        pend = new._pend
        new._pend = None
        result = False
        real = _get_real(new)
        if pend is not None:
            for k, (src, value, slot) in pend.items():
                before = old_real[k] if k in old_real else old_snap[k][0]
                intact = before == value
                if real.get(k) is value:
                    if not intact:
                        continue  # the action changed it: the new state owns this copy
                    prov = new._prov
                    if prov is None:
                        prov = new._prov = {}
                    prov[k] = src
                    if slot is not None:
                        del real[k]  # unchanged loan: the state reads it from its source again
                        if sys.getrefcount(value) <= _UNSHARED:
                            _give_back(slot, value)
                elif slot is not None and intact and sys.getrefcount(value) <= _UNSHARED:
                    _give_back(slot, value)  # replaced without being touched
        for k, v in real.items():
            if k == "__name__":
                continue
            if k in old_real:
                before = old_real[k]
            elif k in old_snap:
                before = old_snap[k][0]
            else:
                return True
            if before != v:
                return True
        return result
    return new.view() != old.view()


class Multigoal:
    """``Multigoal(name, **vars)``: a conjunction of desired state-variable values."""

    def __init__(self, multigoal_name: str = "goal", **kwargs: Any) -> None:
        goals = {"__name__": multigoal_name}
        goals.update(kwargs)
        self.__dict__ = goals  # installed whole, as a state's (see _set_real)

    def copy(self, new_name: str | None = None) -> Multigoal:
        global _next_copy_number
        the_copy = _copy.deepcopy(self)
        if new_name is None:
            new_name = _name_for_copy(self.__name__, _next_copy_number)
            _next_copy_number += 1
        the_copy.__name__ = new_name
        return the_copy

    def state_vars(self) -> list[str]:
        return [v for v in vars(self) if v != "__name__"]

    def goals(self) -> dict[str, dict[Any, Any]]:
        return {k: v for k, v in vars(self).items() if k != "__name__"}

    def __str__(self) -> str:
        return f"<Multigoal {self.__name__}>"

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v}" for k, v in self.goals().items())
        return f"Multigoal('{self.__name__}', {body})"

    def display(self, heading: str | None = None) -> None:
        print_object(self, heading)


def print_object(obj: Any, heading: str | None = None) -> None:
    """Print a state's or multigoal's variables, as GTPyhop's ``display``."""
    if heading is None:
        heading = type(obj).__name__
    if obj is False or obj is None:
        print(f"{heading} = False", "\n")
        return
    title = f"{heading} {obj.__name__}:"
    print(title)
    print("-" * len(title))
    items = obj.view().items() if isinstance(obj, State) else obj.goals().items()
    for name, val in items:
        print(f"  - {name} = {val}")
    print("")
