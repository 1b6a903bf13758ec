from __future__ import annotations

import asyncio
import random
import sys
import types
from bisect import bisect_right
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request

from aria_actors.coordinate.ratelimit import (
    COORDINATOR_NAME,
    UNMATCHED,
    BadRateLimit,
    LeasedQuota,
    QuotaCoordinator,
    RateLimiter,
    RateLimitMiddleware,
    RateLimitRules,
    RouteMatcher,
    bearer_verify,
    coordinator_actor,
    install_rate_limits,
    parse_rule,
    quota_from_settings,
)
from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.http import install_problem_handlers
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.security.middleware import BearerAuth
from aria_actors.security.testing import InProcessSecurity


class Clock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def most_in_any_window(times: list[float], window_s: float) -> int:
    """The largest number of ``times`` in any half-open interval (t-W, t] (attained at a time)."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window_s:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def reference_log(arrivals: list[float], limit: int, window_s: float) -> list[float]:
    """The textbook sliding log: admit at t iff fewer than limit admissions in (t-W, t]."""
    out: list[float] = []
    for t in arrivals:
        if len(out) - bisect_right(out, t - window_s) < limit:
            out.append(t)
    return out


def limiter(rule: str = "10/60s", routes: dict[str, str] | None = None, roles: dict[str, Any] | None = None,
            **kw: Any) -> RateLimiter:
    return RateLimiter(RateLimitRules(rule, routes or {}, roles or {}), **kw)


# --- the window --------------------------------------------------------------------------------


def test_window_edge_admits_no_burst() -> None:
    lim, n, w = limiter("10/60s"), 10, 60.0
    admitted = []
    # n admissions just before the edge of a fixed 60 s window...
    for i in range(n):
        t = 59.9 + i * 0.001
        assert lim.hit("alice", (), "GET", "/x", t).allowed
        admitted.append(t)
    # ...then a stream just after it: a fixed window would reset at 60 and admit n more here
    t = 59.95
    while t < 200:
        if lim.hit("alice", (), "GET", "/x", t).allowed:
            admitted.append(t)
        t += 0.05
    assert most_in_any_window(admitted, w) == n
    after_edge = [t for t in admitted if 60.0 <= t < 119.9]
    assert after_edge == []  # nothing until the first admission (59.9) leaves at 119.9
    assert min(t for t in admitted if t > 60) == pytest.approx(119.9, abs=0.05)


@pytest.mark.parametrize("limit,max_runs", [(7, 64), (50, 64), (500, 16)])
def test_random_arrivals_never_exceed_the_limit(limit: int, max_runs: int) -> None:
    rng = random.Random(limit)
    window = 10.0
    arrivals, t = [], 0.0
    while t < 200:
        t += rng.expovariate(limit / window * 3)  # three times the allowed rate, in bursts
        arrivals.append(t)
        if rng.random() < 0.05:
            arrivals.extend([t] * rng.randint(1, limit))  # simultaneous requests
    lim = limiter(f"{limit}/{window:g}s", max_runs=max_runs)
    admitted = [t for t in arrivals if lim.hit("k", (), "GET", "/x", t).allowed]
    assert most_in_any_window(admitted, window) <= limit
    exact = reference_log(arrivals, limit, window)
    if limit <= max_runs:
        assert admitted == exact  # a sliding log: the same decisions as the textbook one
    else:
        # bucketed: refuses at most W/max_runs early, so admits nearly as many
        assert 0.9 * len(exact) <= len(admitted) <= len(exact)
    assert lim.stats()["runs"] <= max_runs


def test_retry_after_is_when_the_oldest_admission_leaves() -> None:
    lim = limiter("3/10s")
    for t in (0.0, 2.0, 4.0):
        lim.hit("a", (), "GET", "/x", t)
    refused = lim.hit("a", (), "GET", "/x", 5.2)
    assert not refused.allowed and refused.retry_after_s == 5  # 0 + 10 - 5.2 = 4.8 -> 5
    assert refused.remaining == 0 and refused.limit == 3
    assert lim.hit("a", (), "GET", "/x", 10.0).allowed  # the admission at 0 has left
    ok = lim.hit("b", (), "GET", "/x", 10.0)
    assert ok.allowed and ok.remaining == 2 and ok.reset_s == 10


def test_keys_are_per_principal_and_per_route() -> None:
    lim = limiter("2/60s")
    for _ in range(2):
        assert lim.hit("alice", (), "GET", "/a", 1.0).allowed
    assert not lim.hit("alice", (), "GET", "/a", 1.0).allowed
    assert lim.hit("bob", (), "GET", "/a", 1.0).allowed          # another principal
    assert lim.hit("alice", (), "GET", "/b", 1.0).allowed        # another route
    assert lim.hit("alice", (), "POST", "/a", 1.0).allowed       # another method: another route


def test_rules_exact_prefix_method_and_login_defaults() -> None:
    rules = RateLimitRules("100/60s", {"/v1/x/*": "50/60s", "/v1/x/deep/*": "20/60s", "POST /v1/x/*": "40/60s",
                                       "/v1/x/item": "5/1m", "/health": "unlimited"}, {})
    assert rules.rule_for("GET", "/v1/x/item").limit == 5
    assert rules.rule_for("GET", "/v1/x/other").limit == 50
    assert rules.rule_for("POST", "/v1/x/other").limit == 40  # names the method: beats the bare prefix
    assert rules.rule_for("GET", "/v1/x/deep/{id}").limit == 20  # the longest prefix
    assert rules.rule_for("GET", "/v1/y").limit == 100
    assert rules.rule_for("GET", UNMATCHED).limit == 100
    assert rules.rule_for("GET", "/health").limit is None
    defaults = RateLimitRules()
    login, default = defaults.rule_for("POST", "/v1/auth/login"), defaults.default
    assert login.limit is not None and default.limit is not None
    assert login.limit / login.window_s < default.limit / default.window_s / 5
    assert defaults.rule_for("POST", "/v1/auth/token").limit < default.limit
    assert parse_rule("5/h").window_s == 3600 and parse_rule("100/1m").window_s == 60


@pytest.mark.parametrize("bad", ["ten/60s", "10/0s", "10/2d", "-1/60s", "10 per minute"])
def test_bad_rules_are_refused_clearly(bad: str) -> None:
    with pytest.raises(BadRateLimit, match="/v1/x") as err:
        parse_rule(bad, "/v1/x")
    assert isinstance(err.value, BadRequest)


def test_bad_routes_and_roles_are_refused() -> None:
    with pytest.raises(BadRateLimit, match="path"):
        RateLimitRules(routes={"v1/x": "1/1s"})
    with pytest.raises(BadRateLimit, match="method"):
        RateLimitRules(routes={"FETCH /v1/x": "1/1s"})
    with pytest.raises(BadRateLimit, match="multiplier"):
        RateLimitRules(roles={"admin": "lots"})


def test_roles_exempt_and_multiply() -> None:
    lim = limiter("4/60s", roles={"admin": "unlimited", "service": 2, "anonymous": 0.5})
    assert lim.hit("root", ("user", "admin"), "GET", "/x", 0.0) is None  # exempt: no decision, no headers
    svc = [lim.hit("svc", ("service",), "GET", "/x", 0.0).allowed for _ in range(10)]
    assert svc.count(True) == 8
    anon = [lim.hit("addr:1.2.3.4", ("anonymous",), "GET", "/x", 0.0).allowed for _ in range(10)]
    assert anon.count(True) == 2
    user = [lim.hit("u", ("user",), "GET", "/x", 0.0).allowed for _ in range(10)]
    assert user.count(True) == 4
    assert lim.hit("u", ("user",), "GET", "/x", 0.0).limit == 4


def test_memory_is_bounded() -> None:
    lim = limiter("1000/60s", max_keys=100, max_runs=16)
    for i in range(1000):
        lim.hit(f"p{i}", (), "GET", "/x", 0.0)
    stats = lim.stats()
    assert stats["keys"] == 100 and stats["evictions"] == 900
    assert stats["unsafe_evictions"] == 900  # each forgotten key still had a live window
    # a key long idle is forgotten safely
    lim2 = limiter("5/1s", max_keys=2)
    lim2.hit("a", (), "GET", "/x", 0.0)
    lim2.hit("b", (), "GET", "/x", 0.0)
    lim2.hit("c", (), "GET", "/x", 5.0)
    assert lim2.stats()["unsafe_evictions"] == 0 and lim2.stats()["evictions"] == 1
    # one key under a flood keeps at most max_runs runs
    busy = limiter("1000/60s", max_runs=16)
    for i in range(20000):
        busy.hit("k", (), "GET", "/x", i * 0.01)
    assert busy.stats()["runs"] <= 16


# --- sharing across replicas -----------------------------------------------------------------


def coordinator_call(coord: QuotaCoordinator, lose: random.Random | None = None) -> Any:
    async def call(request: dict[str, Any]) -> dict[str, Any]:
        answer = coord.lease(request)
        if lose is not None and lose.random() < 0.2:
            raise ConnectionError("answer lost")  # granted, but the replica never hears of it
        return answer

    return call


async def test_two_replicas_sharing_a_coordinator_never_admit_more_than_n() -> None:
    clock, rng = Clock(), random.Random(3)
    coord = QuotaCoordinator(lease_s=4.0, reserve=0.2, clock=clock)
    rules = RateLimitRules("20/10s", {}, {})
    quotas = [LeasedQuota(coordinator_call(coord, random.Random(i)), f"r{i}", renew_s=1.0, clock=clock)
              for i in range(2)]
    replicas = [RateLimiter(rules, q, clock=clock) for q in quotas]
    admitted: list[float] = []
    by_replica = [0, 0]
    t = 0.0
    while t < 150:
        t += rng.expovariate(15.0)
        clock.t = t
        # demand moves: mostly r0, then mostly r1, then even
        p0 = 0.9 if t < 50 else (0.1 if t < 100 else 0.5)
        i = 0 if rng.random() < p0 else 1
        if quotas[i].due(t):
            await quotas[i]._renew_quietly()
        if replicas[i].hit("alice", (), "GET", "/x", t).allowed:
            admitted.append(t)
            by_replica[i] += 1
        assert sum(coord.snapshot()[r].get(rules.default.id, 0) for r in coord.snapshot()) <= 20
    assert most_in_any_window(admitted, 10.0) <= 20
    # most of the 15 windows' quota was used, and rebalancing followed the demand
    assert len(admitted) >= 0.6 * 20 * 15
    assert min(by_replica) >= 0.25 * sum(by_replica)


async def test_a_lone_replica_holds_all_of_n() -> None:
    clock = Clock()
    coord = QuotaCoordinator(lease_s=5.0, clock=clock)
    quota = LeasedQuota(coordinator_call(coord), "solo", renew_s=1.0, clock=clock)
    lim = RateLimiter(RateLimitRules("10/20s", {}, {}), quota, clock=clock)
    await quota.renew()
    assert [lim.hit("a", (), "GET", "/x", 0.0).allowed for _ in range(11)].count(True) == 10


async def test_an_expired_lease_returns_its_share_after_the_window() -> None:
    clock = Clock()
    coord = QuotaCoordinator(lease_s=5.0, reserve=0.2, clock=clock)
    rules = RateLimitRules("10/20s", {}, {})
    rid = rules.default.id
    a = LeasedQuota(coordinator_call(coord), "a", renew_s=1.0, clock=clock)
    b = LeasedQuota(coordinator_call(coord), "b", renew_s=1.0, clock=clock)
    for q in (a, b):
        q.bind(rules.all())
    await a.renew()
    assert a.shares[rid] == 10  # alone
    clock.t = 1.0
    await a.renew()  # learns nothing new; b appears next
    await b.renew()
    assert b.shares[rid] == 0  # a's grant may still have admissions in a window: nothing to give yet
    clock.t = 22.5  # a stops renewing at 1.0: its lease ends at 6, its share is free at 26
    await b.renew()
    assert b.shares[rid] == 0
    clock.t = 26.01
    await b.renew()
    assert b.shares[rid] == 10 and coord.snapshot()["b"][rid] == 10
    # and a, back after its lease ended, is not in the split until it renews; then it gets the reserve
    clock.t = 30.0
    await a.renew()
    assert a.shares[rid] == 0  # b's grant holds all 10 until b renews lower and W passes


async def test_shares_follow_demand_when_both_renew() -> None:
    clock = Clock()
    coord = QuotaCoordinator(lease_s=3.0, reserve=0.2, clock=clock)
    rules = RateLimitRules("100/5s", {}, {})
    rid = rules.default.id
    qa = LeasedQuota(coordinator_call(coord), "a", renew_s=1.0, clock=clock)
    qb = LeasedQuota(coordinator_call(coord), "b", renew_s=1.0, clock=clock)
    la, lb = RateLimiter(rules, qa, clock=clock), RateLimiter(rules, qb, clock=clock)
    for step in range(40):
        clock.t = step * 0.5
        for _ in range(9):
            la.hit(f"u{step}", (), "GET", "/x")
        lb.hit(f"v{step}", (), "GET", "/x")
        for q in (qa, qb):
            if q.due(clock.t):
                await q.renew()
        assert qa.shares.get(rid, 0) + qb.shares.get(rid, 0) <= 100
    # 90% of the demand on a: a holds (1-0.2)*0.9 + 0.2/2 = 82% of it
    assert qa.shares[rid] == pytest.approx(82, abs=2) and qb.shares[rid] == pytest.approx(18, abs=2)


async def test_a_restarted_coordinator_counts_what_replicas_hold() -> None:
    clock = Clock()
    old = QuotaCoordinator(lease_s=10.0, reserve=0.0, clock=clock)
    rules = RateLimitRules("10/20s", {}, {})
    rid = rules.default.id
    a = LeasedQuota(coordinator_call(old), "a", renew_s=1.0, clock=clock)
    a.bind(rules.all())
    await a.renew()
    assert a.shares[rid] == 10
    new = QuotaCoordinator(lease_s=10.0, reserve=0.0, clock=clock)
    b = LeasedQuota(coordinator_call(new), "b", renew_s=1.0, clock=clock)
    b.bind(rules.all())
    a.call = coordinator_call(new)
    clock.t = 1.0
    await a.renew()  # tells the new coordinator it holds 10 for 9 more seconds
    await b.renew()
    assert b.shares[rid] == 0


async def test_without_a_lease_a_replica_limits_to_its_even_split() -> None:
    clock = Clock()

    async def down(request: dict[str, Any]) -> dict[str, Any]:
        raise ConnectionError("coordinator away")

    quota = LeasedQuota(down, "a", renew_s=1.0, clock=clock, expected_replicas=4, grace_s=10.0)
    lim = RateLimiter(RateLimitRules("20/10s", {}, {}), quota, clock=clock)
    await quota.refresh(0.0, timeout_s=1.0)
    assert quota.failures == 1 and not quota.due(0.5) and quota.due(1.0)
    refused = lim.hit("a", (), "GET", "/x", 0.0)  # no lease yet: refuse (it may be a lost answer)
    assert not refused.allowed and refused.retry_after_s == 1
    clock.t = 10.0  # the coordinator is down for the grace period: serve 1/4 of N
    assert [lim.hit("b", (), "GET", "/x", 10.0).allowed for _ in range(10)].count(True) == 5


def test_coordinator_refuses_malformed_requests() -> None:
    coord = QuotaCoordinator()
    with pytest.raises(BadRateLimit, match="malformed"):
        coord.lease({"replica": "a", "rules": {"r": ["x", 1]}})
    with pytest.raises(BadRateLimit, match="malformed"):
        coord.lease({"rules": {}})


def test_coordinator_actor_is_named_and_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Remote:
        def __init__(self, cls: type) -> None:
            seen["cls"] = cls

        def options(self, **options: Any) -> Remote:
            seen["options"] = options
            return self

        def remote(self, **kwargs: Any) -> str:
            seen["kwargs"] = kwargs
            return "handle"

    fake = types.ModuleType("ray")
    fake.remote = Remote  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ray", fake)
    assert coordinator_actor(lease_s=7.0) == "handle"
    assert seen["cls"].__name__ == "RateLimitCoordinator"
    opts = seen["options"]
    assert (opts["name"], opts["namespace"], opts["get_if_exists"]) == (COORDINATOR_NAME, "aria", True)
    assert seen["kwargs"]["lease_s"] == 7.0


def test_quota_from_settings_is_local_unless_shared() -> None:
    assert type(quota_from_settings(types.SimpleNamespace())).__name__ == "LocalQuota"


# --- the middleware ----------------------------------------------------------------------------


def app_with_limits(lim: RateLimiter, observed: list[Any] | None = None, **kw: Any) -> FastAPI:
    async def fake_bearer(request: Request) -> None:
        """Stands in for BearerAuth: 'Bearer good-<sub>' verifies; anything else is anonymous."""
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer good-"):
            sub = header.removeprefix("Bearer good-")
            request.state.principal = {"sub": sub, "roles": ["admin"] if sub == "root" else ["user"],
                                       "exp": 4e9}

    app = FastAPI(dependencies=[Depends(fake_bearer)])
    router = APIRouter(prefix="/v1/things")

    @router.get("/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @router.post("/login")
    async def login() -> dict[str, str]:
        return {"token": "t"}

    app.include_router(router)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(RateLimitMiddleware, limiter=lim, **kw)
    if observed is not None:
        class Observe:  # stands in for the gateway's metrics middleware, added after (outside) it
            def __init__(self, app: Any) -> None:
                self.app = app

            async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
                await self.app(scope, receive, send)
                observed.append(getattr(scope.get("route"), "path", "unmatched"))

        app.add_middleware(Observe)
    return app


def client(app: FastAPI, host: str = "10.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(host, 1234)), base_url="http://t")


async def test_429_problem_and_headers_through_fastapi() -> None:
    clock = Clock(100.0)
    lim = limiter("3/30s", routes={"/health": "unlimited", "POST /v1/things/login": "1/60s"}, clock=clock)
    observed: list[str] = []
    async with client(app_with_limits(lim, observed)) as c:
        ok = [await c.get(f"/v1/things/{i}") for i in range(3)]  # one template, whatever the id
        assert [r.status_code for r in ok] == [200, 200, 200]
        assert ok[0].headers["ratelimit-limit"] == "3" and ok[0].headers["ratelimit-policy"] == "3;w=30"
        assert [r.headers["ratelimit-remaining"] for r in ok] == ["2", "1", "0"]
        assert ok[0].headers["ratelimit-reset"] == "30"
        clock.t = 112.3
        refused = await c.get("/v1/things/9")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "18"  # 100 + 30 - 112.3 = 17.7 -> 18
        assert refused.headers["ratelimit-remaining"] == "0" and refused.headers["ratelimit-limit"] == "3"
        doc = refused.json()
        assert doc["type"].endswith("rate-limited") and doc["status"] == 429
        assert doc["instance"] == "/v1/things/9" and doc["retry_after_s"] == 18
        assert observed[-1] == "/v1/things/{thing_id}"  # the 429 is counted under its route
        health = await c.get("/health")  # unlimited: untouched
        assert health.status_code == 200 and "ratelimit-limit" not in health.headers
        assert (await c.post("/v1/things/login")).status_code == 200
        assert (await c.post("/v1/things/login")).status_code == 429  # the stricter login rule
        clock.t = 130.0
        assert (await c.get("/v1/things/9")).status_code == 200
    async with client(app_with_limits(lim), host="10.0.0.2") as other:  # another address
        assert (await other.post("/v1/things/login")).status_code == 200


async def test_principal_is_the_verified_subject_once_known() -> None:
    lim = limiter("2/60s", roles={"admin": "unlimited"}, clock=Clock(0.0))
    async with client(app_with_limits(lim)) as c:
        for _ in range(2):  # anonymous traffic spends the address's own bucket only
            assert (await c.get("/v1/things/1")).status_code == 200
        assert (await c.get("/v1/things/1")).status_code == 429
        alice = {"authorization": "Bearer good-alice"}
        # first use of the token: not known yet, counted as an unknown token from this address;
        # BearerAuth verified it, so from then on it counts against alice
        assert [(await c.get("/v1/things/1", headers=alice)).status_code for _ in range(4)] == [200, 200, 200, 429]
        forged = {"authorization": "Bearer forged-alice"}  # never verified: cannot spend alice's
        assert (await c.get("/v1/things/1", headers=forged)).status_code == 200
        assert (await c.get("/v1/things/1", headers=forged)).status_code == 429
        root = {"authorization": "Bearer good-root"}
        # without a verify hook, unknown tokens from this address are held back now...
        assert (await c.get("/v1/things/1", headers=root)).status_code == 429


async def test_verify_hook_keys_a_new_token_by_its_subject_at_once() -> None:
    lim = limiter("2/60s", roles={"admin": "unlimited"}, clock=Clock(0.0))
    verified = []

    def verify(token: str) -> dict[str, Any] | None:
        verified.append(token)
        if not token.startswith("good-"):
            raise ValueError("bad signature")
        sub = token.removeprefix("good-")
        return {"sub": sub, "roles": ["admin"] if sub == "root" else ["user"], "exp": 4e9}

    async with client(app_with_limits(lim, verify=verify)) as c:
        forged = {"authorization": "Bearer forged-alice"}
        assert [(await c.get("/v1/things/1", headers=forged)).status_code for _ in range(3)] == [200, 200, 429]
        alice = {"authorization": "Bearer good-alice"}
        assert [(await c.get("/v1/things/1", headers=alice)).status_code for _ in range(3)] == [200, 200, 429]
        root = {"authorization": "Bearer good-root"}
        for _ in range(5):  # admin: exempt from its first request, and no RateLimit headers
            resp = await c.get("/v1/things/1", headers=root)
            assert resp.status_code == 200 and "ratelimit-limit" not in resp.headers
    assert verified.count("good-alice") == 1 and verified.count("good-root") == 1  # once per token


async def test_token_cache_is_bounded() -> None:
    lim = limiter("100/60s", clock=Clock(0.0))
    app = app_with_limits(lim, token_cache=3)
    async with client(app) as c:
        for i in range(10):
            await c.get("/v1/things/1", headers={"authorization": f"Bearer good-u{i}"})
    middleware = app.middleware_stack
    while not isinstance(middleware, RateLimitMiddleware):
        middleware = middleware.app
    assert len(middleware._tokens) == 3


async def test_leased_middleware_waits_for_its_first_lease() -> None:
    clock = Clock(0.0)
    coord = QuotaCoordinator(lease_s=5.0, clock=clock)
    calls = []

    async def call(request: dict[str, Any]) -> dict[str, Any]:
        calls.append(request)
        await asyncio.sleep(0.01)  # a round trip: concurrent first requests wait for the same one
        return coord.lease(request)

    quota = LeasedQuota(call, "r", renew_s=1.0, clock=clock)
    lim = RateLimiter(RateLimitRules("2/60s", {}, {}), quota, clock=clock)
    async with client(app_with_limits(lim)) as c:
        first = await asyncio.gather(*(c.get(f"/v1/things/{i}") for i in range(3)))
        assert sorted(r.status_code for r in first) == [200, 200, 429]
        assert len(calls) == 1
        clock.t = 1.5  # due: renewed in the background, the request does not wait
        assert (await c.get("/v1/things/1")).status_code == 429
        await asyncio.sleep(0.05)
        assert len(calls) == 2 and calls[1]["applied"] == 1 and calls[1]["demand"]
    assert quota.applied == 2 and quota.shares == {lim.rules.default.id: 2}


def test_limiter_from_settings() -> None:
    settings = types.SimpleNamespace(ratelimit_default="5/1s", ratelimit_routes={"/v1/x/*": "1/1s"},
                                     ratelimit_roles={"ops": 3}, ratelimit_max_keys=10, ratelimit_max_runs=8)
    lim = RateLimiter.from_settings(settings)
    assert lim.rules.default.limit == 5 and lim.rules.rule_for("GET", "/v1/x/y").limit == 1
    assert lim.rules.multiplier(("ops",)) == 3 and lim.max_keys == 10 and lim.max_runs == 8
    assert lim.rules.rule_for("POST", "/v1/auth/login").limit == 10  # built-in rules stay
    assert lim.rules.multiplier(("admin",)) is None
    defaults = RateLimiter.from_settings(object())
    assert defaults.rules.rule_for("POST", "/v1/auth/login").limit == 10
    assert defaults.rules.default.limit == 600 and defaults.max_runs == 64
    lifted = RateLimiter.from_settings(types.SimpleNamespace(ratelimit_routes={"POST /v1/auth/login": "unlimited"},
                                                             ratelimit_roles={"admin": 1}))
    assert lifted.rules.rule_for("POST", "/v1/auth/login").limit is None
    assert lifted.rules.multiplier(("admin",)) == 1


def test_route_matcher_follows_fastapi() -> None:
    app = FastAPI()
    inner = APIRouter(prefix="/v1/x")

    @inner.get("/items/{item_id}")
    async def item(item_id: str) -> None: ...

    @inner.get("/items/special")
    async def special() -> None: ...  # declared later: /items/{item_id} wins, as in FastAPI

    outer = APIRouter()
    outer.include_router(inner, prefix="/pre")
    app.include_router(inner)
    app.include_router(outer)

    @app.get("/health")
    async def health() -> None: ...

    match = RouteMatcher(app)
    assert match.match("GET", "/v1/x/items/3")[0] == "/v1/x/items/{item_id}"
    assert match.match("GET", "/v1/x/items/special")[0] == "/v1/x/items/{item_id}"
    assert match.match("GET", "/pre/v1/x/items/3")[0] == "/pre/v1/x/items/{item_id}"
    assert match.match("DELETE", "/v1/x/items/3")[0] == "/v1/x/items/{item_id}"  # a 405: same route
    assert match.match("GET", "/health")[0] == "/health"
    assert match.match("GET", "/nothing/here") == (UNMATCHED, None)
    assert match.match("GET", "/docs")[0] == "/docs"


async def test_with_the_real_bearer_auth_and_its_keys() -> None:
    security = InProcessSecurity.started()  # a real aria_security, in-process
    auth = BearerAuth()
    app = FastAPI(dependencies=[Depends(auth)])
    install_problem_handlers(app)
    app.state.clients = {"aria_security": LocalClient(security)}

    @app.get("/v1/x/{item}")
    async def item(item: str) -> dict[str, str]:
        return {"item": item}

    lim = limiter("2/60s", clock=Clock(0.0))
    app.add_middleware(RateLimitMiddleware, limiter=lim, verify=bearer_verify(auth))

    async def bearer(sub: str) -> dict[str, str]:
        token = await security.issue_token(Principal.operator(), sub, {"roles": ["viewer"], "tenant": "t1"}, 600)
        return {"authorization": f"Bearer {token}"}

    vic, eve = await bearer("vic"), await bearer("eve")
    async with client(app) as c:
        # no keys fetched yet: vic's first request counts as an unknown token from the address;
        # BearerAuth verifies it (fetching the JWKS) and the middleware learns vic
        assert [(await c.get("/v1/x/1", headers=vic)).status_code for _ in range(4)] == [200, 200, 200, 429]
        # now the keys are cached: eve counts as eve from her first request
        assert [(await c.get("/v1/x/1", headers=eve)).status_code for _ in range(3)] == [200, 200, 429]
        head, body, sig = vic["authorization"].split(".")
        forged = {"authorization": f"{head}.{body}.{sig[::-1]}"}  # vic's claims, a bad signature
        assert (await c.get("/v1/x/1", headers=forged)).status_code == 401  # the address's 2nd of 2
        assert (await c.get("/v1/x/1", headers=forged)).status_code == 429
    subjects = {key[0] for key in lim._windows}
    assert subjects == {"tok:10.0.0.1", "sub:vic", "sub:eve"}


async def test_install_from_settings() -> None:
    off = FastAPI()
    assert install_rate_limits(off, types.SimpleNamespace(ratelimit_enabled=False)) is None
    assert off.user_middleware == []
    app = FastAPI()

    @app.post("/v1/auth/login")
    async def login() -> dict[str, str]:
        return {}

    lim = install_rate_limits(app, types.SimpleNamespace(ratelimit_default="100/60s"))
    assert lim is not None
    async with client(app) as c:  # the built-in login rule: 10 a minute from one address
        codes = [(await c.post("/v1/auth/login")).status_code for _ in range(11)]
    assert codes == [200] * 10 + [429]


# --- hardening (review) ---------------------------------------------------------------------


def test_a_flood_of_keys_never_resets_a_credential_window() -> None:
    lim = limiter("1000/60s", routes={"POST /v1/auth/login": "3/60s"}, max_keys=50)
    for _ in range(3):
        assert lim.hit("addr:1.2.3.4", (), "POST", "/v1/auth/login", 0.0).allowed
    assert not lim.hit("addr:1.2.3.4", (), "POST", "/v1/auth/login", 0.1).allowed
    for i in range(5000):  # other routes, other keys: evicted among themselves
        lim.hit(f"addr:9.9.{i // 250}.{i % 250}", (), "GET", "/x", 0.2)
    assert not lim.hit("addr:1.2.3.4", (), "POST", "/v1/auth/login", 0.3).allowed
    # a flood of live login windows: new keys are refused (fail closed), the old ones are kept
    for i in range(60):
        lim.hit(f"addr:8.8.{i}.1", (), "POST", "/v1/auth/login", 0.4)
    assert not lim.hit("addr:1.2.3.4", (), "POST", "/v1/auth/login", 0.5).allowed
    assert not lim.hit("addr:7.7.7.7", (), "POST", "/v1/auth/login", 0.5).allowed
    assert lim.hit("addr:7.7.7.7", (), "POST", "/v1/auth/login", 61.0).allowed  # expired ones make room


def test_made_up_methods_share_one_window_per_route() -> None:
    lim = limiter("2/60s")
    assert lim.hit("a", (), "PROPFIND", "/x", 0.0).allowed
    assert lim.hit("a", (), "M-SEARCH", "/x", 0.0).allowed
    assert not lim.hit("a", (), "QUERY", "/x", 0.0).allowed


async def test_ipv6_callers_share_their_slash_64_and_probes_are_unlimited() -> None:
    lim = RateLimiter(RateLimitRules("2/60s", {"POST /v1/things/login": "2/60s"}, {}))
    app = app_with_limits(lim)
    got = []
    for host in ("2001:db8::1", "2001:db8::2", "2001:db8::3"):
        async with client(app, host) as c:
            got.append((await c.get("/v1/things/a")).status_code)
    assert got == [200, 200, 429]
    async with client(app, "10.9.9.9") as c:
        assert {(await c.get("/health")).status_code for _ in range(20)} == {200}
    assert lim.rules.rule_for("GET", "/health").limit is None


async def test_a_token_buys_no_exemption_on_a_credential_route(monkeypatch: pytest.MonkeyPatch) -> None:
    import aria_actors.coordinate.ratelimit as rl

    monkeypatch.setitem(rl.CREDENTIAL_ROUTES, "POST /v1/things/login", "2/60s")
    app = app_with_limits(RateLimiter(RateLimitRules("100/60s", {"POST /v1/things/login": "2/60s"}, {})))
    async with client(app) as c:
        codes = [(await c.post("/v1/things/login", headers={"authorization": "Bearer good-root"})).status_code
                 for _ in range(2)]
        codes.append((await c.post("/v1/things/login", headers={"authorization": "Bearer junk"})).status_code)
        codes.append((await c.post("/v1/things/login")).status_code)
    assert codes == [200, 200, 429, 429]
