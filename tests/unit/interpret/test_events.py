"""Events as ``record`` takes them, and the training job's arguments: validated before anything is
stored or enqueued."""

from __future__ import annotations

import math

import pytest

from aria_actors.interpret.errors import InvalidInteraction
from aria_actors.interpret.events import MAX_ATTRS_BYTES, parse_events
from aria_actors.interpret.training import TrainArgs, snapshot_bytes
from aria_actors.queue.jobs import Discard


def test_each_kind_parses_to_a_row_with_a_utc_time() -> None:
    rows = [e.row() for e in parse_events([
        {"kind": "action", "subject": "bob", "object": "rest", "ts": 1_700_000_000},
        {"kind": "interaction", "subject": "bob", "object": "ann", "category": "trade", "ts": "2024-01-02T03:04:05"},
        {"kind": "state", "subject": "bob", "attrs": {"traits": ["brave"], "attributes": {"age": 3}}},
        {"kind": "pick", "subject": "p1", "object": "fantasy", "attrs": {"traits": ["kind"]}},
        {"kind": "feedback", "subject": "p1", "object": "char:bob", "value": 0.5},
    ], 10)]
    assert [r["kind"] for r in rows] == ["action", "interaction", "state", "pick", "feedback"]
    assert rows[0]["ts"].timestamp() == 1_700_000_000
    assert rows[1]["ts"].tzinfo is not None and rows[1]["ts"].year == 2024
    assert rows[4]["value"] == 0.5 and rows[2]["attrs"]["traits"] == ["brave"]


@pytest.mark.parametrize(("event", "field"), [
    ({"kind": "feedback", "subject": "u", "object": "i", "value": math.nan}, "value"),
    ({"kind": "feedback", "subject": "u", "object": "i", "value": math.inf}, "value"),
    ({"kind": "gossip", "subject": "u", "object": "i"}, "kind"),
    ({"kind": "action", "subject": "has space", "object": "x"}, "subject"),
    ({"kind": "action", "subject": "u"}, "event"),
    ({"kind": "interaction", "subject": "u", "object": "u"}, "event"),
    ({"kind": "state", "subject": "u", "attrs": {"traits": "brave"}}, "event"),
    ({"kind": "pick", "subject": "u", "object": "t", "attrs": {"traits": ["a\x00"]}}, "event"),
    ({"kind": "action", "subject": "u", "object": "x", "ts": 1e20}, "ts"),
    ({"kind": "action", "subject": "u", "object": "x", "ts": "yesterday"}, "ts"),
    ({"kind": "action", "subject": "u", "object": "x", "attrs": {"blob": "x" * MAX_ATTRS_BYTES}}, "attrs"),
    ({"kind": "action", "subject": "u", "object": "x", "extra": 1}, "extra"),
])
def test_a_bad_event_refuses_the_batch_naming_its_index_and_field(event: dict, field: str) -> None:
    good = {"kind": "action", "subject": "bob", "object": "rest"}
    with pytest.raises(InvalidInteraction) as exc:
        parse_events([good, event], 10)
    assert exc.value.status == 422 and exc.value.fields["index"] == 1
    assert exc.value.fields["field"].startswith("events[1]") and field in exc.value.fields["field"]


def test_batches_are_bounded_and_non_empty() -> None:
    with pytest.raises(InvalidInteraction):
        parse_events([], 10)
    with pytest.raises(InvalidInteraction):
        parse_events([{"kind": "action", "subject": "b", "object": "x"}] * 11, 10)
    with pytest.raises(InvalidInteraction):
        parse_events({"kind": "action"}, 10)


def test_training_args_take_no_path_and_no_unknown_key() -> None:
    TrainArgs(version="v1", dataset="movielens-100k")
    for bad in ({"version": "../x"}, {"version": "v1", "dataset": "/etc/passwd"}, {"version": "v1", "path": "/tmp"},
                {"version": "v1", "snapshot": {"name": "../../secrets", "version": 1}}):
        with pytest.raises(ValueError):
            TrainArgs.model_validate(bad)


async def test_the_worker_discards_what_start_training_would_not_build() -> None:
    from aria_actors.interpret.training import train_version

    with pytest.raises(Discard):
        await train_version({"version": "v1", "extra": True}, None)
    with pytest.raises(Discard):  # no enqueuer: no rights to use aria_storage with
        await train_version({"version": "v1"}, None)


def test_a_snapshot_is_json_lines_of_user_item_time_category() -> None:
    from datetime import UTC, datetime

    data = snapshot_bytes([{"subject": "p1", "object": "i1", "category": "", "ts": datetime(2024, 1, 1, tzinfo=UTC)}])
    assert data == b'{"user": "p1", "item": "i1", "ts": 1704067200.0, "category": "item"}'


@pytest.mark.parametrize(("roles", "tenant", "allowed"), [
    (("admin",), None, True), (("operator",), None, True), (("editor",), "acme", False),
    (("viewer",), "acme", False), (("user",), "acme", False), (("service",), None, False)])
def test_only_holders_of_train_across_tenants_may_enqueue_the_training_worker(roles, tenant, allowed) -> None:
    from aria_actors.interpret.training import WORKER
    from aria_actors.queue.registry import default_registry
    from aria_actors.runtime.errors import Forbidden
    from aria_actors.runtime.principal import Principal

    caller = Principal(subject="someone", roles=roles, tenant=tenant)
    if allowed:
        default_registry.authorize(WORKER, caller)
    else:
        with pytest.raises(Forbidden):
            default_registry.authorize(WORKER, caller)
