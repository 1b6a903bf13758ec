from __future__ import annotations

import pytest

from aria_actors.coordinate.breaker import CircuitBreaker, CircuitOpen
from aria_actors.runtime.errors import NotFound, ServiceUnavailable


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def transport_failure(exc: BaseException) -> bool:
    return isinstance(exc, ServiceUnavailable)


async def down() -> None:
    raise ServiceUnavailable("down")


async def up() -> str:
    return "ok"


async def test_opens_after_threshold_then_half_opens_after_cooldown() -> None:
    clock = Clock()
    br = CircuitBreaker("svc", failure_threshold=3, cooldown_s=5, clock=clock)
    for _ in range(3):
        with pytest.raises(ServiceUnavailable):
            await br.call(down, transport_failure)
    assert br.state == "open"
    with pytest.raises(CircuitOpen) as err:
        await br.call(up, transport_failure)
    assert err.value.fields["retry_after_s"] == 5
    clock.t = 5.1
    assert await br.call(up, transport_failure) == "ok"
    assert br.state == "closed" and br.snapshot()["rejected"] == 1


async def test_half_open_failure_reopens() -> None:
    clock = Clock()
    br = CircuitBreaker("svc", failure_threshold=1, cooldown_s=1, clock=clock)
    with pytest.raises(ServiceUnavailable):
        await br.call(down, transport_failure)
    clock.t = 2
    with pytest.raises(ServiceUnavailable):
        await br.call(down, transport_failure)
    assert br.state == "open" and br.opened_at == 2


async def test_domain_errors_do_not_open_the_circuit() -> None:
    br = CircuitBreaker("svc", failure_threshold=1)

    async def missing() -> None:
        raise NotFound("no such asset")

    for _ in range(3):
        with pytest.raises(NotFound):
            await br.call(missing, transport_failure)
    assert br.state == "closed"
