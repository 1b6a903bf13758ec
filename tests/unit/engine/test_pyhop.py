from __future__ import annotations

import threading

from aria_actors.engine import pyhop as gtpyhop


def _travel_domain(name: str, walk_name: str) -> gtpyhop.Domain:
    domain = gtpyhop.Domain(name)

    def walk(state: gtpyhop.State, who: str, where: str) -> gtpyhop.State:
        state.loc[who] = where
        return state

    walk.__name__ = walk_name
    gtpyhop.declare_actions(walk)

    def m_go(state: gtpyhop.State, who: str, where: str) -> list[tuple[str, ...]]:
        return [(walk_name, who, where)]

    gtpyhop.declare_task_methods("go", m_go)
    return domain


def test_module_attributes_behave_like_gtpyhop() -> None:
    d = _travel_domain("attrs", "walk")
    assert gtpyhop.current_domain is d
    assert gtpyhop.get_current_domain() is d
    gtpyhop.verbose = 0
    assert gtpyhop.get_verbose_level() == 0
    assert gtpyhop.find_domain_by_name("attrs") is d
    gtpyhop.set_recursive_planning("iterative_dfs_backtracking")
    state = gtpyhop.State("s", loc={"me": "home"})
    assert gtpyhop.find_plan(state, [("go", "me", "park")]) == [("walk", "me", "park")]
    session = gtpyhop.PlannerSession(domain=d, strategy="recursive_dfs")
    result = session.find_plan(state, [("go", "me", "park")])
    assert result.success and result.plan == [("walk", "me", "park")]
    bad = session.find_plan(state, [("fly", "me")])
    assert not bad.success and "fly" in bad.error


def test_current_domain_is_isolated_per_thread() -> None:
    gtpyhop.set_verbose_level(0)
    gtpyhop.set_recursive_planning("iterative_dfs_backtracking")
    errors: list[str] = []
    barrier = threading.Barrier(2)

    def worker(tag: str) -> None:
        _travel_domain(f"dom_{tag}", f"walk_{tag}")
        barrier.wait()  # both threads have now declared and set their own current domain
        state = gtpyhop.State("s", loc={"me": "home"})
        for _ in range(200):
            plan = gtpyhop.find_plan(state, [("go", "me", tag)])
            if plan != [(f"walk_{tag}", "me", tag)]:
                errors.append(f"{tag}: {plan}")
                return

    threads = [threading.Thread(target=worker, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_run_lazy_lookahead_replans_after_a_failed_command() -> None:
    d = _travel_domain("rll", "walk")
    attempts = {"n": 0}

    def c_walk(state: gtpyhop.State, who: str, where: str) -> gtpyhop.State | None:
        attempts["n"] += 1
        if attempts["n"] == 1:
            return None  # the first attempt fails in the "real world"
        state.loc[who] = where
        return state

    d.declare_commands(c_walk)
    gtpyhop.set_verbose_level(0)
    final = gtpyhop.run_lazy_lookahead(gtpyhop.State("s", loc={"me": "home"}), [("go", "me", "park")])
    assert final.loc["me"] == "park"
    assert attempts["n"] == 2
