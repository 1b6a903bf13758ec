from __future__ import annotations

from aria_actors.coordinate.directory import RayDirectory


def test_a_service_spec_can_ask_for_a_longer_call_timeout() -> None:
    directory = RayDirectory("aria", call_timeout_s=30.0)  # no Ray call until a client is used
    assert directory.timeout_of("aria_shape") == 120.0  # first generation loads the model
    assert directory.timeout_of("aria_storage") == 30.0
    assert directory.timeout_of("no_such_service") == 30.0


async def test_only_unavailability_opens_a_breaker() -> None:
    import pytest

    from aria_actors.coordinate.breaker import CircuitBreaker
    from aria_actors.coordinate.directory import GuardedClient, is_service_fault
    from aria_actors.runtime.errors import BadRequest, Forbidden, ServiceUnavailable

    assert is_service_fault(ServiceUnavailable("down"))
    for caller_error in (BadRequest("x"), Forbidden("x"), TypeError("a bug the service answered with")):
        assert not is_service_fault(caller_error)

    class Wrapped(Exception):  # how Ray hands back an error raised inside an actor
        cause = ServiceUnavailable("its dependency is down")

    assert is_service_fault(Wrapped())

    class Flaky:
        name = "aria_x"

        def __init__(self) -> None:
            self.fail_with: Exception | None = None

        async def call(self, method: str, *args: object) -> str:
            if self.fail_with is not None:
                raise self.fail_with
            return "ok"

    inner = Flaky()
    client = GuardedClient(inner, CircuitBreaker("aria_x", failure_threshold=5))
    for exc in (BadRequest("malformed"), TypeError("crash on odd input")):
        inner.fail_with = exc
        for _ in range(50):
            with pytest.raises(type(exc)):
                await client.call("m")
    inner.fail_with = None
    assert await client.call("m") == "ok" and client.breaker.state == "closed"
    inner.fail_with = ServiceUnavailable("down")
    for _ in range(5):
        with pytest.raises(ServiceUnavailable):
            await client.call("m")
    assert client.breaker.state == "open"
