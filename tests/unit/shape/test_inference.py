"""Inference backends and the service's routing over them, without Ray: the in-process backend,
the A/B split and promotion against a recording backend, Serve state and naming helpers."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status
from aria_actors.shape.config import ShapeConfig
from aria_actors.shape.errors import ModelLoadError, UnknownModelVersion, UnknownResponse
from aria_actors.shape.inference.backends.choose import in_ray_actor, make_backend
from aria_actors.shape.inference.backends.local import LocalBackend
from aria_actors.shape.inference.contract import Completion
from aria_actors.shape.source import ModelSource

OP = Principal.operator()  # every test here calls as the local operator

PROMPT = "Traits: brave.\nDescription:"


# -- LocalBackend (the real model, in this process) --------------------------------------------
async def test_local_backend_loads_on_first_use_and_reports_states(tiny_model_dir, tmp_path) -> None:
    pytest.importorskip("torch")
    backend = LocalBackend()
    backend.add("v", ModelSource.for_path(str(tiny_model_dir)))
    backend.add("broken", ModelSource.for_path(str(tmp_path / "missing")))
    states = await backend.states(1.0)
    assert states["v"]["state"] == "not loaded" and states["broken"]["state"] == "not loaded"

    out = await backend.complete("v", [PROMPT, PROMPT], max_new_tokens=5, seed=4)
    assert [c.version for c in out] == ["v", "v"] and all(0 < c.tokens <= 5 for c in out)
    assert await backend.complete("v", [PROMPT, PROMPT], max_new_tokens=5, seed=4) == out  # seeded
    pieces = [p async for p in backend.stream("v", PROMPT, max_new_tokens=5, seed=4)]
    assert "".join(pieces) == (await backend.complete("v", [PROMPT], max_new_tokens=5, seed=4))[0].text
    assert len((await backend.embed("v", ["x"]))[0]) == 64
    states = await backend.states(1.0)
    assert states["v"]["state"] == "loaded" and states["v"]["parameters"] > 0

    with pytest.raises(ModelLoadError):
        await backend.complete("broken", [PROMPT], max_new_tokens=2)
    assert backend.error("broken") and (await backend.states(1.0))["broken"]["state"] == "error"
    with pytest.raises(UnknownModelVersion):
        await backend.complete("nope", [PROMPT], max_new_tokens=2)
    await backend.remove("v")
    assert backend.versions() == ["broken"]


async def test_a_version_that_failed_to_load_answers_at_once_until_its_retry_time(monkeypatch) -> None:
    loads: list[str] = []

    def failing_load(self: ModelSource) -> None:
        loads.append(self.label)
        raise ModelLoadError("no weights", path=self.label)

    monkeypatch.setattr(ModelSource, "load", failing_load)
    clock = [1000.0]
    monkeypatch.setattr("aria_actors.shape.inference.contract.time.monotonic", lambda: clock[0])
    backend = LocalBackend(retry_s=30.0)
    backend.add("broken", ModelSource.for_path("/nowhere"))
    with pytest.raises(ModelLoadError):
        await backend.complete("broken", [PROMPT], max_new_tokens=2)
    clock[0] += 10
    with pytest.raises(ModelLoadError) as refused:
        await backend.complete("broken", [PROMPT], max_new_tokens=2)
    assert loads == ["/nowhere"]  # the second request did not try again
    assert refused.value.status == 503 and refused.value.fields["retry_after_s"] == 20.0
    assert "no weights" in refused.value.message
    clock[0] += 21
    with pytest.raises(ModelLoadError):
        await backend.complete("broken", [PROMPT], max_new_tokens=2)
    assert len(loads) == 2  # retried once the time passed
    backend.add("broken", ModelSource.for_path("/elsewhere"))  # a new source is tried at once
    with pytest.raises(ModelLoadError):
        await backend.complete("broken", [PROMPT], max_new_tokens=2)
    assert loads[-1] == "/elsewhere"


def test_outside_a_ray_actor_the_backend_is_local() -> None:
    assert not in_ray_actor()
    assert make_backend(ShapeConfig(), AriaSettings()).kind == "local"
    assert make_backend(ShapeConfig(inference="local"), AriaSettings()).kind == "local"


# -- routing in the service, against a recording backend ------------------------------------------
class RecordingBackend:
    """Answers like a backend ("<version>:<prompt>", 3 tokens) and records what it was asked."""

    kind = "recording"

    def __init__(self) -> None:
        self.sources: dict[str, ModelSource] = {}
        self.calls: list[tuple[str, str]] = []
        self.removed: list[str] = []
        self.errors: dict[str, str] = {}

    def add(self, version: str, source: ModelSource) -> None:
        self.sources[version] = source

    def versions(self) -> list[str]:
        return sorted(self.sources)

    async def ensure(self, version: str) -> dict[str, Any]:
        return {"parameters": 1}

    async def complete(self, version: str, prompts: list[str], **_: Any) -> list[Completion]:
        self.calls.append(("complete", version))
        return [Completion(f"{version}:{p}", 3, version) for p in prompts]

    async def embed(self, version: str, texts: list[str]) -> list[list[float]]:
        self.calls.append(("embed", version))
        return [[1.0] for _ in texts]

    async def stream(self, version: str, prompt: str, **_: Any):
        self.calls.append(("stream", version))
        for piece in (version, ":", "x"):
            yield piece

    async def remove(self, version: str) -> None:
        self.sources.pop(version)
        self.removed.append(version)

    async def states(self, timeout_s: float) -> dict[str, dict[str, Any]]:
        return {v: {"state": "error" if v in self.errors else "running", "model": s.label}
                for v, s in self.sources.items()}

    def error(self, version: str) -> str | None:
        return self.errors.get(version)

    async def close(self) -> None:
        self.sources.clear()


class MemoryModels:
    """The model-version records the routing reads (the real store is tested on Postgres)."""

    def __init__(self, paths: dict[str, str]) -> None:
        self.paths = paths

    async def model(self, model_id: str) -> dict[str, Any]:
        if model_id not in self.paths:
            raise UnknownModelVersion(f"no model version {model_id!r}", model_version=model_id)
        return {"id": model_id, "path": self.paths[model_id]}

    # What is served: kept as the last values written (the real store is tested on Postgres).
    serving_row: tuple[str, dict[str, float] | None, int] | None = None

    async def set_serving(self, version: str, weights: dict[str, float] | None, seed: int = 0,
                          feedback_key: bytes | None = None) -> None:
        self.serving_row = (version, weights, seed)
        self.scores: dict[tuple[str, str], float] = {}

    async def add_feedback(self, version: str, value: float, response_id: str,
                           scorer: str) -> tuple[bool, float | None]:
        if self.serving_row is None or version not in (self.serving_row[1] or {}):
            return False, None
        old = self.scores.get((scorer, version))
        self.scores[(scorer, version)] = value
        return True, old

    async def add_counts(self, deltas: dict[str, Any]) -> None:
        pass


@pytest.fixture
async def routed(tmp_path):
    from aria_actors.shape.service import ShapeService

    svc = ShapeService(AriaSettings(home=tmp_path), ShapeConfig())
    await svc.start(Deps())
    backend = RecordingBackend()
    svc._backend = backend
    backend.add("base", svc._base_source())
    svc._store = MemoryModels({"a": "/models/a", "b": "/models/b"})
    yield svc, backend
    await svc.stop()


async def test_without_a_split_everything_goes_to_the_served_version(routed) -> None:
    svc, backend = routed
    assert (await svc.describe(OP, ["brave"])).startswith("base:Traits: brave")
    assert (await svc.complete(OP, ["p"]))[0] == "base:p"
    assert (await svc.complete_ab(OP, "p"))["version"] == "base"
    assert {v for _, v in backend.calls} == {"base"}
    assert await svc.traffic_report(OP) is None


async def test_ab_split_routes_sticky_counts_per_version_and_promotes(routed) -> None:
    svc, backend = routed
    with pytest.raises(UnknownModelVersion):
        await svc.set_traffic(OP, {"a": 1, "zzz": 1})
    assert await svc.traffic_report(OP) is None  # nothing changed
    await svc.set_traffic(OP, {"a": 3, "b": 1})
    assert backend.sources["a"].label == "/models/a" and backend.sources["b"].label == "/models/b"
    served = [await svc.complete_ab(OP, "p", key=f"user-{k}") for k in range(200)]
    share_a = sum(s["version"] == "a" for s in served) / len(served)
    assert 0.65 < share_a < 0.85  # weight 3:1
    again = [(await svc.complete_ab(OP, "p", key=f"user-{k}"))["version"] for k in range(20)]
    assert again == [s["version"] for s in served[:20]]  # sticky per key
    assert served[0]["text"] == f"{served[0]['version']}:p"
    # Every generation path follows the split and is counted; embeddings stay on the served version.
    await svc.complete(OP, ["p", "q"], key="user-0")
    await svc.describe(OP, ["kind"], key="user-0")
    sid = await svc.start_stream(OP, "p", key="user-0")
    while not (await svc.read_stream(OP, sid["stream_id"]))["done"]:
        pass
    await svc.embed(OP, ["x"])
    assert backend.calls[-1] == ("embed", "base")
    report = await svc.traffic_report(OP)
    versions = report["versions"].values()
    assert sum(m["requests"] for m in versions) == 220 + 3  # complete_ab x220, complete, describe, stream
    assert sum(m["tokens"] for m in versions) == 3 * 220 + 6 + 3 + 3  # the stream: 3 pieces
    assert report["versions"]["a"]["requests"] == sum(s["version"] == "a" for s in served + served[:20]) + \
        (3 if served[0]["version"] == "a" else 0)
    by_version = {s["version"]: s for s in served}
    await svc.feedback(OP, "a", by_version["a"]["response_id"], 0.2)
    await svc.feedback(OP, "b", by_version["b"]["response_id"], 0.7)
    out = await svc.promote(OP)
    assert out["promoted"] == "b" and sorted(out["removed"]) == ["a", "base"]
    assert backend.versions() == ["b"] and sorted(backend.removed) == ["a", "base"]
    assert (await svc.complete_ab(OP, "p", key="user-1"))["version"] == "b"
    assert (await svc.health()).details["inference"]["served_version"] == "b"
    with pytest.raises(UnknownModelVersion):
        await svc.promote(OP, "zzz")
    back = await svc.promote(OP, "base")  # the configured model is always a rollback target
    assert back["removed"] == ["b"] and backend.versions() == ["base"]
    assert (await svc.complete(OP, ["p"]))[0] == "base:p"


async def test_feedback_is_one_score_per_caller_and_version_on_what_it_was_served(routed) -> None:
    """No one can steer a verdict: a score needs a response the version served the caller, and a
    caller holds one score per version (a newer one replaces it), bounded to [-1, 1]."""
    svc, _ = routed
    other = Principal(subject="mallory", roles=("editor",), tenant=OP.tenant)
    assert (await svc.complete_ab(OP, "p"))["response_id"] is None  # no A/B test: nothing to score
    await svc.set_traffic(OP, {"a": 1, "b": 1})
    served = [await svc.complete_ab(OP, "p", key=f"user-{k}") for k in range(20)]
    mine = next(s for s in served if s["version"] == "a")
    with pytest.raises(UnknownResponse):  # the id of a response of "a" does not score "b"
        await svc.feedback(OP, "b", mine["response_id"], 1.0)
    with pytest.raises(UnknownResponse):  # nor can another caller use it
        await svc.feedback(other, "a", mine["response_id"], 1.0)
    with pytest.raises(UnknownResponse):
        await svc.feedback(OP, "a", "x.y", 1.0)
    tampered = mine["response_id"][:-1] + ("A" if mine["response_id"][-1] != "A" else "B")
    for forged in (tampered, mine["response_id"].split(".")[0] + ".", "no-dot", "é.é", "\ud800.x"):
        with pytest.raises((UnknownResponse, BadRequest)):
            await svc.feedback(OP, "a", forged, 1.0)
    with pytest.raises(BadRequest):  # one vote cannot outweigh many
        await svc.feedback(OP, "a", mine["response_id"], 2.0)
    await svc.feedback(OP, "a", mine["response_id"], 1.0)
    for again in (s for s in served if s["version"] == "a"):  # every response of "a": still one vote
        await svc.feedback(OP, "a", again["response_id"], 0.0)
    report = await svc.traffic_report(OP)
    assert report["versions"]["a"]["feedback_count"] == 1 and report["versions"]["a"]["mean_feedback"] == 0.0
    assert report["versions"]["b"]["feedback_count"] == 0
    theirs = await svc.complete_ab(other, "p", key=mine_key(served, mine))
    await svc.feedback(other, "a", theirs["response_id"], 1.0)  # another caller: another vote
    assert (await svc.traffic_report(OP))["versions"]["a"]["feedback_count"] == 2
    await svc.set_traffic(OP, {"a": 1, "b": 1})  # a new test: the ids of the last one expire
    with pytest.raises(UnknownResponse):
        await svc.feedback(OP, "a", mine["response_id"], 1.0)


def mine_key(served: list[dict[str, Any]], mine: dict[str, Any]) -> str:
    return f"user-{served.index(mine)}"  # the key that routed it (sticky)


async def test_without_a_store_the_split_and_promotion_live_in_memory(tmp_path) -> None:
    from aria_actors.shape.service import ShapeService

    svc = ShapeService(AriaSettings(home=tmp_path), ShapeConfig())
    await svc.start(Deps())  # no aria_data: no store, no flush task
    backend = RecordingBackend()
    svc._backend = backend
    backend.add("base", svc._base_source())
    await svc.set_traffic(OP, {"base": 1})
    answer = await svc.complete_ab(OP, "p")
    assert answer["version"] == "base"
    await svc.feedback(OP, "base", answer["response_id"], 0.5)
    await svc.feedback(OP, "base", answer["response_id"], 0.75)  # replaces the caller's score
    assert await svc.flush_metrics() == 0
    report = await svc.traffic_report(OP)
    assert report["versions"]["base"]["requests"] == 1 and report["leader"] == "base"
    assert (await svc.promote(OP))["promoted"] == "base" and await svc.traffic_report(OP) is None
    await svc.stop()


async def test_a_failed_served_version_degrades_health_but_templates_work(routed) -> None:
    svc, backend = routed
    assert (await svc.health()).status == Status.READY
    backend.errors["base"] = "ModelLoadError: no weights"
    health = await svc.health()
    assert health.status == Status.DEGRADED and "no weights" in health.message
    assert health.details["inference"]["versions"]["base"]["state"] == "error"
    assert (await svc.generate(OP, "fantasy", seed=1, describe=False))["character"]["template"] == "fantasy"


async def test_stop_closes_the_backend(tmp_path) -> None:
    from aria_actors.shape.service import ShapeService

    svc = ShapeService(AriaSettings(home=tmp_path), ShapeConfig())
    await svc.start(Deps())
    backend = RecordingBackend()
    svc._backend = backend
    backend.add("base", svc._base_source())
    await svc.stop()
    assert backend.sources == {} and svc._backend is None


# -- Serve helpers (no Ray needed) -----------------------------------------------------------------
def test_application_names_are_safe_and_distinct() -> None:
    from aria_actors.shape.inference.backends.serve import app_name

    assert app_name("base") == "aria_shape_inference_base"
    assert app_name("v1.2-rc_3") == "aria_shape_inference_v1.2-rc_3"
    odd = {app_name("a/b"), app_name("a b"), app_name("a:b")}
    assert len(odd) == 3 and all(n.startswith("aria_shape_inference_a_b-") for n in odd)


def test_serve_application_states() -> None:
    from aria_actors.shape.inference.backends.serve import _app_state

    def app(status: str, running: int, message: str = "") -> SimpleNamespace:
        dep = SimpleNamespace(replica_states={"RUNNING": running} if running else {}, message=message)
        return SimpleNamespace(status=status, message="", deployments={"ShapeInference": dep})

    assert _app_state(None) == {"state": "not deployed"}
    assert _app_state(app("RUNNING", 0)) == {"state": "scaled to zero", "replicas": 0}
    assert _app_state(app("RUNNING", 2)) == {"state": "running", "replicas": 2}
    assert _app_state(app("DEPLOYING", 0))["state"] == "deploying"
    failed = _app_state(app("DEPLOY_FAILED", 0, "ModelLoadError: cannot load"))
    assert failed["state"] == "error" and "cannot load" in failed["error"]


class _Method:
    def __init__(self, calls: list, name: str, fail: bool = False) -> None:
        self.calls, self.name, self.fail = calls, name, fail

    def remote(self, *args: Any):
        self.calls.append((self.name, args))

        async def answer() -> Any:
            await asyncio.sleep(0)
            if self.fail:
                raise RuntimeError("replica died")
            if self.name == "complete_many":
                return [(f"<{p}>", len(p)) for p in args[0]]
            return {"text": f"<{args[0]}>", "tokens": len(args[0])}

        return answer()


class FakeHandle:
    """Stands in for a DeploymentHandle: records calls, answers like ShapeInference."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list = []
        self.complete = _Method(self.calls, "complete", fail)
        self.complete_many = _Method(self.calls, "complete_many", fail)


def _serve_backend(handle: FakeHandle, **config: Any):
    from aria_actors.shape.inference.backends.serve import ServeBackend, _App

    backend = ServeBackend(ShapeConfig(**config), AriaSettings())
    source = ModelSource.for_path("/m")
    backend.add("v", source)
    backend._apps["v"] = _App("aria_shape_inference_v", handle, source)
    return backend


async def test_concurrent_completions_go_to_the_replica_as_one_request() -> None:
    handle = FakeHandle()
    backend = _serve_backend(handle, inference_coalesce_s=0.01, inference_max_batch_size=16)
    outs = await asyncio.gather(*[backend.complete("v", [f"p{i}"], max_new_tokens=4) for i in range(5)],
                                backend.complete("v", ["q1", "q2"], max_new_tokens=4),
                                backend.complete("v", ["other length"], max_new_tokens=9))
    assert [o[0].text for o in outs[:5]] == [f"<p{i}>" for i in range(5)]
    assert [c.text for c in outs[5]] == ["<q1>", "<q2>"] and outs[5][1].tokens == 2
    assert outs[6][0].text == "<other length>"
    assert sorted(handle.calls) == [("complete_many", (["other length"], 9, 0)),
                                    ("complete_many", (["p0", "p1", "p2", "p3", "p4", "q1", "q2"], 4, 0))]


async def test_a_full_batch_goes_at_once_and_errors_reach_every_caller() -> None:
    handle = FakeHandle()
    backend = _serve_backend(handle, inference_coalesce_s=1.0, inference_max_batch_size=3)
    outs = await asyncio.gather(*[backend.complete("v", [f"p{i}"], max_new_tokens=4) for i in range(3)])
    assert [o[0].text for o in outs] == ["<p0>", "<p1>", "<p2>"]  # no 1 s wait: the batch was full
    assert len(handle.calls) == 1
    failing = _serve_backend(FakeHandle(fail=True), inference_coalesce_s=0.001)
    results = await asyncio.gather(*[failing.complete("v", [f"p{i}"], max_new_tokens=4) for i in range(3)],
                                   return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and "replica died" in str(r) for r in results)


async def test_without_coalescing_each_prompt_is_its_own_request() -> None:
    handle = FakeHandle()
    backend = _serve_backend(handle, inference_coalesce_s=0)
    out = await backend.complete("v", ["a", "b"], max_new_tokens=4)
    assert [c.text for c in out] == ["<a>", "<b>"]
    assert [c[0] for c in handle.calls] == ["complete", "complete"]
