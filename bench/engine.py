"""aria_engine against GTPyhop 2.0.2 on GTPyhop's bundled examples and IPC-2020 problems.

Run: ``.venv/bin/python bench/engine.py [--quick] [--no-pool]``

Semantics on both sides (stated per suite):
  - example packages: every scenario of every package with problems, find_plan under
    ``iterative_dfs_backtracking`` on both sides (Aria's ``dfs_eager``: all methods of a choice
    point evaluated up front, as GTPyhop does).
  - random blocksworld: GTPyhop's blocks_hgn on random 150- and 300-block problems (3 each).
  - examples: each example's own regression run (``main_legacy``), every find_plan call recorded
    and compared; GTPyhop under ``recursive_dfs`` (recursion limit raised so blocks_hgn finishes),
    Aria under the same strategy name (its iterative DFS).
  - ipc-greedy: every IPC problem under GTPyhop's default ``iterative_greedy`` on both sides.
  - ipc-dfs: depth-first search with backtracking (GTPyhop ``iterative_dfs_backtracking``) on the
    problems greedy solves (the others make plain DFS explode on both sides).
  - plan_many: throughput of the Ray planner pool with 1, 2 and 4 actors (Aria only; GTPyhop has
    no parallel planner, so its line shows sequential in-process planning of the same requests).
Plans must be identical; a mismatch is printed and makes the script exit 1. Nothing about time is
asserted. In-process suites report CPU time (``time.process_time``) of this single-threaded
process, because the shared machine's load makes wall times swing by 2-3x between runs;
plan_many reports wall time (its work happens in other processes).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

# bench/ holds files named after stdlib modules (queue.py): put the repo root first instead of it.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from aria_actors.engine import gtpyhop_suite as suite  # noqa: E402
from aria_actors.engine import planner  # noqa: E402


def line(name: str, aria: float, peer: float, extra: str = "") -> None:
    ratio = peer / aria if aria > 0 else float("inf")
    print(f"{name}: aria {aria:.4f}s, peer {peer:.4f}s, ratio {ratio:.1f}{extra}", flush=True)


def differs(got: object, expected: object) -> str:
    """Where two outcomes part: the first differing plan step, or both outcomes when not plans."""
    if isinstance(got, list) and isinstance(expected, list):
        for i, (a, b) in enumerate(zip(got, expected, strict=False)):
            if a != b:
                return f"step {i}: aria {a!r}, peer {b!r}"
        return f"lengths: aria {len(got)}, peer {len(expected)}"
    return f"aria {got!r:.120}, peer {expected!r:.120}"


def bench_examples(totals: list[float], mismatches: list[str]) -> None:
    aria_t = peer_t = 0.0
    for name in suite.EXAMPLES:
        suite.aria_module(name)
        suite.peer_module(name)
        t = time.process_time()
        with suite.deep_recursion():
            peer = suite.run_example_peer(name, "recursive_dfs")
        peer_t += time.process_time() - t
        t = time.process_time()
        aria = suite.run_example_aria(name, "recursive_dfs")
        aria_t += time.process_time() - t
        if aria.calls != peer.calls:
            first = next((i for i, (a, b) in enumerate(zip(aria.calls, peer.calls, strict=False))
                          if a != b),
                         min(len(aria.calls), len(peer.calls)))
            mismatches.append(f"example {name} (find_plan call {first} of {len(peer.calls)} differs)")
    line("examples (8 files, recursive_dfs)", aria_t, peer_t)
    totals[0] += aria_t
    totals[1] += peer_t


def bench_ipc(domain: str, quick: bool, totals: list[float], mismatches: list[str]) -> None:
    ids = suite.ipc_problem_ids(domain)
    if quick:
        ids = ids[:6]
    solved = []
    for strategy, label in (("iterative_greedy", "greedy"), ("iterative_dfs_backtracking", "dfs")):
        aria_t = peer_t = 0.0
        count = 0
        for pid in ids if label == "greedy" else solved:
            peer_domain, peer_state, peer_todo = suite.ipc_problem(domain, pid, "peer")
            aria_domain, aria_state, aria_todo = suite.ipc_problem(domain, pid, "aria")
            t = time.process_time()
            expected = suite.peer_find_plan(peer_domain, peer_state, peer_todo, strategy)
            peer_t += time.process_time() - t
            t = time.process_time()
            got = planner.find_plan(aria_domain, aria_state, aria_todo,
                                    strategy="greedy" if label == "greedy" else "dfs_eager")
            aria_t += time.process_time() - t
            count += 1
            if (got.plan if got else False) != expected:
                mismatches.append(f"{domain} {pid} {label} ({differs(got.plan if got else False, expected)})")
            if label == "greedy" and expected:
                solved.append(pid)
        line(f"ipc {domain} {label} ({count} problems)", aria_t, peer_t)
        totals[0] += aria_t
        totals[1] += peer_t


def bench_packages(totals: list[float], mismatches: list[str]) -> None:
    """Every example package with problems (get_problems), each scenario, find_plan under
    iterative_dfs_backtracking on both sides (memory_tracking's data-processing package, minutes
    of GTPyhop time per scenario and GBs to import, is left to the slow tests)."""
    aria_t = peer_t = 0.0
    count = 0
    for rel in suite.problem_packages():
        if rel in suite.SLOW_PACKAGES:
            continue
        for scenario in suite.package_scenarios(rel):
            t = time.process_time()
            expected = suite.run_scenario(rel, scenario, "peer")
            peer_t += time.process_time() - t
            t = time.process_time()
            got = suite.run_scenario(rel, scenario, "aria")
            aria_t += time.process_time() - t
            count += 1
            if got != expected:
                mismatches.append(f"{rel} {scenario} ({differs(got, expected)})")
    line(f"example packages ({count} scenarios, iterative_dfs_backtracking)", aria_t, peer_t)
    totals[0] += aria_t
    totals[1] += peer_t


def _random_blocks(api: object, n: int, seed: int) -> tuple[object, object]:
    """A random blocks-world problem of ``n`` blocks (towers built at random, start and goal)."""
    rng = random.Random(seed)

    def towers() -> dict[str, str]:
        blocks = [f"b{i}" for i in range(n)]
        rng.shuffle(blocks)
        pos: dict[str, str] = {}
        tops: list[str] = []
        for b in blocks:
            pos[b] = tops.pop(rng.randrange(len(tops))) if tops and rng.random() < 0.7 else "table"
            tops.append(b)
        return pos

    start, goal = towers(), towers()
    clear = {b: b not in start.values() for b in start}
    state = api.State("random", pos=start, clear=clear, holding={"hand": False})  # type: ignore[attr-defined]
    multigoal = api.Multigoal("goal")  # type: ignore[attr-defined]
    multigoal.pos = goal
    return state, multigoal


def bench_random_blocks(sizes: tuple[int, ...], totals: list[float], mismatches: list[str]) -> None:
    """GTPyhop's blocks_hgn domain on random problems: many small actions, few methods."""
    import gtpyhop

    from aria_actors.engine import pyhop

    peer_domain = suite.peer_module("blocks_hgn").the_domain
    aria_domain = suite.aria_module("blocks_hgn").the_domain
    for n in sizes:
        aria_t = peer_t = 0.0
        for seed in range(3):
            state, goal = _random_blocks(gtpyhop, n, seed)
            t = time.process_time()
            expected = suite.peer_find_plan(peer_domain, state, [goal], "iterative_dfs_backtracking")
            peer_t += time.process_time() - t
            state, goal = _random_blocks(pyhop, n, seed)
            t = time.process_time()
            got = planner.find_plan(aria_domain, state, [goal], strategy="dfs_eager")
            aria_t += time.process_time() - t
            if (got.plan if got else False) != expected:
                mismatches.append(f"random blocks {n} seed {seed} "
                                  f"({differs(got.plan if got else False, expected)})")
        line(f"random blocksworld {n} blocks (blocks_hgn, 3 problems, iterative_dfs_backtracking)",
             aria_t, peer_t)
        totals[0] += aria_t
        totals[1] += peer_t


def _maze(api: object, depth: int) -> object:
    """A domain whose first method explores 2**depth dead ends; built through a GTPyhop-like API."""
    d = api.Domain(f"maze_{depth}")  # type: ignore[attr-defined]

    def step(s, where):  # type: ignore[no-untyped-def]
        s.path["me"] = (*s.path["me"], where)
        return s

    def door(s):  # type: ignore[no-untyped-def]
        return None

    def leave(s):  # type: ignore[no-untyped-def]
        s.out["me"] = True
        return s

    def m_corridor(s, n):  # type: ignore[no-untyped-def]
        return [("explore", n)]

    def m_leave(s, n):  # type: ignore[no-untyped-def]
        return [("leave",)]

    def m_left(s, n):  # type: ignore[no-untyped-def]
        return [("step", f"L{n}"), ("explore", n - 1)] if n > 0 else False

    def m_right(s, n):  # type: ignore[no-untyped-def]
        return [("step", f"R{n}"), ("explore", n - 1)] if n > 0 else False

    def m_door(s, n):  # type: ignore[no-untyped-def]
        return [("door",)] if n == 0 else False

    api.declare_actions(step, door, leave)  # type: ignore[attr-defined]
    api.declare_task_methods("escape", m_corridor, m_leave)  # type: ignore[attr-defined]
    api.declare_task_methods("explore", m_left, m_right, m_door)  # type: ignore[attr-defined]
    return d


def bench_learning(depth: int) -> None:
    """plan-learning: the same problem planned 20 times; Aria with its method-choice cache."""
    import gtpyhop

    from aria_actors.engine import pyhop
    from aria_actors.engine.learning import MethodCache

    with suite.quiet():
        peer_domain = _maze(gtpyhop, depth)
        aria_domain = _maze(pyhop, depth)
    todo = [("escape", depth)]
    t = time.process_time()
    for _ in range(20):
        expected = suite.peer_find_plan(peer_domain, gtpyhop.State("s", path={"me": ()}, out={"me": False}),
                                        todo, "recursive_dfs")
    peer_t = time.process_time() - t
    t = time.process_time()
    for _ in range(20):
        planner.find_plan(aria_domain, pyhop.State("s", path={"me": ()}, out={"me": False}), todo)
    cold_t = time.process_time() - t
    cache = MethodCache()
    t = time.process_time()
    first_t = 0.0
    for i in range(20):
        r = planner.find_plan(aria_domain, pyhop.State("s", path={"me": ()}, out={"me": False}), todo,
                              record_tree=True, method_order=cache.order)
        cache.learn(r)
        if i == 0:
            first_t = time.process_time() - t
    warm_t = time.process_time() - t
    same = r.plan == expected
    line(f"plan-learning maze depth {depth}, 20 plans, no cache", cold_t, peer_t)
    line(f"plan-learning maze depth {depth}, first plan, cold cache (tree recorded)", first_t,
         peer_t / 20)
    line(f"plan-learning maze depth {depth}, 20 plans, method cache ({cache.hits} hits, "
         f"same plan: {'yes' if same else 'NO'})", warm_t, peer_t)


def bench_pool(quick: bool) -> None:
    try:
        import ray

        from aria_actors.engine.pool import PlannerPool
        from aria_actors.engine.runner import PlanRequest
    except ImportError as exc:
        print(f"plan_many: skipped ({exc})")
        return
    domain = "Childsnack"
    ids = suite.ipc_problem_ids(domain)[: 8 if quick else 16]
    requests = [PlanRequest(domain="childsnack", problem=pid, strategy="greedy") for pid in ids] * 2
    t = time.perf_counter()
    for req in requests:
        d, s, todo = suite.ipc_problem(domain, req.problem or "", "peer")
        suite.peer_find_plan(d, s, todo, "iterative_greedy")
    peer_t = time.perf_counter() - t
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        for size in (1, 2, 4):
            pool = PlannerPool(size=size, specs={"childsnack": "gtpyhop-example:Childsnack"})
            pool.plan_many(requests[:2])  # warm the actors (imports, domain loading)
            t = time.perf_counter()
            results = pool.plan_many(requests)
            aria_t = time.perf_counter() - t
            ok = sum(1 for r in results if r["status"] == "found")
            line(f"plan_many {size} actor(s) ({len(requests)} Childsnack plans, {ok} found, "
                 f"{len(requests) / aria_t:.1f} plans/s)", aria_t, peer_t, " (peer: sequential gtpyhop)")
            pool.shutdown()
    finally:
        ray.shutdown()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="first problems of each IPC domain only")
    ap.add_argument("--no-pool", action="store_true", help="skip the Ray plan_many benchmark")
    args = ap.parse_args()
    if not suite.available():
        print("gtpyhop is not installed; nothing to compare against")
        return 1
    totals = [0.0, 0.0]
    mismatches: list[str] = []
    bench_examples(totals, mismatches)
    bench_packages(totals, mismatches)
    for domain in suite.IPC_DOMAINS:
        bench_ipc(domain, args.quick, totals, mismatches)
    bench_random_blocks((150,) if args.quick else (150, 300), totals, mismatches)
    line("overall (examples, packages, IPC, random blocksworld)", totals[0], totals[1])
    print(f"identical plans: {'yes' if not mismatches else 'NO: ' + ', '.join(mismatches)}")
    bench_learning(10 if args.quick else 12)
    if not args.no_pool:
        bench_pool(args.quick)
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
