from __future__ import annotations

from aria_actors.coordinate.directory import RayDirectory


def test_a_service_spec_can_ask_for_a_longer_call_timeout() -> None:
    directory = RayDirectory("aria", call_timeout_s=30.0)  # no Ray call until a client is used
    assert directory.timeout_of("aria_shape") == 120.0  # first generation loads the model
    assert directory.timeout_of("aria_storage") == 30.0
    assert directory.timeout_of("no_such_service") == 30.0
