"""Every example package GTPyhop ships with problems (``get_problems``), every scenario, through
GTPyhop and through Aria, with each planning strategy and both acting loops: same outcome.

The packages are loaded unmodified on both sides (Aria's through ``load_gtpyhop``). An outcome is
the plan (or False), GTPyhop's own exception (type and message), the session API's result fields,
or the final state of a plan-and-act loop. GTPyhop's recursive strategy runs in a thread with a
deep stack so that it finishes where Python's default recursion limit would stop it.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest

from aria_actors.engine import gtpyhop_suite as suite

pytestmark = pytest.mark.skipif(not suite.available(), reason="gtpyhop (the peer) is not installed")


def _cases() -> list[Any]:
    if not suite.available():
        return []
    cases = []
    for rel in suite.problem_packages():
        slow = rel in suite.SLOW_PACKAGES
        slow_ones = suite.SLOW_SCENARIOS.get(rel, frozenset())
        for scenario in suite.SLOW_PACKAGES[rel] if slow else suite.package_scenarios(rel):
            marks = [pytest.mark.slow] if slow or scenario in slow_ones else []
            cases.append(pytest.param(rel, scenario, marks=marks, id=f"{rel}:{scenario}"))
    return cases


CASES = _cases()
RUNS = [("find_plan", "iterative_dfs_backtracking"), ("find_plan", "iterative_greedy"),
        ("find_plan", "recursive_dfs"), ("session", "iterative_dfs_backtracking"),
        ("session", "iterative_greedy"), ("session_lazy_lookahead", "iterative_dfs_backtracking"),
        ("lazy_lookahead", "iterative_dfs_backtracking")]


def _deep(fn: Any) -> Any:
    """Run ``fn`` in a thread with a 1 GiB stack and a high recursion limit (GTPyhop recurses once
    per todo item under recursive_dfs)."""
    out: list[Any] = []
    old_limit, old_size = sys.getrecursionlimit(), threading.stack_size()
    sys.setrecursionlimit(1_000_000)
    threading.stack_size(1 << 30)
    try:
        t = threading.Thread(target=lambda: out.append(fn()))
        t.start()
        t.join()
    finally:
        threading.stack_size(old_size)
        sys.setrecursionlimit(old_limit)
    return out[0]


@pytest.mark.parametrize(("mode", "strategy"), RUNS, ids=[f"{m}-{s}" for m, s in RUNS])
@pytest.mark.parametrize(("package", "scenario"), CASES)
def test_scenario_same_outcome_as_gtpyhop(package: str, scenario: str, mode: str, strategy: str) -> None:
    def peer() -> Any:
        return suite.run_scenario(package, scenario, "peer", mode, strategy)

    expected = _deep(peer) if strategy == "recursive_dfs" else peer()
    got = suite.run_scenario(package, scenario, "aria", mode, strategy)
    assert got == expected


def test_every_package_is_covered() -> None:
    packages = suite.problem_packages()
    assert len(packages) >= 30, packages  # GTPyhop 2.0.2 ships 31 with problems
    fast = [p for p in packages if p not in suite.SLOW_PACKAGES]
    assert sum(len(suite.package_scenarios(p)) for p in fast) >= 130
    # The comparison turns exceptions into strings: make sure the harness itself works, i.e. the
    # peer plans nearly every scenario (a few are the packages' own negative controls).
    outcomes = [suite.run_scenario(p, s, "peer") for p in fast for s in suite.package_scenarios(p)
                if s not in suite.SLOW_SCENARIOS.get(p, ())]
    plans = [o for o in outcomes if isinstance(o, list)]
    assert len(plans) >= 0.9 * len(outcomes), [o for o in outcomes if not isinstance(o, list)][:5]
