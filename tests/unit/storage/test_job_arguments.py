"""A queue job or another service reaches gc and the lifecycle without the routes' checks: the
service bounds the same numbers itself (a 400, never a TypeError or an overflow)."""

from __future__ import annotations

import pytest

from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import Gate, invoke
from aria_actors.runtime.settings import AriaSettings
from aria_actors.storage.service import StorageService

OPS = Principal.operator()


@pytest.mark.parametrize("method,kwargs", [
    ("gc", {"grace_s": "x"}), ("gc", {"grace_s": 1e300}), ("gc", {"grace_s": -1}),
    ("gc", {"grace_s": float("nan")}), ("gc", {"grace_s": True}),
    ("apply_lifecycle", {"keep_last": "2"}), ("apply_lifecycle", {"keep_last": 0}),
    ("apply_lifecycle", {"keep_last": 2.5}), ("apply_lifecycle", {"older_than_s": 1e300}),
    ("set_lifecycle_rule", {"name_prefix": "a/", "keep_last": [1]}),
])
async def test_bad_numbers_from_any_door_are_a_bad_request(tmp_path, method, kwargs) -> None:
    svc = StorageService(AriaSettings(home=tmp_path))  # not started: the check comes first
    with pytest.raises(BadRequest):
        await invoke(svc, method, (OPS,), kwargs, Gate())
