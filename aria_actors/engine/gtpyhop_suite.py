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
            return _import_package(examples_dir() / "ipc-2020-total-order" / name,
                                   "_gtpyhop_ipc_" + name.replace("-", "_"))
        del gtpyhop
        return importlib.import_module("gtpyhop.examples." + name.removesuffix(".py"))


def _import_package(path: Path, modname: str) -> Any:
    """Import the example package at ``path`` against the installed gtpyhop, as ``modname``."""
    spec = importlib.util.spec_from_file_location(
        modname, path / "__init__.py", submodule_search_locations=[str(path)])
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    return module


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


# -- every example package that ships problems (get_problems), GTPyhop 2.0.2's and later ---------
# Scenarios GTPyhop itself needs seconds to minutes for (memory_tracking's larger data sets): the
# default test run skips them, the slow run takes them. Its scenario_20 is the package's own
# "2 GB+, use with caution" stress test: neither runs it.
# Importing that package builds every scenario's state, scenario_20's included (GBs): its
# scenarios are listed here so that collecting the tests does not import it.
SLOW_PACKAGES = {"memory_tracking/scalable_data_processing": tuple(f"scenario_{i:02d}" for i in range(1, 20))}
# Scenarios of fast packages that still take GTPyhop seconds to minutes (the plan-and-act loops
# copy the whole state per command): slow tests only.
SLOW_SCENARIOS = {"memory_tracking/scalable_recursive_decomposition": frozenset(
    f"scenario_{i:02d}" for i in range(4, 40))}
NEVER_RUN = {"memory_tracking/scalable_data_processing": frozenset({"scenario_20"})}
MODES = ("find_plan", "session", "session_lazy_lookahead", "lazy_lookahead")


@functools.cache
def problem_packages() -> tuple[str, ...]:
    """Package paths (relative to the examples folder) that define domain + get_problems."""
    root = examples_dir()
    return tuple(sorted(str(p.parent.relative_to(root)) for p in root.rglob("problems.py")
                        if "ipc-2020" not in str(p) and (p.parent / "__init__.py").is_file()))


@functools.cache
def package_module(rel: str, side: str) -> Any:
    path = examples_dir() / rel
    with quiet():
        if side == "aria":
            return load_gtpyhop(path)
        return _import_package(path, "_gtpyhop_pkg_" + rel.replace("/", "_").replace("-", "_"))


def package_scenarios(rel: str) -> list[str]:
    never = NEVER_RUN.get(rel, frozenset())
    return [s for s in package_module(rel, "peer").get_problems() if s not in never]


def _api(side: str) -> Any:
    if side == "aria":
        return pyhop
    import gtpyhop  # gtpyhop: as in examples_dir
    return gtpyhop


def run_scenario(rel: str, scenario: str, side: str, mode: str = "find_plan",
                 strategy: str = PEER_STRATEGY) -> Any:
    """Plan (or plan and act) one scenario on one side; a comparable outcome (exceptions included)."""
    api = _api(side)
    module = package_module(rel, side)
    state, todo = module.get_problems()[scenario][:2]
    todo = list(todo)
    with quiet():
        api.set_recursive_planning(strategy)
        api.set_verbose_level(0)
        api.set_current_domain(module.the_domain)
        try:
            if mode == "find_plan":
                return api.find_plan(state, todo)
            if mode == "lazy_lookahead":
                final = api.run_lazy_lookahead(state, todo)
                return ("final", {k: v for k, v in vars(final).items() if k != "__name__"})
            with api.PlannerSession(domain=module.the_domain, verbose=0, strategy=strategy) as session, \
                    session.isolated_execution():
                if mode == "session":
                    r = session.find_plan(state, todo)
                    valid = r.success and api.validate_plan_from_goal(state, r.plan)
                    return (r.success, r.plan, r.error, valid)
                e = session.run_lazy_lookahead(state, todo)
                final = {k: v for k, v in vars(e.final_state).items() if k != "__name__"}
                return (e.success, e.executed_actions, e.error, e.tries_used, final)
        except RecursionError:
            return "RecursionError"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
