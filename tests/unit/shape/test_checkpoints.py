"""Checkpoint blobs: deterministic bytes, exact round trips, write-then-publish directories."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from aria_actors.shape.characters.corpus import prompts  # noqa: E402
from aria_actors.shape.training import checkpoints as ck  # noqa: E402
from aria_actors.shape.training.policy import GRPORunner, GRPOSettings  # noqa: E402

SETTINGS = GRPOSettings(num_generations=4, max_completion_length=6, learning_rate=1e-2, seed=3,
                        relabel=True)


@pytest.fixture
def runner(tiny):
    r = GRPORunner(tiny.model, tiny.tokenizer, SETTINGS)
    r.step(prompts(2, seed=0))
    return r


def test_blobs_are_deterministic_and_round_trip(runner, tmp_path) -> None:
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.model import load_model

    a, b = runner.blobs({"reward": 0.5}), runner.blobs({"reward": 0.5})
    assert a == b  # same values, same bytes: the precondition of sharing chunks
    assert set(a) == {"model", "optimizer", "assets", "state"}
    path = ck.write_dir(a, tmp_path / "step-000001")
    loaded = load_model(ShapeConfig(model_path=str(path)))
    mine = runner.model.state_dict()
    assert all(torch.equal(v, mine[k]) for k, v in loaded.model.state_dict().items())
    opt = ck.read_optimizer(path)
    ref = runner.optimizer.state_dict()
    assert opt["param_groups"] == [{**g, "betas": tuple(g["betas"])} for g in ref["param_groups"]]
    for idx, per in ref["state"].items():
        assert all(torch.equal(per[k], opt["state"][idx][k]) for k in per)
    assert ck.read_state(path)["step"] == 1


def test_frozen_parameters_keep_their_bytes(tiny, tmp_path) -> None:
    settings = SETTINGS.model_copy(update={"freeze": ("model.embed_tokens", "model.layers.0.")})
    r = GRPORunner(tiny.model, tiny.tokenizer, settings)
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    r.step(prompts(2, seed=0))
    after = tiny.model.state_dict()
    frozen = [k for k in before if k.startswith(settings.freeze)]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in before if k not in frozen)
    # Adam keeps no state for them, so the optimizer blob only carries trained parameters.
    n_trained = sum(1 for p in tiny.model.parameters() if p.requires_grad)
    assert len(ck.read_optimizer(ck.write_dir(r.blobs(), tmp_path / "c"))["state"]) == n_trained


def test_directory_sink_publishes_only_complete_checkpoints(runner, tmp_path, monkeypatch) -> None:
    sink = ck.DirectoryCheckpoints(tmp_path)
    assert sink.latest() is None
    first = sink.save(runner.blobs(), 1)
    runner.step(prompts(1, seed=1))
    blobs = runner.blobs()

    real = ck._untar

    def failing(data, out):  # the crash lands after part of the new checkpoint is written
        if data is blobs["assets"]:
            (out / "partial").write_bytes(b"x")
            raise OSError("disk full")
        real(data, out)

    monkeypatch.setattr(ck, "_untar", failing)
    with pytest.raises(OSError, match="disk full"):
        sink.save(blobs, 2)
    assert sink.latest() == first.ref
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000001"]  # nothing half-written left
    monkeypatch.undo()
    assert sink.save(blobs, 2).ref.endswith("step-000002") and sink.latest().endswith("step-000002")


class PlantedStore:
    """aria_storage as the storage sink reads it back: versions of assets, each with the subject
    that wrote it (its ``owner``, as aria_storage records it); anyone may add versions."""

    name = "aria_storage"

    def __init__(self) -> None:
        self.assets: dict[str, list[tuple[str | None, bytes]]] = {}

    def put(self, owner: str | None, name: str, data: bytes) -> int:
        self.assets.setdefault(name, []).append((owner, data))
        return len(self.assets[name])

    def _info(self, name: str, version: int) -> dict:
        return {"name": name, "version": version, "owner": self.assets[name][version - 1][0]}

    async def call(self, method, caller, name, version=None, **kwargs):
        from aria_actors.storage.errors import AssetNotFound

        if name not in self.assets:
            raise AssetNotFound(f"asset {name!r} not found", name=name)
        if method == "versions":
            return [self._info(name, v) for v in range(1, len(self.assets[name]) + 1)]
        version = version or len(self.assets[name])
        if method == "info":
            return self._info(name, version)
        if method == "get":
            return self.assets[name][version - 1][1]
        raise AssertionError(f"the sink should not need {method} to read checkpoints back")

    def checkpoint(self, owner: str | None, run: str, step: int, blob_owner: str | None = None,
                   blob_name: str | None = None) -> str:
        """A published checkpoint of ``run`` as ``owner`` writes it (blobs by ``blob_owner``)."""
        import json

        blobs = {}
        for kind in ck.BLOBS:
            name = blob_name or f"shape/checkpoints/{run}/{kind}"
            data = b"optimizer" if kind == "optimizer" else ck._tar({f"{kind}.json": b"{}"})
            blobs[kind] = {"name": name, "version": self.put(blob_owner or owner, name, data)}
        body = {"run": run, "step": step, "state": {"step": step}, "blobs": blobs, "dedupe": {}}
        version = self.put(owner, f"shape/checkpoints/{run}/manifest", json.dumps(body).encode())
        return f"aria_storage:shape/checkpoints/{run}/manifest@{version}"


def _sink(store, run, tmp_path, who="ed"):
    from aria_actors.runtime.principal import Principal
    from aria_actors.runtime.rpc import bind
    from aria_actors.storage.client import StorageClient

    return ck.StorageCheckpoints(bind(StorageClient, store), run, caller=Principal(who, ("editor",)),
                                 cache_dir=tmp_path / who)


def test_a_run_never_resumes_from_a_checkpoint_someone_else_planted(tmp_path) -> None:
    from aria_actors.shape.errors import CheckpointNotTrusted

    store = PlantedStore()
    # A `user` created the run's names first (the first writer owns a name) and published a manifest.
    planted = store.checkpoint("mallory", "v1", 9)
    sink = _sink(store, "v1", tmp_path)
    assert sink.latest() is None  # the editor's run starts fresh
    with pytest.raises(CheckpointNotTrusted, match="mallory"):
        sink.local(planted)
    # The run's own checkpoint is its resume point, even under a newer planted one.
    mine = store.checkpoint("ed", "v1", 2)
    store.checkpoint("mallory", "v1", 10)
    store.checkpoint(None, "v1", 11)  # from before aria_storage recorded owners: nobody's
    assert sink.latest() == mine
    assert ck.read_state(sink.local(mine))["step"] == 2
    # What aria_shape itself wrote is trusted too.
    ours = store.checkpoint("svc:aria_shape", "v1", 3)
    assert _sink(store, "v1", tmp_path).latest() == ours


def test_a_trusted_manifest_naming_foreign_blobs_is_refused(tmp_path) -> None:
    from aria_actors.shape.errors import CheckpointNotTrusted

    store = PlantedStore()
    ref = store.checkpoint("ed", "v1", 1, blob_owner="mallory")
    with pytest.raises(CheckpointNotTrusted, match="mallory"):
        _sink(store, "v1", tmp_path).local(ref)
    ref = store.checkpoint("ed", "v2", 1, blob_name="shape/checkpoints/other/model")
    with pytest.raises(CheckpointNotTrusted, match="outside run"):
        _sink(store, "v2", tmp_path).local(ref)
    assert not (tmp_path / "ed").exists()  # nothing was fetched


def test_a_directory_named_by_content_is_kept_not_replaced_under_its_readers(tmp_path, monkeypatch) -> None:
    """Two fetches of one checkpoint on a node: the second drops its copy instead of removing the
    directory the first one is loading (also when it loses the rename race)."""
    tar = ck._tar({"config.json": b"{}"})
    blobs = {"model": ck._tar({}), "assets": tar, "optimizer": b"o", "state": b"{}"}
    out = ck.write_dir(blobs, tmp_path / "manifest-000001-abc", named_by_content=True)
    inode = out.stat().st_ino
    assert ck.write_dir({**blobs, "optimizer": b"other"}, out, named_by_content=True) == out
    assert out.stat().st_ino == inode and (out / ck.STATE_FILES[0]).read_bytes() == b"o"

    real_exists = ck.Path.exists
    calls = {"n": 0}

    def late(self):  # the racing fetch completes between our check and our rename
        if self == out:
            calls["n"] += 1
            return calls["n"] > 1
        return real_exists(self)

    monkeypatch.setattr(ck.Path, "exists", late)
    assert ck.write_dir(blobs, out, named_by_content=True) == out
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary copy left
    assert out.stat().st_ino == inode
