from __future__ import annotations

import asyncio

import pytest

from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.spec import Status
from aria_actors.runtime.supervisor import Supervisor, SupervisorOptions
from aria_actors.runtime.testing import LocalLauncher, is_dead
from tests.fixtures.services import diamond, spec

FAST = SupervisorOptions(restart_backoff_s=0.001, restart_backoff_max_s=0.01, failure_threshold=2)


def make(specs, **kw) -> tuple[Supervisor, LocalLauncher]:
    launcher = LocalLauncher()
    return Supervisor(specs, launcher, FAST, is_dead=is_dead, **kw), launcher


async def test_boot_starts_dependencies_first() -> None:
    sup, launcher = make(diamond())
    status = await sup.boot()
    seq = {s["name"]: s["start_seq"] for s in status["services"]}
    assert seq["t_base"] < seq["t_left"] < seq["t_top"]
    assert seq["t_right"] < seq["t_top"]
    assert all(s["status"] == "ready" for s in status["services"])
    assert launcher.units["t_top"].service.dep_pids.keys() == {"t_left", "t_right"}


async def test_a_layers_later_wave_waits_for_its_own_dependencies_only(monkeypatch) -> None:
    # t_slow takes several probes to settle; t_after (same layer, needs only t_fast) starts
    # meanwhile; the next layer still waits for the whole layer.
    monkeypatch.setenv("ARIA_TEST_WARM_PROBES", "4")
    specs = [spec("t_base", 1), spec("t_slow", 2, ("t_base",), cls="WarmingService"),
             spec("t_fast", 2, ("t_base",)), spec("t_after", 2, ("t_fast",)), spec("t_next", 3)]
    sup, _ = make(specs)
    await sup.boot()
    slow, after, fast, nxt = (sup.service(n) for n in ("t_slow", "t_after", "t_fast", "t_next"))
    assert fast["ready_at"] <= after["started_at"] < slow["ready_at"]
    assert nxt["started_at"] >= max(slow["ready_at"], after["ready_at"])


async def test_failed_start_stays_failed_and_dependents_do_not_start() -> None:
    specs = diamond()
    specs[1] = spec("t_left", 2, ("t_base",), cls="FailingStartService")
    sup, launcher = make(specs)
    await sup.boot()
    left = sup.service("t_left")
    assert left["status"] == "failed"
    assert "/nonexistent is not writable" in left["last_error"]
    assert sup.service("t_top")["status"] == "pending"
    top = launcher.units["t_top"]
    assert not hasattr(top.service, "started_at")  # launched early, never started, then discarded
    assert not top.alive
    await sup.check_once()  # supervision does not retry a failed start by itself
    assert sup.service("t_left")["status"] == "failed" and not hasattr(top.service, "started_at")


async def test_dead_unit_is_restarted_and_dependents_degrade_meanwhile() -> None:
    sup, launcher = make(diamond())
    await sup.boot()
    old = launcher.units["t_left"]
    await old.kill()
    await sup.check_once()
    assert sup.service("t_left")["status"] == "failed"
    assert "died" in sup.service("t_left")["last_error"]
    assert sup.service("t_top")["status"] == "degraded"
    assert sup.service("t_top")["dependency_down"] == ["t_left"]
    await sup._restart_tasks["t_left"]
    assert launcher.units["t_left"] is not old
    await sup.check_once()
    assert sup.service("t_left")["status"] == "ready"
    assert sup.service("t_left")["restarts"] == 1
    assert sup.service("t_top")["status"] == "ready"
    assert launcher.units["t_top"].service.events(None) == [("t_left", False), ("t_left", True)]


async def test_a_unit_lost_with_its_dependency_counts_its_restart_once_started_again() -> None:
    # A node dies with a service and what it depends on: the dependent's restart first waits for
    # the dependency, and the start that comes after is still a restart (the counter stayed 0).
    sup, launcher = make(diamond())
    await sup.boot()
    old_base, old_left = launcher.units["t_base"], launcher.units["t_left"]
    await old_base.kill()
    await old_left.kill()
    await sup.check_once()
    for _ in range(200):  # restarts with backoff, the blocked one started once t_base is back
        await asyncio.sleep(0.01)
        await sup.check_once()
        if all(sup.service(n)["status"] == "ready" for n in ("t_base", "t_left", "t_top")):
            break
    left = sup.service("t_left")
    assert left["status"] == "ready" and launcher.units["t_left"] is not old_left
    assert left["restarts"] == 1 and sup.service("t_base")["restarts"] == 1
    assert sup.service("t_right")["restarts"] == 0  # alive all along: not restarted


async def test_failing_health_restarts_after_threshold(tmp_path, monkeypatch) -> None:
    sick = tmp_path / "sick"
    monkeypatch.setenv("ARIA_TEST_SICK_FILE", str(sick))
    sup, _launcher = make([spec("t_sw", 1, cls="SwitchableService")])
    await sup.boot()
    sick.touch()
    await sup.check_once()
    assert sup.service("t_sw")["status"] == "ready"  # one failed probe is tolerated
    await sup.check_once()
    assert sup.service("t_sw")["status"] == "failed"
    sick.unlink()
    await sup._restart_tasks["t_sw"]
    assert sup.service("t_sw")["restarts"] == 1
    assert sup.service("t_sw")["status"] == "ready"


async def test_manual_restart_retries_failed_start_and_starts_unblocked_dependents() -> None:
    specs = diamond()
    specs[1] = spec("t_left", 2, ("t_base",), cls="FailingStartService")
    sup, launcher = make(specs)
    await sup.boot()
    launcher.classes["t_left"] = __import__("tests.fixtures.services", fromlist=["x"]).CounterService
    await sup.restart("t_left")
    assert sup.service("t_left")["status"] == "ready"
    assert sup.service("t_top")["status"] == "ready"


async def test_shutdown_stops_in_reverse_order() -> None:
    sup, launcher = make(diamond())
    await sup.boot()
    stopped: list[str] = []
    for name, unit in launcher.units.items():
        original = unit.service.stop

        async def record(name=name, original=original) -> None:
            stopped.append(name)
            await original()

        unit.service.stop = record  # type: ignore[method-assign]
    status = await sup.shutdown()
    assert stopped.index("t_top") < stopped.index("t_left") < stopped.index("t_base")
    assert {s["status"] for s in status["services"]} == {"stopped"}


async def test_unknown_service_is_not_found() -> None:
    sup, _ = make(diamond())
    with pytest.raises(Exception, match="no service named 'nope'"):
        sup.service("nope")


async def test_all_fourteen_boot_honestly_in_process(tmp_path) -> None:
    from aria_actors.runtime.settings import AriaSettings

    sup = Supervisor(all_specs(), LocalLauncher(AriaSettings(home=tmp_path)), FAST, is_dead=is_dead)
    sup.launcher.classes = {s.name: _unbuilt_class(s) for s in all_specs()}
    status = await sup.boot()
    assert len(status["services"]) == 14
    for s in status["services"]:
        assert s["status"] == Status.NOT_IMPLEMENTED.value, s
        spec_ = next(x for x in all_specs() if x.name == s["name"])
        assert s["missing"] == [f for f in spec_.features if f not in spec_.capabilities]


def _unbuilt_class(spec_):
    from aria_actors.runtime.service import UnbuiltService

    return type("U", (UnbuiltService,), {"SPEC": spec_})


class SlowLauncher(LocalLauncher):
    """Launching ``slow`` takes longer than the start timeout."""

    def __init__(self, slow: str) -> None:
        super().__init__()
        self.slow = slow

    async def launch(self, spec_):
        if spec_.name == self.slow:
            await asyncio.sleep(10)
        return await super().launch(spec_)


async def test_a_launch_that_times_out_fails_that_service_and_the_boot_settles() -> None:
    options = SupervisorOptions(start_timeout_s=0.05, restart_backoff_s=0.001)
    sup = Supervisor(diamond(), SlowLauncher("t_right"), options, is_dead=is_dead)
    status = await sup.boot()
    assert status["phase"] == "running"
    assert sup.service("t_right")["status"] == "failed" and sup.service("t_right")["last_error"] == "timed out"
    assert sup.service("t_left")["status"] == "ready" and sup.service("t_top")["status"] == "pending"


async def test_manual_restart_supersedes_a_pending_automatic_one() -> None:
    sup, launcher = make(diamond())
    await sup.boot()
    await launcher.units["t_left"].kill()
    sup.options = SupervisorOptions(restart_backoff_s=5, restart_backoff_max_s=5)
    await sup.check_once()
    assert "t_left" in sup._restart_tasks
    await sup.restart("t_left")
    assert sup.service("t_left")["status"] == "ready" and sup.service("t_left")["restarts"] == 1
    assert "t_left" not in sup._restart_tasks


async def test_nothing_restarts_once_shutdown_began() -> None:
    sup, launcher = make(diamond())
    await sup.boot()
    await sup.shutdown()
    before = list(launcher.launched)
    await sup.restart("t_left")
    await sup.check_once()
    assert launcher.launched == before
    assert {s["status"] for s in sup.status()["services"]} == {"stopped"}


async def test_a_failed_first_health_check_is_a_failed_start(tmp_path, monkeypatch) -> None:
    sick = tmp_path / "sick"
    sick.touch()
    monkeypatch.setenv("ARIA_TEST_SICK_FILE", str(sick))
    sup, _ = make([spec("t_sw", 1, cls="SwitchableService")])
    await sup.boot()
    svc = sup.service("t_sw")
    assert svc["status"] == "failed" and "sick file present" in svc["last_error"]


async def test_automatic_restart_waits_for_a_dependency_that_is_down() -> None:
    sup, launcher = make(diamond())
    await sup.boot()
    await launcher.units["t_base"].kill()
    await launcher.units["t_left"].kill()
    await sup.check_once()
    await asyncio.gather(*list(sup._restart_tasks.values()))
    # t_base came back first or t_left waited for it: never started on a dead dependency.
    left = sup.service("t_left")
    assert left["status"] in ("ready", "pending")
    if left["status"] == "ready":
        assert sup.service("t_base")["ready_at"] <= left["started_at"]
    await sup.check_once()
    assert sup.service("t_left")["status"] == "ready" and sup.service("t_top")["status"] == "ready"


async def test_dependents_wait_until_a_started_service_stops_saying_starting() -> None:
    specs = [spec("t_warm", 1, cls="WarmingService"), spec("t_user", 2, ("t_warm",))]
    sup, launcher = make(specs)
    status = await sup.boot()
    # The boot itself waited for the load (no health-loop round needed), then started t_user.
    assert [s["status"] for s in status["services"]] == ["ready", "ready"]
    warm = launcher.units["t_warm"].service
    assert warm.probes_left == 0  # three "starting" answers were waited out
    assert sup.service("t_warm")["ready_at"] <= launcher.units["t_user"].service.started_at


async def test_a_service_that_never_finishes_starting_fails_after_the_start_timeout(monkeypatch) -> None:
    monkeypatch.setenv("ARIA_TEST_WARM_FOREVER", "1")
    specs = [spec("t_warm", 1, cls="WarmingService"), spec("t_user", 2, ("t_warm",))]
    launcher = LocalLauncher()
    sup = Supervisor(specs, launcher, SupervisorOptions(start_timeout_s=0.3), is_dead=is_dead)
    await sup.boot()
    warm = sup.service("t_warm")
    assert warm["status"] == "failed"
    assert "still starting after" in warm["last_error"] and "loading model" in warm["last_error"]
    assert sup.service("t_user")["status"] == "pending"


async def test_a_successor_supervisor_remembers_restarts_errors_and_adopted_uptime() -> None:
    first, launcher = make(diamond())
    await first.boot()
    await launcher.units["t_left"].kill()
    await first.check_once()
    await first._restart_tasks["t_left"]
    history = first.history()
    assert history["t_left"]["restarts"] == 1 and "died" in history["t_left"]["last_error"]

    successor, _ = make(diamond())
    successor.remember(history)
    await successor.boot()
    successor.remember(history, times_of={"t_base"})  # t_base's unit was adopted, t_left's re-made
    left, base = successor.service("t_left"), successor.service("t_base")
    assert left["restarts"] == 1 and "died" in left["last_error"]
    assert left["ready_at"] > history["t_left"]["ready_at"]  # a new unit: its own uptime
    assert base["ready_at"] == history["t_base"]["ready_at"]  # adopted: uptime carries over


async def test_units_lost_with_the_predecessor_count_as_restarts() -> None:
    # The boot actor ran on a node that died with some of its services: the rebuilt one adopts
    # what still runs and starts the rest again, which the counters must show (they stayed 0).
    first, _ = make(diamond())
    await first.boot()
    history = first.history()
    assert all(h["restarts"] == 0 for h in history.values())

    successor, _ = make(diamond())
    successor.remember(history)
    await successor.boot()
    successor.remember(history, times_of={"t_base"})
    others = sorted(set(history) - {"t_base"})
    assert sorted(successor.count_replaced(history, adopted={"t_base"})) == others
    restarts = {s["name"]: s["restarts"] for s in successor.status()["services"]}
    assert restarts == {"t_base": 0, **dict.fromkeys(others, 1)}
    assert "boot actor was down" in successor.service("t_left")["last_error"]
    # A service that had never been up before is a first start, not a restart.
    fresh, _ = make(diamond())
    await fresh.boot()
    assert fresh.count_replaced({"t_left": {"restarts": 0, "ready_at": None}}, adopted=()) == []


async def test_units_are_launched_in_start_order() -> None:
    # Ray hands out worker processes in request order: the first layer's launch must come first
    # even when the specs are listed the other way round.
    launched: list[str] = []

    class RecordingLauncher(LocalLauncher):
        async def launch(self, spec_):
            launched.append(spec_.name)
            return await super().launch(spec_)

    sup = Supervisor(list(reversed(diamond())), RecordingLauncher(), FAST, is_dead=is_dead)
    await sup.boot()
    assert launched == [name for wave in sup.waves for name in wave]
    assert launched[0] == "t_base" and launched[-1] == "t_top"


async def test_waves_are_launched_only_launch_ahead_waves_before_their_start() -> None:
    # A CPU-bound boot starts the first layers faster when later processes are not all starting.
    started_when_launched: dict[str, set[str]] = {}

    class RecordingLauncher(LocalLauncher):
        async def launch(self, spec_):
            started_when_launched[spec_.name] = {
                n for n, u in self.units.items() if hasattr(u.service, "started_at")}
            return await super().launch(spec_)

    options = SupervisorOptions(launch_ahead=1)
    sup = Supervisor(diamond(), RecordingLauncher(), options, is_dead=is_dead)
    await sup.boot()
    assert started_when_launched["t_base"] == set()
    assert started_when_launched["t_left"] == started_when_launched["t_right"] == {"t_base"}
    assert started_when_launched["t_top"] == {"t_base", "t_left", "t_lone", "t_right"}
    assert all(s["status"] == "ready" for s in sup.status()["services"])
