"""Plan learning: a cache of successful method choices per (item, abstracted state).

After a plan is found (with its decomposition tree), every refined task or goal on the plan's
path records which method worked for ``(item key, abstraction(state))``. Later searches try that
method first, which skips whatever dead ends the declaration order would explore first.

Guarantees and caveats:
    - Plans stay valid (every method and action still runs and is checked); they are the first
      plan found under the learned order, so they may differ from GTPyhop's first plan.
    - The abstraction decides what "the same situation" means; the default ignores the state and
      keys on the item alone. Too coarse an abstraction only costs speed, never correctness.
    - Bounded: least recently learned entries are dropped past ``max_entries``. Thread-safe.
    - Given ``stats`` (runtime/caches.py), every lookup is counted as a hit or miss of partition
      ``part`` (the engine keeps one cache per tenant and domain) for aria_tune's cache proposals.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aria_actors.engine.planner import PlanResult, TreeNode
from aria_actors.engine.state import State
from aria_actors.runtime.caches import CacheStats

Abstraction = Callable[[Any, State], Any]


MAX_KEY_CHARS = 512  # repr of one learned item: a cache entry must not keep a caller's large arguments


def _item_key(item: Any) -> Any:
    """The item as a cache key, or None (not learned) when its repr exceeds MAX_KEY_CHARS: the
    cache outlives the call, so an item with large arguments would pin them in memory."""
    if type(item).__name__ == "Multigoal":
        text = repr(sorted(item.goals().items(), key=repr))
        return ("multigoal", text) if len(text) <= MAX_KEY_CHARS else None
    key = tuple(item) if isinstance(item, list) else item
    try:
        hash(key)
    except TypeError:  # an argument that is a list or a dict: no key can hold it
        return None
    return key if len(repr(key)) <= MAX_KEY_CHARS else None


class MethodCache:
    def __init__(self, abstraction: Abstraction | None = None, max_entries: int = 100_000,
                 stats: CacheStats | None = None, part: Any = None) -> None:
        self.abstraction = abstraction or (lambda item, state: None)
        self.max_entries = max_entries
        self.stats = stats
        self.part = part
        self._best: OrderedDict[tuple[Any, Any], str] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.lookups = 0

    def __len__(self) -> int:
        return len(self._best)

    def known(self, item: Any, state: State) -> bool:
        """Whether a method choice is recorded for ``item`` here (counts nothing)."""
        item_key = _item_key(item)
        if item_key is None:
            return False
        key = (item_key, self.abstraction(item, state))
        with self._lock:
            return key in self._best

    def clear(self) -> None:
        with self._lock:
            self._best.clear()
            self.hits = self.lookups = 0

    def order(self, item: Any, state: State, methods: list[Any]) -> list[Any]:
        """``methods`` with the one that worked here before moved to the front."""
        item_key = _item_key(item)
        with self._lock:
            self.lookups += 1
        if item_key is None:
            return methods
        key = (item_key, self.abstraction(item, state))
        with self._lock:
            name = self._best.get(key)
            if name is None:
                if self.stats is not None:
                    self.stats.miss(key, self.part)
                return methods
            self.hits += 1
        if self.stats is not None:
            self.stats.hit(key, self.part)
        for i, m in enumerate(methods):
            if m.__name__ == name:
                return [m, *methods[:i], *methods[i + 1:]] if i else methods
        return methods

    def learn(self, result: PlanResult, states: dict[int, State] | None = None,
              initial: State | None = None) -> int:
        """Record the methods of a found plan's tree; returns how many choices were recorded.

        The abstraction is evaluated on ``initial`` (the plan's start state) unless the caller
        keeps per-node states; a state-independent abstraction needs neither.
        """
        if not result or result.roots is None:
            return 0
        learned = 0
        stack: list[TreeNode] = list(result.roots)
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            if node.method is None:
                continue
            item_key = _item_key(node.item)
            if item_key is None:
                continue  # too large to keep (or unhashable): planned again by declaration order
            state = (states or {}).get(id(node), initial)
            key = (item_key, self.abstraction(node.item, state))
            with self._lock:
                self._best[key] = node.method
                self._best.move_to_end(key)
                while len(self._best) > self.max_entries:
                    self._best.popitem(last=False)
                    if self.stats is not None:
                        self.stats.evicted()
            learned += 1
        return learned

    def resize(self, max_entries: int) -> None:
        """Keep at most ``max_entries`` from now on (the least recently learned dropped now)."""
        with self._lock:
            self.max_entries = max_entries
            while len(self._best) > max_entries:
                self._best.popitem(last=False)
                if self.stats is not None:
                    self.stats.evicted()
