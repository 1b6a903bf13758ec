"""aria_tune's A/B tests: Welch's test from the serving side's running sums matches the test on the
raw scores; the verdict waits for its samples; decide promotes the winner as the caller, once,
audited; bad input and a replaced split are refused; the target's own permission still holds."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from aria_actors.runtime.errors import BadRequest, Forbidden, ServiceUnavailable
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import Gate, RpcSpec, bind, default_gate, invoke
from aria_actors.runtime.service import Deps
from aria_actors.security.rbac import DEFAULT_ROLES
from aria_actors.shape.inference.traffic import TrafficSplit
from aria_actors.tune.abtest_core import EFFECTS, Arm, Rule, judge, msprt, welch
from aria_actors.tune.abtest_store import MemoryABTests
from aria_actors.tune.client import TuneClient
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import ABTestConflict, UnknownABTest, UnknownStudy
from aria_actors.tune.service import TuneService
from aria_actors.tune.testing import FakeQueue, MemoryStore

ADMIN = Principal("root", roles=("admin",))
OPERATOR = Principal("op", roles=("operator",))
EDITOR = Principal("ed", roles=("editor",), tenant="acme")


def _arm(version: str, scores: list[float]) -> Arm:
    """An arm as the serving side reports it: through TrafficSplit's running count, sum and sum of squares."""
    split = TrafficSplit({version: 1.0})
    for s in scores:
        split.feedback(version, s)
    return Arm.of(version, split.report()["versions"][version])  # type: ignore[index]


@pytest.mark.parametrize("seed", range(5))
def test_welch_from_running_sums_matches_the_test_on_the_raw_scores(seed: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(seed)
    a = [rng.gauss(0.40, 0.3) for _ in range(rng.randint(20, 300))]
    b = [rng.gauss(0.45, 0.5) for _ in range(rng.randint(20, 300))]
    got = welch(_arm("a", a), _arm("b", b), 0.05)
    want = stats.ttest_ind(b, a, equal_var=False)
    assert got["t"] == pytest.approx(float(want.statistic), rel=1e-9)
    assert got["p_value"] == pytest.approx(float(want.pvalue), rel=1e-7)
    ci = want.confidence_interval(0.95)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((float(ci.low), float(ci.high)), rel=1e-7)


def test_clicks_a_clear_difference_is_found_and_none_is_not_invented() -> None:
    control = _arm("base", [1.0] * 100 + [0.0] * 900)  # 10 % click-through
    better = _arm("v2", [1.0] * 160 + [0.0] * 840)  # 16 %
    same = _arm("v3", [1.0] * 102 + [0.0] * 898)
    rule = Rule(alpha=0.05, min_samples=500)
    won = judge(control, better, rule)
    assert won["verdict"] == "candidate" and won["winner"] == "v2" and won["p_value"] < 1e-4
    assert won["ci_low"] > 0 and won["relative_lift"] == pytest.approx(0.6)
    tie = judge(control, same, rule)
    assert tie["verdict"] == "undecided" and tie["winner"] is None and tie["p_value"] > 0.5
    assert judge(control, same, Rule(min_samples=500, max_samples=1000))["verdict"] == "no-difference"
    worse = judge(better, control, rule)  # the candidate is the worse one: the control wins
    assert worse["verdict"] == "control" and worse["winner"] == "v2"
    lower = judge(better, control, Rule(min_samples=500, direction="minimize"))  # fewer is better
    assert lower["verdict"] == "candidate" and lower["winner"] == "base"


def test_no_verdict_before_the_minimum_samples_and_degenerate_arms() -> None:
    tiny = judge(_arm("a", [0.0] * 5), _arm("b", [1.0] * 5), Rule(min_samples=10))
    assert tiny["verdict"] == "collecting" and tiny["samples_needed"] == 5
    assert welch(_arm("a", [1.0]), _arm("b", [1.0, 2.0]), 0.05)["p_value"] is None  # one score: no variance
    # two constant arms: the test is undefined, whatever the means (no winner from rounding noise)
    for b in ([1.0] * 3, [2.0] * 3, [1e6] * 3):
        constant = welch(_arm("a", [1.0] * 3), _arm("b", b), 0.05)
        assert constant["p_value"] is None and constant["difference"] == b[0] - 1.0
    assert judge(_arm("a", [1.0] * 9), _arm("b", [2.0] * 9), Rule(min_samples=2))["verdict"] == "undecided"
    # scores that share most of their digits: no variance invented, no overflow at the bound
    big = _arm("a", [1e6 - 1e-4, 1e6 + 1e-4] * 50)
    assert big.variance == 0.0
    assert _arm("b", [-1e6, 1e6] * 1000).variance == pytest.approx(1e12 * 2000 / 1999, rel=1e-9)
    # a variance the target does not report (an older split): no p-value
    assert welch(Arm("a", 50, 0.2, None), Arm("b", 50, 0.8, 0.1), 0.05)["p_value"] is None
    assert Arm.of("a", {"feedback_count": 9, "mean_feedback": 0.5, "feedback_variance": float("nan")}).variance is None
    assert judge(Arm.of("a", None), Arm.of("b", None), Rule(min_samples=2))["verdict"] == "collecting"


class _Sums:
    """An arm's running count, sum and sum of squares, as the serving side keeps them."""

    def __init__(self) -> None:
        self.n, self.total, self.squares = 0, 0.0, 0.0

    def add(self, x: float) -> None:
        self.n, self.total, self.squares = self.n + 1, self.total + x, self.squares + x * x

    def arm(self, version: str) -> Arm:
        mean = self.total / self.n
        return Arm(version, self.n, mean, max(0.0, (self.squares - self.n * mean * mean) / (self.n - 1)))


def _polled(methods: tuple[str, ...], effect_sd: float, sims: int, seed: int) -> dict[str, float]:
    """Per rule, the share of simulated tests that reach a verdict when decide is polled every 50
    scores per arm up to 2,000 (40 looks); both arms N(0, 1), the candidate's shifted by
    ``effect_sd``; the rules see the same scores."""
    rng = random.Random(seed)
    rules = {m: Rule(alpha=0.05, min_samples=50, method=m) for m in methods}
    decided = dict.fromkeys(methods, 0)
    for _ in range(sims):
        a, b = _Sums(), _Sums()
        pending = set(methods)
        for _look in range(40):
            for _ in range(50):
                a.add(rng.gauss(0.0, 1.0))
                b.add(rng.gauss(effect_sd, 1.0))
            for m in list(pending):
                if judge(a.arm("a"), b.arm("b"), rules[m])["winner"] is not None:
                    decided[m] += 1
                    pending.discard(m)
            if not pending:
                break
    return {m: n / sims for m, n in decided.items()}


def test_polling_decide_finds_no_difference_that_is_not_there_only_with_the_sequential_rule() -> None:
    # No difference, decide polled 40 times: Welch's p-value crosses 0.05 at some look far more
    # often than 5 % of the time; the mSPRT's does not (Ville's inequality), and it still finds a
    # real difference of a fifth of a standard deviation within 2,000 scores per arm.
    pytest.importorskip("scipy.stats")
    null = _polled(("fixed", "sequential"), 0.0, 100, seed=3)
    assert null["fixed"] > 0.12 and null["sequential"] <= 0.05, null
    assert _polled(("sequential",), 0.2, 30, seed=4)["sequential"] >= 0.8


def test_the_mixture_ratio_against_its_closed_form_and_at_the_extremes() -> None:
    control, candidate = Arm("a", 400, 0.10, 0.09), Arm("b", 400, 0.16, 0.1344)
    v = 0.09 / 400 + 0.1344 / 400
    tau2 = 0.2 ** 2 * (0.09 + 0.1344) / 2
    want = math.sqrt(v / (v + tau2)) * math.exp(0.06 ** 2 * tau2 / (2 * v * (v + tau2)))
    got = msprt(control, candidate, (0.2,))
    assert got["likelihood_ratio"] == pytest.approx(want, rel=1e-12)
    assert got["always_valid_p_value"] == pytest.approx(min(1.0, 1 / want), rel=1e-12)
    # the default: the mean of the ratios over EFFECTS (a mean of martingales is one)
    mixed = msprt(control, candidate)
    assert mixed["likelihood_ratio"] == pytest.approx(
        sum(msprt(control, candidate, (e,))["likelihood_ratio"] for e in EFFECTS) / len(EFFECTS), rel=1e-12)
    # no difference: a ratio below one (p 1); a huge one: no overflow, p 0
    assert msprt(Arm("a", 50, 0.5, 0.1), Arm("b", 50, 0.5, 0.1))["always_valid_p_value"] == 1.0
    huge = msprt(Arm("a", 10_000, 0.0, 1e-12), Arm("b", 10_000, 1.0, 1e-12))
    assert huge["always_valid_p_value"] == 0.0 and math.isfinite(huge["likelihood_ratio"])
    beyond = msprt(Arm("a", 10, -1e160, 1.0), Arm("b", 10, 1e160, 1.0))  # d^2 / V overflows a float
    assert beyond["always_valid_p_value"] == 0.0 and math.isfinite(beyond["likelihood_ratio"])
    assert judge(Arm("a", 10, -1e160, 1.0), Arm("b", 10, 1e160, 1.0), Rule(min_samples=2))["verdict"] == "candidate"
    for undefined in (Arm("b", 1, 0.5, None), Arm("b", 50, 0.5, None), Arm("b", 50, 0.5, 0.0)):
        assert msprt(Arm("a", 50, 0.5, 0.0), undefined)["always_valid_p_value"] is None
    # the rule's own p-value decides; Welch's is reported under both
    fixed = judge(control, candidate, Rule(min_samples=100, method="fixed"))
    sequential = judge(control, candidate, Rule(min_samples=100))
    assert fixed["decision_p_value"] == fixed["p_value"]
    assert sequential["decision_p_value"] == mixed["always_valid_p_value"]
    tuned = judge(control, candidate, Rule(min_samples=100, effect=0.2))
    assert tuned["decision_p_value"] == got["always_valid_p_value"] and tuned["effect"] == 0.2
    # a large effect on a handful of scores: the mixture decides where a test tuned to 0.2 sd cannot
    few_a, few_b = _arm("a", [1.0, 0.0, 0.0, 0.0, 0.0] * 2), _arm("b", [1.0] * 9 + [0.0])
    assert judge(few_a, few_b, Rule(min_samples=10))["verdict"] == "candidate"
    assert judge(few_a, few_b, Rule(min_samples=10, effect=0.2))["verdict"] == "undecided"
    assert sequential["p_value"] == fixed["p_value"] and sequential["method"] == "sequential"


# -- the RPC surface -------------------------------------------------------------------------------
class FakeTarget:
    """A serving service's split, as aria_shape answers: set_traffic, traffic_report, promote,
    each checked as its caller with the service's own permission."""

    DEPLOY, READ = "shape:model:promote", "shape:traffic:read"  # the service's own permissions

    def __init__(self, versions: set[str]) -> None:
        self.versions = versions
        self.split: TrafficSplit | None = None
        self.served = "base"
        self.calls: list[tuple[str, str]] = []
        self.gate = default_gate()

    def _check(self, caller: Principal, action: str) -> None:
        self.gate.check(RpcSpec(action, action, "any"), caller)  # type: ignore[arg-type]

    async def set_traffic(self, caller: Principal, weights: dict[str, float], seed: int = 0) -> dict[str, Any]:
        self._check(caller, self.DEPLOY)
        self.calls.append(("set_traffic", caller.subject))
        unknown = set(weights) - self.versions
        if unknown:
            raise BadRequest(f"unknown versions {sorted(unknown)}", field="weights")
        self.split = TrafficSplit(weights, seed)
        return self.split.report()

    async def traffic_report(self, caller: Principal) -> dict[str, Any] | None:
        self._check(caller, self.READ)
        return self.split.report() if self.split else None

    async def promote(self, caller: Principal, version: str) -> dict[str, Any]:
        self._check(caller, self.DEPLOY)
        self.calls.append(("promote", caller.subject))
        self.served, self.split = version, None
        return {"promoted": version, "removed": []}


@pytest.fixture
async def tune() -> Iterator[TuneService]:
    service = TuneService(SimpleNamespace(health_timeout_s=5.0), TuneSettings(sweep_interval_s=3600),
                          store=MemoryStore(), queue=FakeQueue())
    await service.start(Deps())
    service._ab_records = MemoryABTests()
    service._ab_targets = {"aria_shape": FakeTarget({"base", "v2", "v3"})}
    service._ab_audit = _audited(service)
    yield service
    await service.stop()


def _audited(service: TuneService) -> Any:
    events: list[dict[str, Any]] = []
    service.audited = events  # type: ignore[attr-defined]

    async def audit(event: dict[str, Any]) -> None:
        events.append(event)
    return audit


def _target(tune: TuneService) -> FakeTarget:
    return tune._ab_targets["aria_shape"]  # type: ignore[index, no-any-return]


def _feed(tune: TuneService, version: str, scores: list[float]) -> None:
    split = _target(tune).split
    assert split is not None
    for s in scores:
        split.feedback(version, s)


async def test_a_better_candidate_is_promoted_once_its_samples_are_in(tune: TuneService) -> None:
    made = await invoke(tune, "start_ab_test", (OPERATOR, "t1", "aria_shape", "base", "v2"),
                        {"share": 0.3, "min_samples": 200})
    assert made["status"] == "running" and made["split"] == "ours"
    assert _target(tune).split.weights == {"base": pytest.approx(0.7), "v2": 0.3}  # type: ignore[union-attr]
    rng = random.Random(1)
    _feed(tune, "base", [float(rng.random() < 0.10) for _ in range(150)])
    _feed(tune, "v2", [float(rng.random() < 0.30) for _ in range(150)])
    early = await invoke(tune, "ab_test", (OPERATOR, "t1"), {})
    assert early["result"]["verdict"] == "collecting" and early["result"]["samples_needed"] == 50
    with pytest.raises(ABTestConflict, match="no verdict yet"):
        await invoke(tune, "decide_ab_test", (OPERATOR, "t1"), {})
    assert _target(tune).served == "base"
    _feed(tune, "base", [float(rng.random() < 0.10) for _ in range(100)])
    _feed(tune, "v2", [float(rng.random() < 0.30) for _ in range(100)])
    done = await invoke(tune, "decide_ab_test", (OPERATOR, "t1"), {})
    assert done["status"] == "promoted" and done["winner"] == "v2" and done["decided_by"] == "op"
    assert done["result"]["p_value"] < 0.05 and done["result"]["promotion"]["promoted"] == "v2"
    assert done["result"]["method"] == "sequential" and done["result"]["decision_p_value"] < 0.05
    assert _target(tune).served == "v2" and ("promote", "op") in _target(tune).calls  # as the caller
    assert tune.audited[-1]["op"] == "tune.abtest.decide" and "v2" in tune.audited[-1]["target"]  # type: ignore[attr-defined]
    with pytest.raises(ABTestConflict, match="promoted already"):
        await invoke(tune, "decide_ab_test", (OPERATOR, "t1"), {})
    shown = await invoke(tune, "ab_test", (OPERATOR, "t1"), {})
    assert shown["result"]["verdict"] == "candidate"  # as decided, not live
    assert [t["name"] for t in await invoke(tune, "list_ab_tests", (OPERATOR,), {"status": "promoted"})] == ["t1"]


async def test_the_rule_travels_by_keyword_through_a_typed_client(tune: TuneService) -> None:
    # what the route does: the transport's own first parameter is also called "method"
    client = bind(TuneClient, LocalClient(tune))
    made = await client.start_ab_test(ADMIN, "kw", "aria_shape", "base", "v2", 0.5, 0.05, 10, None, "maximize",
                                      None, method="fixed")
    assert (made["method"], made["effect"]) == ("fixed", None) and made["result"]["method"] == "fixed"


async def test_one_running_test_per_target_and_stop_serves_the_control(tune: TuneService) -> None:
    await invoke(tune, "start_ab_test", (ADMIN, "a", "aria_shape", "base", "v2"), {"min_samples": 10})
    with pytest.raises(ABTestConflict, match="traffic split already"):
        await invoke(tune, "start_ab_test", (ADMIN, "b", "aria_shape", "base", "v3"), {})
    _target(tune).split = None  # the split gone by hand: the test still holds the target
    with pytest.raises(ABTestConflict, match="running A/B test"):
        await invoke(tune, "start_ab_test", (ADMIN, "b", "aria_shape", "base", "v3"), {})
    await _target(tune).set_traffic(ADMIN, {"base": 0.5, "v2": 0.5})
    with pytest.raises(ABTestConflict, match="exists already"):
        await invoke(tune, "start_ab_test", (ADMIN, "a", "aria_shape", "base", "v3"), {})
    stopped = await invoke(tune, "stop_ab_test", (ADMIN, "a"), {})
    assert stopped["status"] == "stopped" and _target(tune).served == "base" and _target(tune).split is None
    again = await invoke(tune, "start_ab_test", (ADMIN, "b", "aria_shape", "base", "v3"), {})
    assert again["status"] == "running"


async def test_a_split_the_target_refuses_ends_the_test_and_a_replaced_split_is_not_decided(tune: TuneService) -> None:
    with pytest.raises(BadRequest, match="unknown versions"):
        await invoke(tune, "start_ab_test", (ADMIN, "bad", "aria_shape", "base", "nope"), {})
    assert (await invoke(tune, "ab_test", (ADMIN, "bad"), {}))["status"] == "stopped"
    await invoke(tune, "start_ab_test", (ADMIN, "r", "aria_shape", "base", "v2"), {"min_samples": 2})
    await _target(tune).set_traffic(ADMIN, {"base": 1.0, "v3": 1.0})  # someone changed it by hand
    assert (await invoke(tune, "ab_test", (ADMIN, "r"), {}))["split"] == "replaced"
    with pytest.raises(ABTestConflict, match="not this test's"):
        await invoke(tune, "decide_ab_test", (ADMIN, "r"), {})


async def test_bad_input_is_refused_naming_the_field(tune: TuneService) -> None:
    cases = [("name", {"name": "bad name!"}), ("target", {"target": "aria_engine"}),
             ("control", {"control": ""}), ("candidate", {"candidate": "base"}), ("share", {"share": 0}),
             ("share", {"share": 1.0}), ("alpha", {"alpha": 0.5}), ("alpha", {"alpha": float("nan")}),
             ("min_samples", {"min_samples": 1}), ("min_samples", {"min_samples": True}),
             ("max_samples", {"max_samples": 5, "min_samples": 10}), ("direction", {"direction": "up"}),
             ("method", {"method": "bayesian"}), ("effect", {"effect": 0}), ("effect", {"effect": 11}),
             ("effect", {"effect": float("inf")}), ("effect", {"effect": float("nan")}), ("effect", {"effect": True}),
             ("effect", {"effect": 0.3, "method": "fixed"})]
    base = {"name": "x", "target": "aria_shape", "control": "base", "candidate": "v2"}
    for field, change in cases:
        args = {**base, **change}
        with pytest.raises(BadRequest) as got:
            await invoke(tune, "start_ab_test", (ADMIN,), args)
        assert got.value.fields["field"] == field, (field, change)
    with pytest.raises(UnknownStudy):
        await invoke(tune, "start_ab_test", (ADMIN,), {**base, "study": "no-such-study"})
    with pytest.raises(UnknownABTest):
        await invoke(tune, "ab_test", (ADMIN, "missing"), {})
    with pytest.raises(BadRequest):
        await invoke(tune, "list_ab_tests", (ADMIN,), {"status": "maybe"})
    assert await invoke(tune, "list_ab_tests", (ADMIN,), {}) == []  # nothing was recorded


async def test_who_may_start_and_decide(tune: TuneService) -> None:
    # An editor holds tune:*:* in its tenant only: A/B tests change what everyone is served (@any).
    with pytest.raises(Forbidden):
        await invoke(tune, "start_ab_test", (EDITOR, "e", "aria_shape", "base", "v2"), {})
    # tune:abtest:*@any alone is not enough: the target checks its own right, as the caller.
    gate = Gate({**DEFAULT_ROLES, "tuner": ("tune:abtest:*@any",)})
    _target(tune).gate = gate
    tuner = Principal("tuner", roles=("tuner",))
    with pytest.raises(Forbidden):
        await invoke(tune, "start_ab_test", (tuner, "e", "aria_shape", "base", "v2"), {}, gate=gate)
    assert _target(tune).split is None
    viewer = Principal("vi", roles=("viewer",))
    with pytest.raises(Forbidden):
        await invoke(tune, "ab_test", (viewer, "e"), {})
    # a service token passes tune:abtest:write@any (*:*:write@any) but may not promote models
    service = Principal("svc", roles=("service",), kind="service")
    with pytest.raises(Forbidden):
        await invoke(tune, "start_ab_test", (service, "s", "aria_shape", "base", "v2"), {})
    assert await invoke(tune, "list_ab_tests", (ADMIN,), {}) == []  # nothing recorded by the refusals
    # nor may the tuner decide or stop another's test: refused before the test is claimed
    await invoke(tune, "start_ab_test", (ADMIN, "d", "aria_shape", "base", "v2"), {"min_samples": 2})
    _feed(tune, "base", [0.0, 0.1, 0.0, 0.1])
    _feed(tune, "v2", [1.0, 0.9, 1.0, 0.9])
    for method in ("decide_ab_test", "stop_ab_test"):
        with pytest.raises(Forbidden):
            await invoke(tune, method, (tuner, "d"), {}, gate=gate)
    assert (await invoke(tune, "ab_test", (ADMIN, "d"), {}))["status"] == "running"
    assert not [c for c in _target(tune).calls if c[0] == "promote"]


async def test_a_decision_that_cannot_be_audited_is_not_taken(tune: TuneService) -> None:
    await invoke(tune, "start_ab_test", (ADMIN, "au", "aria_shape", "base", "v2"), {"min_samples": 2})
    _feed(tune, "base", [0.0, 0.1, 0.0, 0.1])
    _feed(tune, "v2", [1.0, 0.9, 1.0, 0.9])

    async def down(event: dict[str, Any]) -> None:
        raise ConnectionError("aria_security unreachable")
    tune._ab_audit = down
    with pytest.raises(ServiceUnavailable):
        await invoke(tune, "decide_ab_test", (ADMIN, "au"), {})
    assert _target(tune).served == "base" and (await invoke(tune, "ab_test", (ADMIN, "au"), {}))["status"] == "running"


async def test_two_decisions_at_once_promote_once(tune: TuneService) -> None:
    import asyncio

    await invoke(tune, "start_ab_test", (ADMIN, "race", "aria_shape", "base", "v2"), {"min_samples": 2})
    _feed(tune, "base", [0.0, 0.1, 0.0, 0.1])
    _feed(tune, "v2", [1.0, 0.9, 1.0, 0.9])
    got = await asyncio.gather(invoke(tune, "decide_ab_test", (ADMIN, "race"), {}),
                               invoke(tune, "stop_ab_test", (OPERATOR, "race"), {}), return_exceptions=True)
    assert sum(isinstance(g, ABTestConflict) for g in got) == 1, got
    assert len([c for c in _target(tune).calls if c[0] == "promote"]) == 1  # the target was told once


async def test_a_crash_between_claim_and_promotion_is_finished_by_the_next_call(tune: TuneService) -> None:
    await invoke(tune, "start_ab_test", (ADMIN, "crash", "aria_shape", "base", "v2"), {"min_samples": 2})
    _feed(tune, "base", [0.0, 0.1, 0.0, 0.1])
    _feed(tune, "v2", [1.0, 0.9, 1.0, 0.9])
    target = _target(tune)
    real = target.promote

    async def down(caller: Principal, version: str) -> dict[str, Any]:
        raise ConnectionError("aria_shape restarting")
    target.promote = down  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable):
        await invoke(tune, "decide_ab_test", (ADMIN, "crash"), {})
    left = await invoke(tune, "ab_test", (ADMIN, "crash"), {})
    assert left["status"] == "ending" and left["ending"] == "promoted" and left["winner"] == "v2"
    with pytest.raises(ABTestConflict):  # the target still holds the test
        await invoke(tune, "start_ab_test", (ADMIN, "next", "aria_shape", "base", "v3"), {})
    target.promote = real  # type: ignore[method-assign]
    done = await invoke(tune, "decide_ab_test", (ADMIN, "crash"), {})
    assert done["status"] == "promoted" and target.served == "v2"


async def test_a_start_that_cannot_be_audited_splits_nothing(tune: TuneService) -> None:
    async def down(event: dict[str, Any]) -> None:
        raise ConnectionError("aria_security unreachable")
    tune._ab_audit = down
    with pytest.raises(ServiceUnavailable):
        await invoke(tune, "start_ab_test", (ADMIN, "na", "aria_shape", "base", "v2"), {})
    assert _target(tune).split is None
    assert (await invoke(tune, "ab_test", (ADMIN, "na"), {}))["status"] == "stopped"


class FakeInterpret(FakeTarget):
    """aria_interpret's answers: the report names the served version (with or without a split),
    promote takes a reason."""

    DEPLOY, READ = "interpret:model:deploy", "interpret:model:read"

    def __init__(self, versions: set[str]) -> None:
        super().__init__(versions)
        self.served = "v1"
        self.reasons: list[str] = []

    async def traffic_report(self, caller: Principal) -> dict[str, Any] | None:  # type: ignore[override]
        self._check(caller, self.READ)
        if self.split is None:
            return {"traffic": None, "served": self.served}
        return {"served": self.served, **self.split.report()}

    async def promote(self, caller: Principal, version: str, reason: str = "") -> dict[str, Any]:  # type: ignore[override]
        self._check(caller, self.DEPLOY)
        self.reasons.append(reason)
        previous, self.served, self.split = self.served, version, None
        return {"served": version, "previous": previous}


async def test_aria_interpret_as_the_target_control_is_the_served_version(tune: TuneService) -> None:
    target = FakeInterpret({"v1", "v2"})
    tune._ab_targets = {"aria_interpret": target}
    with pytest.raises(BadRequest, match="serves now") as wrong:
        await invoke(tune, "start_ab_test", (OPERATOR, "i", "aria_interpret", "v2", "v1"), {})
    assert wrong.value.fields["field"] == "control" and target.split is None
    made = await invoke(tune, "start_ab_test", (OPERATOR, "i", "aria_interpret", "v1", "v2"),
                        {"min_samples": 50, "direction": "maximize"})
    assert made["split"] == "ours"
    rng = random.Random(3)
    for _ in range(60):
        target.split.feedback("v1", min(1.0, max(-1.0, rng.gauss(0.1, 0.5))))  # type: ignore[union-attr]
        target.split.feedback("v2", min(1.0, max(-1.0, rng.gauss(0.6, 0.5))))  # type: ignore[union-attr]
    done = await invoke(tune, "decide_ab_test", (OPERATOR, "i"), {})
    assert done["status"] == "promoted" and target.served == "v2"
    assert target.reasons == ["A/B test i: candidate"] and done["result"]["promotion"]["previous"] == "v1"
