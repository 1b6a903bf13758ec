"""ModelSource.ensure_local: a version trained on another node is loaded from this node's copy."""

from __future__ import annotations

from aria_actors.shape.source import ModelSource
from aria_actors.shape.training.checkpoints import trained_ref

REF = "v-far/manifest-000003-0123456789abcdef"


def test_a_checkpoint_trained_under_another_home_is_loaded_from_this_nodes_copy(tmp_path) -> None:
    theirs = tmp_path / "node-a" / "shape" / "checkpoints" / REF  # the path the version was registered with
    mine = tmp_path / "node-b" / "shape" / "checkpoints" / REF
    mine.mkdir(parents=True)
    (mine / "config.json").write_text("{}")  # fetched here before (no storage call needed)
    source = ModelSource({"model_path": str(theirs)}, str(tmp_path / "node-b"))
    assert source.ensure_local().config["model_path"] == str(mine)
    assert trained_ref(theirs) == REF


def test_other_models_are_loaded_where_they_are(tmp_path) -> None:
    for path in ("", str(tmp_path / "qwen3"), str(tmp_path / "shape" / "checkpoints" / "v" / "abc" / "step-000001")):
        source = ModelSource({"model_path": path}, str(tmp_path / "home"))
        assert source.ensure_local() is source
    assert ModelSource({"model_path": str(tmp_path / "x")}).ensure_local().config["model_path"] == str(tmp_path / "x")
