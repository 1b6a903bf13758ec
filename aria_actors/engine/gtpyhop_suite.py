"""GTPyhop's bundled examples and IPC-2020 problems, loaded side by side into Aria and GTPyhop.

Used by the compatibility tests and ``bench/engine.py``: the same files are imported twice, once
against the installed ``gtpyhop`` (the peer) and once against :mod:`aria_actors.engine.pyhop`.

Guarantees and caveats:
    - Needs the ``gtpyhop`` distribution (gtpyhop-examples) installed; ``available()`` says so.
    - Importing the examples prints their banners; callers redirect stdout if they mind.
    - The peer is driven through its process-global API (strategy, verbosity, current domain);
      this module is for tests and benchmarks, not for concurrent use.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import io
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aria_actors.engine import pyhop
from aria_actors.engine.compat import load_gtpyhop

# Example name -> entry point that runs GTPyhop's own regression calls.
EXAMPLES: dict[str, str] = {
    "simple_htn.py": "main_legacy",
    "simple_hgn.py": "main_legacy",
    "backtracking_htn.py": "main_legacy",
    "logistics_hgn.py": "main_legacy",
    "pyhop_simple_travel_example.py": "main_legacy",
    "blocks_htn": "main_legacy",
    "blocks_gtn": "main_legacy",
    "blocks_hgn": "main_legacy",
}
IPC_DOMAINS = ("Blocksworld-GTOHP", "Childsnack")
PEER_STRATEGY = "iterative_dfs_backtracking"


def available() -> bool:
    return importlib.util.find_spec("gtpyhop") is not None


@functools.cache
def examples_dir() -> Path:
    import gtpyhop  # gtpyhop: the peer prints a banner on import; only the comparison runs load it
    return Path(gtpyhop.__file__).parent / "examples"


def quiet() -> contextlib.AbstractContextManager[Any]:
    return contextlib.redirect_stdout(io.StringIO())


@functools.cache
def peer_module(name: str) -> Any:
    with quiet():
        import gtpyhop  # gtpyhop: as in examples_dir (and under quiet())
        if name in IPC_DOMAINS:
            path = examples_dir() / "ipc-2020-total-order" / name
            modname = "_gtpyhop_ipc_" + name.replace("-", "_")
            spec = importlib.util.spec_from_file_location(
                modname, path / "__init__.py", submodule_search_locations=[str(path)])
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module
            spec.loader.exec_module(module)
            return module
        del gtpyhop
        return importlib.import_module("gtpyhop.examples." + name.removesuffix(".py"))


@functools.cache
def aria_module(name: str) -> Any:
    with quiet():
        if name in IPC_DOMAINS:
            return load_gtpyhop(examples_dir() / "ipc-2020-total-order" / name)
        return load_gtpyhop(examples_dir() / name)


@dataclass
class Recorded:
    calls: list[tuple[str, Any]]
    error: str | None


def _record(module: Any, run: Callable[[], Any]) -> Recorded:
    """Run an example, recording every find_plan/pyhop call it makes and what each returned."""
    calls: list[tuple[str, Any]] = []
    originals = {attr: getattr(module, attr) for attr in ("find_plan", "pyhop")}

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(state: Any, todo: list[Any]) -> Any:
            result = original(state, todo)
            calls.append((repr(todo), result))
            return result
        return wrapper

    for attr, original in originals.items():
        setattr(module, attr, wrap(original))
    error = None
    random.seed(1234)
    try:
        with quiet():
            run()
    except Exception as exc:  # the example's own regression check failed; compare that too
        error = f"{type(exc).__name__}: {exc}"
    finally:
        for attr, original in originals.items():
            setattr(module, attr, original)
    return Recorded(calls, error)


def run_example_peer(name: str, strategy: str = PEER_STRATEGY) -> Recorded:
    import gtpyhop  # gtpyhop: as in examples_dir
    module = peer_module(name)
    with quiet():
        gtpyhop.set_recursive_planning(strategy)
        gtpyhop.set_verbose_level(0)
    return _record(gtpyhop, lambda: _call_main(module, name))


def run_example_aria(name: str, strategy: str = PEER_STRATEGY) -> Recorded:
    module = aria_module(name)
    with quiet():
        pyhop.set_recursive_planning(strategy)
        pyhop.set_verbose_level(0)
    return _record(pyhop, lambda: _call_main(module, name))


def _call_main(module: Any, name: str) -> None:
    fn = getattr(module, EXAMPLES[name])
    try:
        fn(False)
    except TypeError:
        fn()  # pyhop_simple_travel_example.main_legacy() takes no argument


def _problem_key(pid: str) -> int:
    return int("".join(c for c in pid.rsplit("_", 1)[-1] if c.isdigit()) or 0)


def ipc_problem_ids(domain: str) -> list[str]:
    return sorted(peer_module(domain).get_problems(), key=_problem_key)


def ipc_problem(domain: str, pid: str, side: str) -> tuple[Any, Any, list[Any]]:
    """(domain object, state, todo) of one IPC problem for side 'aria' or 'peer'."""
    module = aria_module(domain) if side == "aria" else peer_module(domain)
    state, goal, _ = module.get_problems()[pid]
    multigoal_cls = pyhop.Multigoal if side == "aria" else _peer_multigoal()
    multigoal = multigoal_cls(f"goal_{pid}")
    setattr(multigoal, "served" if "childsnack" in pid.lower() else "on", goal)
    return module.the_domain, state, [multigoal]


def _peer_multigoal() -> Any:
    import gtpyhop  # gtpyhop: as in examples_dir
    return gtpyhop.Multigoal


def peer_find_plan(domain: Any, state: Any, todo: list[Any], strategy: str = PEER_STRATEGY) -> Any:
    import gtpyhop  # gtpyhop: as in examples_dir
    with quiet():
        gtpyhop.set_recursive_planning(strategy)
        gtpyhop.set_verbose_level(0)
        gtpyhop.set_current_domain(domain)
        return gtpyhop.find_plan(state, todo)


@contextlib.contextmanager
def deep_recursion(limit: int = 20000) -> Iterator[None]:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)
