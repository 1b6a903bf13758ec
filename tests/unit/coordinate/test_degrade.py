"""Graceful degradation and load balancing, in-process: one service failed to start (t_broken),
breakers that open, and a boot actor that stops answering."""

from __future__ import annotations

import time

import pytest

from aria_actors.coordinate.breaker import CircuitBreaker
from aria_actors.coordinate.degrade import RETRY_AFTER_S, Availability, retry_after_s
from aria_actors.runtime.errors import AriaError, BadRequest, ServiceUnavailable
from tests.unit.coordinate.apps import build, client, directory


@pytest.fixture
async def setup():
    d = await directory()
    return d, build(d)


async def test_a_route_of_a_failed_service_answers_503_with_retry_after_at_once(setup) -> None:
    _, app = setup
    async with client(app) as http:
        await http.get("/health")  # the gateway has read the status once
        r = await http.get("/v1/t/t_broken/pid")
        ok = await http.get("/v1/t/t_left/pid")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert doc["type"].endswith("/service-down") and doc["service"] == "t_broken"
    assert doc["service_status"] == "failed" and r.headers["retry-after"] == str(RETRY_AFTER_S["failed"])
    assert ok.status_code == 200  # the others are served as usual


async def test_an_open_breaker_answers_503_with_its_remaining_cooldown(setup) -> None:
    d, app = setup
    d.breakers["t_left"] = CircuitBreaker("t_left", cooldown_s=30.0, state="open", opened_at=time.monotonic())
    async with client(app) as http:
        r = await http.get("/v1/t/t_left/pid")
        health = (await http.get("/health")).json()
    assert r.status_code == 503 and r.json()["type"].endswith("/circuit-open")
    assert 28 <= int(r.headers["retry-after"]) <= 30
    assert health["status"] == "degraded" and health["circuits_open"] == ["t_left"]


async def test_health_and_services_say_which_services_are_down(setup) -> None:
    _, app = setup
    async with client(app) as http:
        health = await http.get("/health")
        services = await http.get("/v1/services")
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    [down] = health.json()["down"]
    assert down["name"] == "t_broken" and down["status"] == "failed" and "not writable" in down["reason"]
    assert services.status_code == 200 and [s["name"] for s in services.json()["down"]] == ["t_broken"]
    assert len(services.json()["services"]) == 6


async def test_with_the_boot_actor_unreachable_the_last_known_status_is_served(setup) -> None:
    d, app = setup
    async with client(app) as http:
        assert (await http.get("/v1/services")).status_code == 200
        d.reachable = False
        services = await http.get("/v1/services")
        health = await http.get("/health")
        one = await http.get("/v1/services/t_top")
        # What was known still protects the routes: the failed service's route is a 503 at once.
        assert (await http.get("/v1/t/t_broken/pid")).status_code == 503
        assert (await http.get("/v1/t/t_left/pid")).status_code == 200
    body = services.json()
    assert services.status_code == 200 and len(body["services"]) == 6
    assert "restarting" in body["stale"]["detail"] and body["stale"]["age_s"] >= 0
    assert health.status_code == 503 and health.headers["retry-after"]
    assert health.json()["status"] == "unavailable" and [x["name"] for x in health.json()["down"]] == ["t_broken"]
    assert one.status_code == 200 and one.json()["name"] == "t_top" and "stale" in one.json()


async def test_with_nothing_known_and_no_boot_actor_the_answer_is_a_clear_503(setup) -> None:
    d, app = setup
    d.reachable = False
    async with client(app) as http:
        services = await http.get("/v1/services")
        health = await http.get("/health")
        # Unknown is not down: the route is tried (and here answers, the unit being in-process).
        assert (await http.get("/v1/t/t_left/pid")).status_code == 200
    assert services.status_code == 503 and services.headers["retry-after"] == "5"
    assert services.json()["type"].endswith("/service-unavailable")
    assert health.status_code == 503 and health.json()["gateway"] == "up"


async def test_a_stale_status_stops_counting_as_down_and_is_refreshed_in_the_background(setup) -> None:
    d, _ = setup
    now = [0.0]
    availability = Availability(d, ttl_s=1.0, max_age_s=30.0, clock=lambda: now[0])
    availability.note(await d.status())
    assert availability.down("t_broken") == "failed" and availability.down("t_left") is None
    now[0] = 31.0  # no successful read for longer than max_age_s: unknown again
    assert availability.down("t_broken") is None
    await availability._refresh  # the refresh that check started
    assert availability.read_at == 31.0 and availability.down("t_broken") == "failed"


def test_retry_after_of_errors() -> None:
    assert retry_after_s(ServiceUnavailable("x", retry_after_s=2.2)) == 3
    assert retry_after_s(ServiceUnavailable("x")) == 5
    assert retry_after_s(BadRequest("x")) is None

    class Wrapped(AriaError):  # as a Ray actor's error arrives
        cause = ServiceUnavailable("down", retry_after_s=0.1)

    assert retry_after_s(Wrapped("wrapped")) == 1


async def test_services_show_their_load_balancing_policy_and_calls(setup) -> None:
    _, app = setup
    async with client(app) as http:
        for _ in range(3):
            await http.get("/v1/t/t_left/pid")
        left = (await http.get("/v1/services/t_left")).json()
        top = (await http.get("/v1/services/t_top")).json()
    assert left["load_balancing"] == {**left["load_balancing"], "policy": "single-actor", "replicas": 1,
                                      "balanced_by": None, "gateway_in_flight": 0, "gateway_calls": 3}
    assert top["load_balancing"]["gateway_calls"] == 0 and left["circuit"]["calls"] == 3


def test_a_deployment_is_balanced_by_ray_serve_power_of_two_choices() -> None:
    from aria_actors.coordinate.balance import load_balancing

    lb = load_balancing({"kind": "deployment"}, replicas=3, in_flight=2, calls=10)
    assert (lb["policy"], lb["replicas"], lb["balanced_by"]) == ("power-of-two-choices", 3, "ray-serve")
    assert load_balancing({"kind": "deployment"})["replicas"] is None  # unknown in-process
