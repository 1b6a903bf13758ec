"""GRPO checkpoints in the real aria_storage service (real PostgreSQL, local chunk store).

Training runs in a thread; the storage sink calls the service on the test's event loop.
"""

from __future__ import annotations

import asyncio

import pytest

torch = pytest.importorskip("torch")

from aria_actors.runtime.principal import Principal  # noqa: E402
from aria_actors.runtime.rpc import bind  # noqa: E402
from aria_actors.runtime.service import Deps  # noqa: E402
from aria_actors.runtime.settings import AriaSettings  # noqa: E402
from aria_actors.shape.training.checkpoints import StorageCheckpoints  # noqa: E402
from aria_actors.shape.training.job import run_training  # noqa: E402
from aria_actors.storage.client import StorageClient  # noqa: E402
from tests.fixtures.shape_rewards import crashing_reward  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="session")
OP = Principal.operator()  # every test here calls as the local operator

SETTINGS = {"num_generations": 4, "max_completion_length": 6, "learning_rate": 1e-2, "seed": 4,
            "relabel": True}


@pytest.fixture
def storage(shape_storage):
    return shape_storage


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.model import build_tiny

    torch.set_num_threads(1)
    return str(build_tiny(ShapeConfig(seed=4, pretrain_steps=0), tmp_path_factory.mktemp("ck") / "tiny"))


def _sink(storage, run, tmp_path, caller=OP):
    return StorageCheckpoints(bind(StorageClient, storage), run, caller=caller, loop=asyncio.get_running_loop(),
                              cache_dir=tmp_path / "cache")


async def test_crash_and_resume_through_storage_match_an_uninterrupted_run(storage, model_dir, tmp_path):
    from safetensors.torch import load_file

    whole = await asyncio.to_thread(run_training, model_dir, str(tmp_path / "whole"), steps=4,
                                    prompts_per_step=2, checkpoint_every=2, settings=SETTINGS)
    crash_on_third_step = crashing_reward(on_call=3)

    sink = _sink(storage, "resume", tmp_path)
    with pytest.raises(RuntimeError, match="worker lost"):
        await asyncio.to_thread(run_training, model_dir, steps=4, prompts_per_step=2, checkpoint_every=2,
                                settings=SETTINGS, reward_fn=crash_on_third_step, checkpoints=sink)
    sink = _sink(storage, "resume", tmp_path)  # a new attempt, as the queue would start it
    first = await asyncio.to_thread(sink.latest)
    assert first == "aria_storage:shape/checkpoints/resume/manifest@1"
    resumed = await asyncio.to_thread(run_training, model_dir, steps=4, prompts_per_step=2,
                                      checkpoint_every=2, settings=SETTINGS, checkpoints=sink)
    assert resumed["resumed_from"] == first and len(resumed["rewards"]) == 2
    assert resumed["final_checkpoint"] == "aria_storage:shape/checkpoints/resume/manifest@2"
    fetched = await asyncio.to_thread(_sink(storage, "resume", tmp_path / "other").local,
                                      resumed["final_checkpoint"])
    a = load_file(str(fetched / "model.safetensors"))
    b = load_file(str(tmp_path / "whole" / "step-000004" / "model.safetensors"))
    assert whole["steps"] == 4 and all(torch.equal(a[k], b[k]) for k in a)
    # The resumed run's checkpoint reused the assets of the one before and reported it.
    report = resumed["dedupe"][0]
    assert report["by_blob"]["assets"]["new_bytes"] == 0
    assert 0 < report["new_bytes"] <= report["logical_bytes"]
    versions = await storage.call("versions", OP, "shape/checkpoints/resume/assets")
    assert len(versions) == 1  # the tokenizer and config were stored once


async def test_frozen_layers_dedupe_and_a_crash_before_publish_keeps_the_previous(storage, model_dir,
                                                                                  tmp_path):
    class FailingManifest:  # the real service, failing the publish step once
        name = "aria_storage"

        def __init__(self, inner):
            self.inner, self.fail = inner, True

        async def call(self, method, *args, **kwargs):
            if method == "put" and args[1].endswith("/manifest") and self.fail:
                self.fail = False
                raise OSError("connection lost")
            return await self.inner.call(method, *args, **kwargs)

    frozen = {**SETTINGS, "freeze": ["model.embed_tokens", "model.layers.0."]}
    client = FailingManifest(storage)
    client.fail = False
    sink = StorageCheckpoints(bind(StorageClient, client), "frozen", caller=OP, loop=asyncio.get_running_loop(),
                              cache_dir=tmp_path)
    out = await asyncio.to_thread(run_training, model_dir, steps=3, prompts_per_step=2, checkpoint_every=1,
                                  settings=frozen, checkpoints=sink)
    first, *later = out["dedupe"]
    assert 0 < first["new_bytes"] <= first["logical_bytes"]
    for report in later:
        # embeddings (tied head) and layer 0 did not move: most of the model blob is shared
        model = report["by_blob"]["model"]
        assert model["new_bytes"] < 0.6 * model["size"], report
        assert report["by_blob"]["assets"]["new_bytes"] == 0
    client.fail = True
    resumed = StorageCheckpoints(bind(StorageClient, client), "frozen", caller=OP, loop=asyncio.get_running_loop(),
                                 cache_dir=tmp_path)
    with pytest.raises(OSError, match="connection lost"):
        await asyncio.to_thread(run_training, model_dir, steps=4, prompts_per_step=2, checkpoint_every=1,
                                settings=frozen, checkpoints=resumed)
    latest = await asyncio.to_thread(_sink(storage, "frozen", tmp_path).latest)
    assert latest == out["final_checkpoint"]  # the model blob of step 4 exists, unpublished
    assert len(await storage.call("versions", OP, "shape/checkpoints/frozen/model")) == 4


async def test_a_queued_run_checkpoints_to_storage_and_resumes_an_earlier_attempt(
        storage, fresh_database, queue_dsn, tmp_path):
    from aria_actors.queue.registry import Registry, default_registry
    from aria_actors.queue.testing import drain
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.service import ShapeService
    from aria_actors.shape.training.job import train_version
    from tests.fixtures.postgres import DataClientOverDsn
    from tests.fixtures.shape import QueueClientOverDsn

    svc = ShapeService(AriaSettings(home=tmp_path / "shape-home"), ShapeConfig(pretrain_steps=0, train_poll_s=3600))
    queue = QueueClientOverDsn(queue_dsn)
    await svc.start(Deps({"aria_data": DataClientOverDsn(fresh_database, "aria_shape"), "aria_storage": storage,
                          "aria_queue": queue}))
    editor = Principal("ed", ("editor",))
    try:
        job = await svc.start_training(editor, "v-ck", steps=4, prompts_per_step=1, settings=SETTINGS,
                                       checkpoint_every=1, eval_prompts=0)
        assert queue.enqueuers == [editor]  # enqueued as the caller, not as aria_shape
        # An earlier attempt of version "v-ck" by the same editor got to step 2 before it died.
        source = svc._inference().source("base")
        await asyncio.to_thread(run_training, steps=2, prompts_per_step=1, checkpoint_every=2,
                                settings=SETTINGS, source={"config": source.config, "home": source.home},
                                checkpoints=_sink(storage, "v-ck", tmp_path / "earlier", caller=editor))
        # The queue's worker, with this test's storage client instead of the Ray one and the
        # service's ARIA_HOME as its node's.
        loop = asyncio.get_running_loop()
        registry = Registry()
        spec = default_registry.get("aria_shape.train")
        node = AriaSettings(home=tmp_path / "shape-home")
        registry.add(type(spec)(name=spec.name, queue=spec.queue,
                                fn=lambda j: train_version(j.args, j.caller, bind(StorageClient, storage), loop,
                                                           settings=node)))
        assert await drain(queue_dsn, "shape-train", registry=registry) == {"completed": 1}
        model = (await svc.training_status(OP, job["job_id"]))["model"]
        m = model["metrics"]
        assert m["resumed_from"] == "aria_storage:shape/checkpoints/v-ck/manifest@1"
        assert len(m["train_rewards"]) == 2 and [r["step"] for r in m["dedupe"]] == [3, 4]
        assert m["checkpoint"] == "aria_storage:shape/checkpoints/v-ck/manifest@3"
        assert all(r["by_blob"]["assets"]["new_bytes"] == 0 for r in m["dedupe"])
        # The job ran as its enqueuer: the checkpoints it wrote are the editor's uploads.
        manifest = await storage.call("info", OP, "shape/checkpoints/v-ck/manifest")
        assert (manifest["version"], manifest["owner"]) == (3, "ed")
        loaded = await svc.load_version(OP, "v-ck")  # the registered path is the fetched checkpoint
        assert model["path"].startswith(str(tmp_path / "shape-home")) and loaded["parameters"] > 0
    finally:
        await svc.stop()


async def test_a_run_does_not_resume_from_a_manifest_someone_else_planted_under_its_name(storage, model_dir,
                                                                                         tmp_path):
    import json

    # Names are not reserved per run: whoever may write under shape/ (another editor, of another
    # tenant: assets carry none) can take a run's manifest name first and publish a manifest whose
    # blobs are its own.
    editor, mallory = Principal("ed", ("editor",), tenant="acme"), Principal("mallory", ("editor",), tenant="evil")
    blob = await storage.call("put", mallory, "shape/checkpoints/victim/model", b"weights of mallory's")
    planted = {"run": "victim", "step": 3, "state": {"step": 3},
               "blobs": {k: {"name": "shape/checkpoints/victim/model", "version": blob["version"]}
                         for k in ("model", "optimizer", "assets")}, "dedupe": {}}
    await storage.call("put", mallory, "shape/checkpoints/victim/manifest", json.dumps(planted).encode())
    sink = _sink(storage, "victim", tmp_path, caller=editor)
    assert await asyncio.to_thread(sink.latest) is None
    out = await asyncio.to_thread(run_training, model_dir, steps=2, prompts_per_step=2, checkpoint_every=1,
                                  settings=SETTINGS, checkpoints=sink)
    assert out["resumed_from"] is None and out["steps"] == 2  # started fresh, ran every step
    mine = out["final_checkpoint"]
    # mallory owns the name and can add versions, but a retry still resumes from the editor's
    await storage.call("put", mallory, "shape/checkpoints/victim/manifest", json.dumps(planted).encode())
    again = _sink(storage, "victim", tmp_path, caller=editor)
    assert await asyncio.to_thread(again.latest) == mine
    info = await storage.call("info", OP, "shape/checkpoints/victim/manifest")
    assert info["owner"] == "mallory" and f"@{info['version']}" not in mine


async def test_blobs_larger_than_a_part_go_up_in_parts(storage, model_dir, tmp_path, monkeypatch):
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.model import load_model
    from aria_actors.shape.training import checkpoints as ck
    from aria_actors.shape.training.policy import GRPORunner, GRPOSettings

    monkeypatch.setattr(ck, "PART_BYTES", 64 * 1024)  # the model blob (~430 KB) takes 7 parts
    loaded = load_model(ShapeConfig(model_path=model_dir))
    blobs = GRPORunner(loaded.model, loaded.tokenizer, GRPOSettings(**SETTINGS)).blobs()
    assert len(blobs["model"]) > 5 * ck.PART_BYTES
    sink = _sink(storage, "parts", tmp_path)
    saved = await asyncio.to_thread(sink.save, blobs, 0)
    path = await asyncio.to_thread(_sink(storage, "parts", tmp_path / "fresh").local, saved.ref)
    assert ck.read_assets(path) == blobs["assets"]
    assert (path / "optimizer.safetensors").read_bytes() == blobs["optimizer"]
    assert await storage.call("get", OP, "shape/checkpoints/parts/model") == blobs["model"]


async def test_a_trained_checkpoint_is_fetched_onto_another_node_exactly_as_registered(storage, model_dir,
                                                                                       tmp_path):
    """A version trained on one node is a directory there; any other node that loads it makes the
    same directory from aria_storage, as aria_shape, whoever trained it, and only that one."""
    import json

    from aria_actors.shape.errors import CheckpointNotTrusted
    from aria_actors.shape.training.checkpoints import fetch_trained
    from aria_actors.shape.training.job import checkpoint_root
    from aria_actors.storage.errors import AssetNotFound

    editor = Principal("ed", ("editor",))
    home_a, home_b = tmp_path / "node-a", tmp_path / "node-b"
    sink = StorageCheckpoints(bind(StorageClient, storage), "v-far", caller=editor,
                              loop=asyncio.get_running_loop(), cache_dir=checkpoint_root(home_a))
    out = await asyncio.to_thread(run_training, model_dir, steps=2, prompts_per_step=1, checkpoint_every=1,
                                  settings=SETTINGS, checkpoints=sink)
    trained = await asyncio.to_thread(sink.local, out["final_checkpoint"])  # what the worker registers
    rel = trained.relative_to(checkpoint_root(home_a))
    client = bind(StorageClient, storage)
    here = {"storage": client, "loop": asyncio.get_running_loop()}  # the service runs on this loop

    # The registered path is node A's (its ARIA_HOME); node B makes the same directory in its own.
    fetched = await asyncio.to_thread(fetch_trained, home_b, trained, **here)
    assert fetched == checkpoint_root(home_b) / rel
    files = sorted(p.name for p in trained.iterdir())
    assert sorted(p.name for p in fetched.iterdir()) == files
    assert all((trained / f).read_bytes() == (fetched / f).read_bytes() for f in files)
    # Loading it there goes through the same fetch, and finds the directory now.
    assert await asyncio.to_thread(fetch_trained, home_b, fetched, **here) == fetched
    # Someone else's later manifest under the run is no substitute: the name holds the hash.
    await storage.call("put", editor, "shape/checkpoints/v-far/manifest",
                       json.dumps({"run": "v-far", "blobs": {}, "state": {}}).encode())
    forged = rel.parent / f"manifest-{999:06d}-{'0' * 16}"
    wrong_key = rel.parent / (rel.name[:-16] + "0" * 16)
    with pytest.raises(AssetNotFound):
        await asyncio.to_thread(fetch_trained, home_b, checkpoint_root(home_b) / forged, **here)
    with pytest.raises(CheckpointNotTrusted, match="does not hash"):
        await asyncio.to_thread(fetch_trained, home_b, checkpoint_root(home_b) / wrong_key, **here)
    # Anything else is where it is: an operator's directory, a directory-sink checkpoint.
    assert fetch_trained(home_b, model_dir, **here) is None
    assert fetch_trained(home_b, checkpoint_root(home_b) / "v-far" / ("0" * 16) / "step-000001",
                         **here) is None
