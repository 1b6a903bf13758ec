"""The boot actor on a real Ray: order, restart after ray.kill, failed starts, degraded dependents."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from aria_actors.runtime.boot import get_or_create_boot
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.settings import AriaSettings
from tests.fixtures.services import diamond, spec

pytestmark = pytest.mark.usefixtures("ray_session")


def wait_for(probe: Callable[[], Any], what: str, limit_s: float = 90.0) -> Any:
    """Poll until probe() is truthy; the limit only bounds a hang, it asserts nothing about speed."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def boot_with(tmp_path):
    import ray

    made = []

    def _make(specs) -> tuple[Any, str]:
        prefix = f"t{uuid.uuid4().hex[:6]}_"
        specs = [s.__class__(**{**_fields(s), "name": prefix + s.name,
                                "depends_on": tuple(prefix + d for d in s.depends_on)}) for s in specs]
        settings = AriaSettings(home=tmp_path, namespace="aria-test", health_interval_s=0.2,
                                restart_backoff_s=0.1)
        boot = get_or_create_boot(settings, specs, name=f"{prefix}boot")
        made.append(boot)
        ray.get(boot.up.remote(wait=True))
        return boot, prefix

    yield _make
    for boot in made:
        ray.get(boot.down.remote())
        ray.kill(boot)


def _fields(s) -> dict[str, Any]:
    return {f: getattr(s, f) for f in s.__dataclass_fields__}


def by_name(boot) -> dict[str, dict[str, Any]]:
    import ray

    return {s["name"]: s for s in ray.get(boot.status.remote())["services"]}


def test_boot_order_respects_dependencies(boot_with) -> None:
    boot, p = boot_with(diamond())
    svc = by_name(boot)
    assert {s["status"] for s in svc.values()} == {"ready"}
    for s in svc.values():
        for dep in s["depends_on"]:
            assert svc[dep]["started_at"] < s["started_at"], (dep, s["name"])
    assert svc[p + "t_top"]["details"]["deps"].keys() == {p + "t_left", p + "t_right"}
    assert svc[p + "t_base"]["node"] and svc[p + "t_base"]["pid"]


def test_killed_actor_is_restarted_and_dependents_recover(boot_with) -> None:
    import ray

    boot, p = boot_with(diamond())
    victim = p + "t_left"
    old_pid = by_name(boot)[victim]["pid"]
    ray.kill(ray.get_actor(victim, namespace="aria-test"))
    wait_for(lambda: by_name(boot)[victim]["restarts"] == 1 and by_name(boot)[victim]["status"] == "ready",
             "the killed service to come back")
    after = by_name(boot)
    assert after[victim]["pid"] != old_pid
    assert "died" in after[victim]["last_error"]
    wait_for(lambda: by_name(boot)[p + "t_top"]["status"] == "ready", "the dependent to recover")
    # The restarted actor answers calls again through the registry.
    handle = ray.get_actor(victim, namespace="aria-test")
    assert ray.get(handle.call.remote("incr", (Principal.operator(), 2), {})) == 2


def test_failed_start_stays_failed_and_dependents_do_not_start(boot_with) -> None:
    import ray

    specs = diamond()
    specs[1] = spec("t_left", 2, ("t_base",), cls="FailingStartService")
    boot, p = boot_with(specs)
    svc = by_name(boot)
    assert svc[p + "t_left"]["status"] == "failed"
    assert "/nonexistent is not writable" in svc[p + "t_left"]["last_error"]
    assert svc[p + "t_top"]["status"] == "pending" and svc[p + "t_top"]["started_at"] is None
    with pytest.raises(ValueError):
        ray.get_actor(p + "t_top", namespace="aria-test")
    ray.get(boot.check_now.remote())
    assert by_name(boot)[p + "t_left"]["status"] == "failed"


def test_crashed_boot_actor_is_restarted_by_ray_and_adopts_running_services(boot_with) -> None:
    import ray

    boot, p = boot_with(diamond())
    victim = p + "t_left"  # restarted once before the crash: the count must survive it
    ray.kill(ray.get_actor(victim, namespace="aria-test"))
    wait_for(lambda: by_name(boot)[victim]["restarts"] == 1 and by_name(boot)[victim]["status"] == "ready",
             "the killed service to come back")
    ray.get(boot.check_now.remote())
    before = by_name(boot)
    ray.kill(boot, no_restart=False)  # a crash: Ray's max_restarts brings it back
    wait_for(lambda: _settled(boot), "the restarted boot actor to settle")
    after = by_name(boot)
    assert {s["status"] for s in after.values()} == {"ready"}
    assert {n: s["pid"] for n, s in after.items()} == {n: s["pid"] for n, s in before.items()}
    # The adopted services keep their uptime (their history lives in the GCS, not in the actor).
    assert {n: s["ready_at"] for n, s in after.items()} == {n: s["ready_at"] for n, s in before.items()}
    assert after[victim]["restarts"] == 1 and "died" in after[victim]["last_error"]


def _settled(boot) -> bool:
    import ray

    try:
        status = ray.get(boot.status.remote(), timeout=5)
        return status["boot"]["reconstructed"] and status["phase"] == "running"
    except ray.exceptions.RayError:  # unavailable while Ray restarts it
        return False
