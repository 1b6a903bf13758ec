"""DIN data: vocabularies, the leave-last-out split, samples (no future leakage), negatives."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from aria_actors.interpret.din.data import InteractionLog, build_samples, load_movielens, split_log
from aria_actors.interpret.errors import InvalidInteraction, NotEnoughData


def rows_for(n_users: int = 12, per_user: int = 8, n_items: int = 30, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        n = per_user if u % 4 else 2  # every 4th user is too short for valid/test
        items = rng.choice(n_items, size=n, replace=False)
        times = rng.permutation(1000)[:n] + u * 1000.0
        rows += [{"user": f"u{u}", "item": f"i{i}", "ts": float(t), "category": f"c{i % 3}"}
                 for i, t in zip(items, times, strict=True)]
    rng.shuffle(rows)
    return rows


def test_vocab_reserves_zero_and_from_rows_sorts_by_user_then_time():
    log = InteractionLog.from_rows(rows_for())
    assert log.item_vocab.tokens[0] == "<pad>" and log.user_vocab.tokens[0] == "<pad>"
    assert 0 not in set(log.items.tolist()) and 0 not in set(log.users.tolist())
    assert log.item_vocab.lookup(["nope"]).tolist() == [0]
    for u in np.unique(log.users):
        ts = log.ts[log.users == u]
        assert np.all(np.diff(ts) >= 0)
    # every item's category is the one on its rows
    for row in rows_for():
        j = log.item_vocab.index[row["item"]]
        assert log.cat_vocab.tokens[log.item_category[j]] == row["category"]


def test_latest_category_wins():
    log = InteractionLog.from_rows([
        {"user": "a", "item": "x", "ts": 2, "category": "new"},
        {"user": "b", "item": "x", "ts": 1, "category": "old"},
    ])
    assert log.cat_vocab.tokens[log.item_category[log.item_vocab.index["x"]]] == "new"


@pytest.mark.parametrize("bad", [
    {"user": "", "item": "i", "ts": 1, "category": "c"},
    {"user": "u", "item": 3, "ts": 1, "category": "c"},
    {"user": "u", "item": "i", "ts": float("nan"), "category": "c"},
    {"user": "u", "item": "i", "ts": True, "category": "c"},
    {"user": "u", "item": "i", "ts": 1, "category": "x" * 300},
    {"user": "u", "item": "i", "ts": 1},
    "not a dict",
])
def test_malformed_rows_raise_invalid_interaction(bad):
    with pytest.raises(InvalidInteraction):
        InteractionLog.from_rows([{"user": "u", "item": "i", "ts": 0, "category": "c"}, bad])


def test_empty_log_is_not_enough_data():
    with pytest.raises(NotEnoughData):
        InteractionLog.from_rows([])


def test_split_is_leave_last_out_and_short_users_are_train_only():
    log = InteractionLog.from_rows(rows_for())
    split = split_log(log)
    assert split.train_only_users == 3
    for u in np.unique(log.users):
        rows = np.flatnonzero(log.users == u)
        roles = split.role[rows]
        if len(rows) < 3:
            assert roles.tolist() == [0] * len(rows)
            continue
        assert roles[-1] == 2 and roles[-2] == 1 and np.all(roles[:-2] == 0)
        assert log.ts[rows[-1]] == log.ts[rows].max()


def test_samples_have_no_future_leakage_and_test_is_last():
    log = InteractionLog.from_rows(rows_for())
    s = build_samples(log, max_history=4, negatives=2, eval_negatives=5, seed=3)
    seq = {int(u): log.items[log.users == u].tolist() for u in np.unique(log.users)}
    ts = {int(u): log.ts[log.users == u].tolist() for u in np.unique(log.users)}
    for block, role in ((s.train, 0), (s.valid, 1), (s.test, 2)):
        for h, c, u in zip(block.hist, block.cands, block.user, strict=True):
            items, times = seq[int(u)], ts[int(u)]
            pos = items.index(int(c[0])) if role == 0 else len(items) - (3 - role)
            assert int(c[0]) == items[pos]
            real = [int(x) for x in h if x]
            assert real == items[max(0, pos - 4):pos]  # the previous items, oldest first
            assert all(times[items.index(x)] < times[pos] for x in real)  # strictly before the candidate
            assert np.all(h[len(real):] == 0)  # left-aligned, padded after
    # test = the last interaction of each eligible user
    assert sorted(int(c) for c in s.test.cands[:, 0]) == sorted(seq[u][-1] for u in seq if len(seq[u]) >= 3)


def test_negatives_are_unseen_by_the_user_and_seeded():
    log = InteractionLog.from_rows(rows_for())
    a = build_samples(log, 4, 3, 5, seed=7)
    b = build_samples(log, 4, 3, 5, seed=7)
    c = build_samples(log, 4, 3, 5, seed=8)
    assert np.array_equal(a.train.cands, b.train.cands) and np.array_equal(a.test.cands, b.test.cands)
    assert not np.array_equal(a.train.cands, c.train.cands)
    seen = {int(u): set(log.items[log.users == u].tolist()) for u in np.unique(log.users)}
    for block in (a.train, a.valid, a.test):
        assert block.labels[:, 0].tolist() == [1.0] * len(block) and not block.labels[:, 1:].any()
        for cands, u in zip(block.cands, block.user, strict=True):
            assert not (set(cands[1:].tolist()) & seen[int(u)])
            assert 0 not in cands


def test_user_who_saw_every_item_gets_no_rows_instead_of_looping():
    rows = [{"user": "all", "item": f"i{i}", "ts": i, "category": "c"} for i in range(5)]
    rows += [{"user": f"u{n}", "item": f"i{n % 2}", "ts": 10 + n, "category": "c"} for n in range(3)]
    rows += [{"user": "u0", "item": "i3", "ts": 20, "category": "c"}, {"user": "u0", "item": "i4", "ts": 21,
                                                                       "category": "c"}]
    s = build_samples(InteractionLog.from_rows(rows), 3, 2, 1, seed=0)
    log = InteractionLog.from_rows(rows)
    assert log.user_vocab.index["all"] not in s.test.user.tolist()
    assert len(s.test) == 1


def test_too_few_users_for_valid_and_test_is_not_enough_data():
    rows = [{"user": "u", "item": "a", "ts": 1, "category": "c"}, {"user": "u", "item": "b", "ts": 2, "category": "c"}]
    with pytest.raises(NotEnoughData):
        build_samples(InteractionLog.from_rows(rows), 3, 1, 1)


@pytest.mark.skipif(importlib.util.find_spec("recbole") is None, reason="MovieLens-100k ships with recbole")
def test_movielens_loads_with_first_genre_categories():
    log = load_movielens()
    assert len(log) == 100_000 and log.n_users == 944 and log.n_items == 1683
    assert "Animation" in log.cat_vocab.index  # Toy Story's first genre
    toy_story = log.item_vocab.index["1"]
    assert log.cat_vocab.tokens[log.item_category[toy_story]] == "Animation"
