"""ShapeService in a Ray actor generates through its Serve applications: one per model version,
scaled from zero, A/B split with per-version metrics, promotion deletes the loser's application."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

PROMPT = "Traits: brave, kind.\nDescription:"


def _inference_apps() -> set[str]:
    from ray import serve

    from aria_actors.shape.inference.backends.serve import PREFIX

    return {n for n in serve.status().applications if n.startswith(PREFIX)}


def _gone(pid: int, wait_s: float = 10.0) -> bool:
    """The process ``pid`` ended (zombies count as ended) within ``wait_s``."""
    import time

    import psutil

    deadline = time.monotonic() + wait_s
    while True:
        try:
            alive = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            alive = False
        if not alive or time.monotonic() >= deadline:
            return not alive
        time.sleep(0.1)


def _until(check, wait_s: float = 30.0) -> bool:
    """``check()`` came true within ``wait_s`` (a Serve deletion is asynchronous)."""
    import time

    deadline = time.monotonic() + wait_s
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def serve_stale_app(name: str) -> str:
    """An application deployed under ``name`` with no replica (no process to start)."""
    from ray import serve

    @serve.deployment(autoscaling_config={"min_replicas": 0, "max_replicas": 1, "initial_replicas": 0})
    class Stale:
        def __call__(self) -> str:
            return "stale"

    serve.run(Stale.bind(), name=name, route_prefix=None)
    return name


@pytest.fixture(scope="module")
def serve_running(ray_session):
    from ray import serve

    # No HTTP proxy: handles only (a proxy on a fixed port would clash on a shared machine).
    serve.start(proxy_location="Disabled")
    return serve


@pytest.fixture
def shape_actor(serve_running, fresh_database, tmp_path_factory):
    import ray

    home = tmp_path_factory.mktemp("shape-serve-home")
    from tests.fixtures.shape import ShapeHost

    host = ray.remote(ShapeHost).options(name="shape_serve_test").remote(str(home), fresh_database)
    ray.get(host.start.remote())
    yield host, home
    ray.get(host.stop.remote())
    ray.kill(host)


@pytest.mark.long  # two Serve deployments of a model (~30 s): in .ci/run
def test_generation_goes_through_serve_and_ab_promotes(shape_actor, tmp_path) -> None:
    import ray

    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.model import build_tiny, generate
    from aria_actors.shape.source import ModelSource

    host, home = shape_actor
    health = ray.get(host.health.remote())
    assert health["status"] == "ready", health
    assert health["details"]["inference"]["backend"] == "serve"
    assert health["details"]["inference"]["versions"]["base"]["state"] == "not deployed"
    assert _inference_apps() == set()  # nothing deployed, no model in the actor, at start
    assert ray.get(host.heavy_modules.remote()) == []
    # What an earlier actor left for a version no longer served (it died between storing a
    # promotion and deleting the loser): the first deploy of this actor deletes it.
    stale = serve_stale_app("aria_shape_inference_stale")

    # First use deploys aria_shape_inference_base; seeded requests are reproducible and match an
    # in-process generate() of the same model.
    seeded = ray.get(host.call.remote("complete", [PROMPT], max_new_tokens=6, seed=3))
    assert ray.get(host.call.remote("complete", [PROMPT], max_new_tokens=6, seed=3)) == seeded
    assert _until(lambda: _inference_apps() == {"aria_shape_inference_base"}), (_inference_apps(), stale)
    local = ModelSource.of(ShapeConfig(pretrain_steps=0, max_new_tokens=6), home).load()
    assert seeded == generate(local, [PROMPT], max_new_tokens=6, seed=3)
    state = ray.get(host.health.remote())["details"]["inference"]["versions"]["base"]
    assert state["state"] == "running" and state["replicas"] == 1, state
    assert ray.get(host.heavy_modules.remote()) == []  # the model lives in the replica's engine

    # Concurrent unseeded requests (batched in the replica), token streaming, embeddings.
    assert all(isinstance(t, str) for t in ray.get(host.burst.remote(6)))
    pieces, error = ray.get(host.stream.remote(PROMPT, 3))
    assert error is None and "".join(pieces) == seeded[0] and len(pieces) > 1
    [vec] = ray.get(host.call.remote("embed", ["a brave knight"]))
    assert len(vec) == 64 and abs(sum(x * x for x in vec) - 1) < 1e-4

    # A/B between the base model and a registered version: each has its own application; sticky.
    path = build_tiny(ShapeConfig(seed=1, pretrain_steps=0), tmp_path / "v1")
    ray.get(host.call.remote("register_model", "v1", str(path)))
    ray.get(host.call.remote("set_traffic", {"base": 1, "v1": 1}))
    served = [ray.get(host.call.remote("complete_ab", PROMPT, key=f"user-{k}", max_new_tokens=4))
              for k in range(10)]
    assert {s["version"] for s in served} == {"base", "v1"}
    again = ray.get(host.call.remote("complete_ab", PROMPT, key="user-3", max_new_tokens=4))
    assert again["version"] == served[3]["version"]
    assert _inference_apps() == {"aria_shape_inference_base", "aria_shape_inference_v1"}
    report = ray.get(host.call.remote("traffic_report"))
    counts = {v: m["requests"] for v, m in report["versions"].items()}
    assert counts == {v: sum(s["version"] == v for s in [*served, again]) for v in ("base", "v1")}
    assert all(m["tokens"] > 0 and m["tokens_per_s"] > 0 for m in report["versions"].values())
    ids = {s["version"]: s["response_id"] for s in served}  # feedback names a response served
    ray.get(host.call.remote("feedback", "base", ids["base"], 0.1))
    ray.get(host.call.remote("feedback", "v1", ids["v1"], 0.9))
    engines = {v: ray.get(host.call.remote("load_version", v))["engine_pid"] for v in ("base", "v1")}
    out = ray.get(host.call.remote("promote"))
    assert out["promoted"] == "v1" and out["removed"] == ["base"]
    assert _gone(engines["base"]) and not _gone(engines["v1"], wait_s=0)
    assert _inference_apps() == {"aria_shape_inference_v1"}
    assert ray.get(host.call.remote("complete_ab", PROMPT, max_new_tokens=3))["version"] == "v1"
    details = ray.get(host.health.remote())["details"]["inference"]
    assert details["served_version"] == "v1" and set(details["versions"]) == {"v1"}

    ray.get(host.stop.remote())
    assert _inference_apps() == set()  # stop deletes every application it made
    assert _gone(engines["v1"])  # the replicas' engine processes went with them


@pytest.mark.slow
def test_an_idle_version_scales_to_zero_and_back(serve_running, fresh_database, tmp_path) -> None:
    import time

    import ray

    from tests.fixtures.shape import ShapeHost

    host = ray.remote(ShapeHost).options(name="shape_serve_idle_test").remote(
        str(tmp_path), fresh_database, inference_idle_s=2)
    try:
        ray.get(host.start.remote())
        t0 = time.monotonic()
        first = ray.get(host.call.remote("complete", [PROMPT], max_new_tokens=4, seed=1))
        cold_s = time.monotonic() - t0
        state = None
        for _ in range(120):  # Serve's autoscaler: idle for 2 s, then down to zero
            state = ray.get(host.health.remote())["details"]["inference"]["versions"]["base"]
            if state["state"] == "scaled to zero":
                break
            time.sleep(0.5)
        assert state is not None and state["state"] == "scaled to zero", state
        assert ray.get(host.call.remote("complete", [PROMPT], max_new_tokens=4, seed=1)) == first
        state = ray.get(host.health.remote())["details"]["inference"]["versions"]["base"]
        assert state == {**state, "state": "running", "replicas": 1}
        print(f"first request (deploy + replica + engine + tiny model build): {cold_s:.1f}s")
    finally:
        ray.get(host.stop.remote())
        ray.kill(host)


@pytest.mark.slow
def test_min_replicas_keeps_the_served_version_warm_from_start(serve_running, fresh_database, tmp_path) -> None:
    import time

    import ray

    from tests.fixtures.shape import ShapeHost

    host = ray.remote(ShapeHost).options(name="shape_serve_warm_test").remote(
        str(tmp_path), fresh_database, inference_min_replicas=1)
    try:
        ray.get(host.start.remote())  # returns before the replica is up: the deployment is in the background
        state = None
        for _ in range(240):
            state = ray.get(host.health.remote())["details"]["inference"]["versions"]["base"]
            if state["state"] == "running":
                break
            time.sleep(0.5)
        assert state == {**state, "state": "running", "replicas": 1}, state
        assert ray.get(host.heavy_modules.remote()) == []
        engine = ray.get(host.call.remote("load_version", "base"))["engine_pid"]
        ray.get(host.call.remote("complete", [PROMPT], max_new_tokens=4))
        assert ray.get(host.call.remote("load_version", "base"))["engine_pid"] == engine  # the warm replica
    finally:
        ray.get(host.stop.remote())
        ray.kill(host)
    assert _inference_apps() == set()


@pytest.mark.slow
def test_a_new_actor_takes_over_the_running_application(serve_running, fresh_database, tmp_path) -> None:
    import ray

    from tests.fixtures.shape import ShapeHost

    first = ray.remote(ShapeHost).remote(str(tmp_path), fresh_database)
    ray.get(first.start.remote())
    engine = ray.get(first.call.remote("load_version", "base"))["engine_pid"]
    ray.kill(first)  # dies without stop: its application stays
    second = ray.remote(ShapeHost).remote(str(tmp_path), fresh_database)
    try:
        ray.get(second.start.remote())
        assert ray.get(second.call.remote("complete", [PROMPT], max_new_tokens=4, seed=2))
        assert ray.get(second.call.remote("load_version", "base"))["engine_pid"] == engine  # same replica
        assert not _gone(engine, wait_s=0)
    finally:
        ray.get(second.stop.remote())
        ray.kill(second)
    assert _inference_apps() == set() and _gone(engine)
