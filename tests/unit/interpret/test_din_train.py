"""DIN training on a planted-preference log, artifacts (round trip, corruption) and the scorer."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aria_actors.interpret.din.artifact import DinScorer, load, pack, to_bytes, unpack  # noqa: E402
from aria_actors.interpret.din.baselines import popularity, train_mf  # noqa: E402
from aria_actors.interpret.din.data import InteractionLog, build_samples  # noqa: E402
from aria_actors.interpret.din.train import DinConfig, train_din  # noqa: E402
from aria_actors.interpret.errors import InvalidFeatures, ModelArtifactError  # noqa: E402

CONFIG = DinConfig(item_dim=8, category_dim=4, attention=(12,), mlp=(24, 8), lr=5e-3, batch_size=256, epochs=6,
                   patience=2, negatives=3, eval_negatives=9, max_history=8, seed=0, threads=1)


def planted_rows(n_users: int = 160, per_user: int = 24, seed: int = 0) -> list[dict]:
    """Four taste groups over four item clusters: a user picks 90% of items from their cluster.
    Item popularity is flat across clusters, so only the history tells which cluster a user likes."""
    rng = np.random.default_rng(seed)
    clusters = [[f"g{g}-{i}" for i in range(15)] for g in range(4)]
    rows = []
    for u in range(n_users):
        g = u % 4
        for t in range(per_user):
            cluster = g if rng.random() < 0.9 else int(rng.integers(4))
            item = clusters[cluster][int(rng.integers(15))]
            rows.append({"user": f"u{u}", "item": item, "ts": float(t), "category": f"cat{cluster}"})
    return rows


@pytest.fixture(scope="module")
def log() -> InteractionLog:
    return InteractionLog.from_rows(planted_rows())


@pytest.fixture(scope="module")
def trained(log):
    torch.set_num_threads(1)
    return train_din(log, CONFIG)


@pytest.fixture(scope="module")
def artifact(trained) -> bytes:
    return to_bytes(trained)


def test_din_beats_popularity_on_planted_preferences(trained, log):
    samples = build_samples(log, CONFIG.max_history, CONFIG.negatives, CONFIG.eval_negatives, CONFIG.seed)
    pop = popularity(samples)
    assert trained.metrics["test"]["gauc"] > pop["test"]["gauc"] + 0.15
    assert trained.metrics["test"]["auc"] > 0.8
    assert 1 <= trained.best_epoch <= trained.epochs <= CONFIG.epochs
    assert trained.train_wall_s > 0 and len(trained.history) == trained.epochs


def test_training_is_deterministic_for_a_seed(trained, log):
    again = train_din(log, CONFIG)
    assert again.metrics["test"] == trained.metrics["test"]
    for a, b in zip(again.model.state_dict().values(), trained.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_on_epoch_can_stop_training(log):
    seen = []
    out = train_din(log, CONFIG.model_copy(update={"epochs": 5}), on_epoch=lambda r: seen.append(r) or True)
    assert out.epochs == 1 and [r.epoch for r in seen] == [1]
    assert set(seen[0].valid) == {"auc", "gauc", "logloss"}


def test_mf_baseline_runs_on_the_same_samples(log):
    samples = build_samples(log, CONFIG.max_history, CONFIG.negatives, CONFIG.eval_negatives, CONFIG.seed)
    mf = train_mf(samples, log.n_users, dim=8, epochs=3)
    assert 0.0 <= mf["test"]["auc"] <= 1.0 and mf["epochs"] >= 1


def test_artifact_round_trip_gives_the_same_scores(trained, artifact, log):
    direct = DinScorer.from_trained(trained)
    loaded = load(artifact)
    hist = ["g1-0", "g1-3", "g1-7", "g2-1"]
    cands = ["g1-2", "g0-4", "g3-3", "g2-2", "g1-9"]
    a, b = direct.score(hist, cands), loaded.score(hist, cands)
    assert a["scores"] == pytest.approx(b["scores"], abs=1e-6)
    assert a["fallback"] == [] and a["unknown_candidates"] == []
    assert max(range(5), key=lambda i: a["scores"][i]) in (0, 4)  # a cluster-1 item wins for a cluster-1 fan
    header, _ = unpack(artifact)
    assert header["config"] == CONFIG.model_dump(mode="json") and header["items"][0] == "<pad>"
    assert loaded.metrics["test"]["auc"] == pytest.approx(trained.metrics["test"]["auc"])


def test_score_batch_equals_single_scores(artifact):
    scorer = load(artifact)
    reqs = [(["g0-1", "g0-2"], ["g0-3", "g1-1"]), ([], ["g2-2"]), (["g3-1"] * 20, ["g3-2", "g0-0", "nope", "g1-1"])]
    batched = scorer.score_batch(reqs)
    for (h, c), got in zip(reqs, batched, strict=True):
        single = scorer.score(h, c)
        assert got["scores"] == pytest.approx(single["scores"], abs=1e-6)
        assert got["fallback"] == single["fallback"] and len(got["scores"]) == len(c)


def test_cold_start_fallbacks(artifact, trained):
    scorer = load(artifact)
    cold = scorer.score([], ["g0-1", "g1-1"])
    unknown_hist = scorer.score(["never-seen"], ["g0-1", "g1-1"])
    expected = "cold_user:popularity" if trained.cold_start == "popularity" else "cold_user:din_empty_history"
    assert cold["fallback"] == [expected] and unknown_hist["fallback"] == [expected]
    assert unknown_hist["ignored_history"] == 1 and unknown_hist["scores"] == cold["scores"]
    mixed = scorer.score(["g1-1"], ["brand-new", "g1-2"])
    assert mixed["scores"][0] == 0.0 and mixed["unknown_candidates"] == [0]
    assert mixed["fallback"] == ["unknown_item:zero_prior"] and mixed["scores"][1] > 0.0


def test_popularity_cold_start_uses_the_prior(trained):
    scorer = DinScorer(trained.model, trained.item_vocab, trained.popularity, trained.config, "popularity")
    cands = ["g0-1", "g1-1", "g2-5"]
    got = scorer.score([], cands)["scores"]
    pop = trained.popularity[[trained.item_vocab.index[c] for c in cands]]
    assert got == pytest.approx((pop / trained.popularity.max()).tolist())


@pytest.mark.parametrize("history, candidates", [
    ("g0-1", ["g0-2"]),
    (["g0-1"], []),
    (["g0-1"], ["x"] * 1001),
    (["g0-1"] * 1001, ["g0-2"]),
    ([3], ["g0-2"]),
    (["g0-1"], [""]),
    (["g0-1"], ["x" * 257]),
    (None, ["g0-2"]),
])
def test_invalid_inputs_raise_invalid_features(artifact, history, candidates):
    with pytest.raises(InvalidFeatures):
        load(artifact).score(history, candidates)


def test_invalid_batches_raise_invalid_features(artifact):
    scorer = load(artifact)
    for bad in ([], "x", [(["a"],)], [(["a"], ["b"]), 3]):
        with pytest.raises(InvalidFeatures):
            scorer.score_batch(bad)


def corrupt_cases(artifact: bytes) -> dict[str, bytes]:
    flipped = bytearray(artifact)
    flipped[len(artifact) // 2] ^= 0x01
    header_flip = bytearray(artifact)
    header_flip[20] ^= 0x20
    rng = np.random.default_rng(0)
    header, payload = unpack(artifact)
    return {
        "empty": b"",
        "truncated": artifact[: len(artifact) // 2],
        "truncated_by_one": artifact[:-1],
        "flipped_payload_byte": bytes(flipped),
        "flipped_header_byte": bytes(header_flip),
        "random": rng.bytes(len(artifact)),
        "random_with_magic": b"ARIADIN\0" + rng.bytes(200),
        "wrong_version": pack({**header, "version": 2}, payload),
        "foreign_format": pack({**header, "format": "other"}, payload),
        "bad_config": pack({**header, "config": {"item_dim": -1}}, payload),
        "vocab_mismatch": pack({**header, "items": header["items"][:-1]}, payload),
        "foreign_payload": pack(header, b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "),
        "header_not_json": _frame(b"{not json", payload),
        "huge_header_length": b"ARIADIN\0" + struct.pack("<Q", 2**63) + b"x" * 40,
        "json_list_header": _frame(json.dumps([1, 2]).encode(), payload),
    }


def _frame(head: bytes, payload: bytes) -> bytes:
    import hashlib

    body = b"ARIADIN\0" + struct.pack("<Q", len(head)) + head + payload
    return body + hashlib.sha256(body).digest()


@pytest.mark.parametrize("case", [
    "empty", "truncated", "truncated_by_one", "flipped_payload_byte", "flipped_header_byte", "random",
    "random_with_magic", "wrong_version", "foreign_format", "bad_config", "vocab_mismatch", "foreign_payload",
    "header_not_json", "huge_header_length", "json_list_header",
])
def test_corrupted_artifacts_raise_model_artifact_error(artifact, case):
    with pytest.raises(ModelArtifactError):
        load(corrupt_cases(artifact)[case])


def test_non_bytes_artifact_is_a_model_artifact_error():
    with pytest.raises(ModelArtifactError):
        load("not bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [
    {"lr": float("nan")}, {"lr": float("inf")}, {"lr": 0.0}, {"lr": 1.5}, {"reg": float("nan")}, {"reg": -0.1},
    {"reg": 11.0}, {"item_dim": 0}, {"item_dim": 257}, {"category_dim": 300}, {"attention": ()},
    {"attention": (36,) * 5}, {"attention": (0,)}, {"attention": (2048,)}, {"mlp": (1025,)}, {"mlp": (8,) * 5},
    {"batch_size": 0}, {"batch_size": 65537}, {"epochs": 0}, {"epochs": 201}, {"negatives": 0},
    {"negatives": 101}, {"eval_negatives": 1001}, {"max_history": 0}, {"max_history": 1001}, {"seed": -1},
    {"seed": 2**32}, {"threads": 0}, {"threads": 17}, {"unknown": 1}, {"patience": 10**6},
    # each field in range, but the activation unit's hidden tensor would be ~68 G (train) or 1 G (eval) elements
    {"batch_size": 65536, "max_history": 1000, "attention": (1024,)},
    {"batch_size": 16, "eval_negatives": 1000, "max_history": 1000, "attention": (1024,)},
])
def test_bad_configs_are_rejected(bad):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        DinConfig(**bad)


def test_config_bounds_admit_the_extremes_that_fit():
    ok = DinConfig(item_dim=256, category_dim=1, attention=(1024, 1024, 1024, 1024), mlp=(1024,) * 4, lr=1.0,
                   reg=10.0, batch_size=64, epochs=200, negatives=100, eval_negatives=100, max_history=500,
                   seed=2**32 - 1, threads=16)
    assert ok.model_dump(mode="json")["attention"] == [1024] * 4
    assert DinConfig.model_validate(ok.model_dump(mode="json")) == ok  # the artifact header round trip


def test_a_log_too_small_to_split_is_not_enough_data():
    from aria_actors.interpret.errors import NotEnoughData

    rows = [{"user": f"u{u}", "item": f"i{u}", "ts": 0.0, "category": "c"} for u in range(5)]
    with pytest.raises(NotEnoughData):
        train_din(InteractionLog.from_rows(rows), CONFIG)


def test_negatives_are_redrawn_each_epoch_from_the_seed(log):
    samples = build_samples(log, CONFIG.max_history, CONFIG.negatives, CONFIG.eval_negatives, CONFIG.seed)
    first, second = samples.train_for_epoch(1, 0), samples.train_for_epoch(2, 0)
    assert first is samples.train
    assert np.array_equal(second.cands[:, 0], first.cands[:, 0]) and np.array_equal(second.hist, first.hist)
    assert (second.cands[:, 1:] != first.cands[:, 1:]).mean() > 0.5
    assert np.array_equal(samples.train_for_epoch(2, 0).cands, second.cands)
    seen = set(zip(log.users.tolist(), log.items.tolist(), strict=True))
    assert not any((u, j) in seen for u, row in zip(second.user, second.cands[:, 1:], strict=True) for j in row)


def test_value_errors_from_the_data_surface_as_not_enough_data(log, monkeypatch):
    from aria_actors.interpret.din import train as train_module
    from aria_actors.interpret.errors import NotEnoughData

    def fail(*args, **kwargs):
        raise ValueError("AUC needs both positive and negative labels")

    monkeypatch.setattr(train_module, "fit", fail)
    with pytest.raises(NotEnoughData, match="AUC needs both"):
        train_din(log, CONFIG)


def test_training_with_resampled_negatives_is_deterministic_and_differs(trained, log):
    config = CONFIG.model_copy(update={"resample_negatives": True, "epochs": 3, "patience": 3})
    a, b = train_din(log, config), train_din(log, config)
    assert a.metrics["test"] == b.metrics["test"] and a.epochs == 3
    fixed = train_din(log, CONFIG.model_copy(update={"epochs": 3, "patience": 3}))
    assert not torch.equal(a.model.item_emb.weight, fixed.model.item_emb.weight)
    assert a.metrics["test"]["auc"] > 0.8
