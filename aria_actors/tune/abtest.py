"""aria_tune's A/B testing of model versions (the ``model-ab-testing`` feature): a candidate version
(a study's winner, a retrained model) against the served one in aria_shape's or aria_interpret's
traffic split, promoted only when a significance test says it is better.

::

    start_ab_test(name, target, control, candidate, share, alpha, min/max samples, direction, study?,
                  method (sequential | fixed), effect)
        ─► aria_tune.ab_tests row (running; one per target)
        ─► target.set_traffic({control: 1 - share, candidate: share})      as the caller
    ab_test(name) ─► target.traffic_report() as the caller ─► per arm n, mean, variance of the
        feedback the target records (shape: POST /v1/shape/feedback; interpret: feedback events of
        the users the split served) ─► mSPRT (sequential) or Welch's t-test (fixed) and the verdict
        (abtest_core.py)
    decide_ab_test(name) ─► the verdict: candidate ─► target.promote(candidate)  (status promoted)
                                          control / no-difference ─► target.promote(control) (kept)
                                          collecting / undecided ─► 409, nothing changes
        the decision claimed once (status ending, with the statistics), audited, then the target
        told, then the status set; a crash in between is finished by the next decide or stop
    stop_ab_test(name) ─► target.promote(control) (the split ends), status stopped; the same way

Guarantees and caveats
----------------------
- The target is called as the original caller: starting a test needs the target's right to change
  what it serves (``shape:model:promote@any`` / ``interpret:model:deploy@any``) besides
  ``tune:abtest:write@any``; reading one needs the target's traffic read right.
- A start is refused (409) while the target runs any split, and (aria_interpret, which says what
  it serves) when ``control`` is not the served version. The row comes first: a start whose split
  the target refuses (an unknown version, a model that does not load) or that cannot be audited
  ends ``stopped`` with the error; a crash between the row and the split leaves a running test
  whose report says ``split: none``, and stop ends it. The target's own right is asked before the
  row is written, so a caller who may not change what it serves leaves nothing behind.
- Someone changing the target's split by hand while a test runs: the report says ``replaced``
  and ``decide`` refuses (409); ``stop`` ends the test.
- The samples are the target's totals for the split: scores recorded before the test started
  are not in them (a split starts at zero); a split restored after a crash keeps them.
- No verdict before ``min_samples`` per arm. ``sequential`` (the default) may be decided as often as
  anyone likes: its error rate stays at alpha; ``fixed`` is for one look at a planned sample size
  (abtest_core.py).
"""

from __future__ import annotations

import re
from typing import Any

from aria_actors.data.pool import Database
from aria_actors.runtime.errors import BadRequest, ServiceUnavailable, brief
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import default_gate, rpc
from aria_actors.tune.abtest_core import METHODS, Arm, Rule, judge
from aria_actors.tune.abtest_store import ABTests, ABTestStore
from aria_actors.tune.audit import Hook, printable, record_event
from aria_actors.tune.errors import ABTestConflict, UnknownABTest
from aria_actors.tune.space import STUDY_NAME
from aria_actors.tune.targets import CLIENTS, client_class

TARGETS = CLIENTS  # the services whose traffic split a test runs in
NAME = STUDY_NAME  # a test is named as a study is
VERSION = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
DIRECTIONS = ("maximize", "minimize")
STATUSES = ("running", "ending", "promoted", "kept", "stopped")
# What the target checks when told to split or promote (as the caller), asked here before a row is written.
DEPLOY = {"aria_shape": "shape:model:promote", "aria_interpret": "interpret:model:deploy"}
MAX_SAMPLES = 10_000_000
MAX_EFFECT = 10.0  # standardised: ten standard deviations is no test any more
MAX_LIST = 1000


def _text(value: Any, pattern: str, field: str, what: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise BadRequest(f"{field} must be {what}", field=field)
    return value


def _test_name(value: Any) -> str:
    return _text(value, NAME, "name", "1-128 letters, digits and ._- (a letter or digit first)")


def _number(value: Any, field: str, low: float, high: float, *, open_low: bool = True) -> float:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and value == value
    if not ok or (value <= low if open_low else value < low) or value > high:
        raise BadRequest(f"{field} must be a number {'above' if open_low else 'from'} {low:g} up to {high:g}",
                         field=field)
    return float(value)


def _count(value: Any, field: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_SAMPLES:
        raise BadRequest(f"{field} must be an integer from {low} to {MAX_SAMPLES}", field=field)
    return value


class ABTesting:
    """Mixed into :class:`~aria_actors.tune.service.TuneService`; tests set the three seams below."""

    deps: Any
    _db: Database | None
    _ab_targets: dict[str, Any] | None = None  # target service -> a client-like object (tests)
    _ab_records: ABTests | None = None  # MemoryABTests (tests); else PostgreSQL over _db
    _ab_audit: Hook | None = None

    async def _study_for(self, caller: Principal, name: Any, action: str) -> dict[str, Any]: ...

    # -- seams ---------------------------------------------------------------------------------------
    def _ab_tests(self) -> ABTests:
        if self._ab_records is not None:
            return self._ab_records
        if self._db is not None:
            return ABTestStore(self._db)
        raise ServiceUnavailable("aria_tune has no database here (aria_data is not a dependency)", service="aria_data")

    def _ab_target(self, target: str) -> Any:
        if self._ab_targets is not None and target in self._ab_targets:
            return self._ab_targets[target]
        if self.deps.get(target) is None:
            raise ServiceUnavailable(f"{target} is not a dependency here", service=target)
        return self.deps.of(client_class(target))

    async def _ab_record_event(self, caller: Principal, op: str, target: str, outcome: str = "ok") -> None:
        await record_event(self.deps, self._ab_audit, caller, op, target, outcome=outcome)

    # -- the target's split --------------------------------------------------------------------------
    async def _split_of(self, caller: Principal, target: str) -> dict[str, Any] | None:
        """The target's split as ``{"weights": ..., "versions": {v: metrics}}``, None without one."""
        report = await self._ab_target(target).traffic_report(caller)
        if not report or not report.get("weights"):
            return None
        return report

    async def _promote(self, caller: Principal, target: str, version: str, reason: str) -> dict[str, Any]:
        client = self._ab_target(target)
        if target == "aria_interpret":
            return await client.promote(caller, version, reason)
        return await client.promote(caller, version)

    async def _test(self, name: Any) -> dict[str, Any]:
        name = _test_name(name)
        row = await self._ab_tests().get(name)
        if row is None:
            raise UnknownABTest(f"no A/B test {name!r}", name=name)
        return row

    @staticmethod
    def _rule(row: dict[str, Any]) -> Rule:
        return Rule(row["alpha"], row["min_samples"], row["max_samples"], row["direction"], row["method"],
                    row["effect"])

    async def _judged(self, caller: Principal, row: dict[str, Any]) -> dict[str, Any]:
        """The row with the live statistics (while running) or the recorded ones (after)."""
        out = dict(row)
        if row["status"] != "running":
            return out
        split = await self._split_of(caller, row["target"])
        ours = split is not None and _same_split(split["weights"], row)
        versions = (split or {}).get("versions") or {}
        out["split"] = "ours" if ours else ("none" if split is None else "replaced")
        out["result"] = judge(Arm.of(row["control"], versions.get(row["control"]) if ours else None),
                              Arm.of(row["candidate"], versions.get(row["candidate"]) if ours else None),
                              self._rule(row))
        return out

    # -- the RPC surface -----------------------------------------------------------------------------
    @rpc("tune:abtest:write", scope="any", feature="model-ab-testing")
    async def start_ab_test(self, caller: Principal, name: str, target: str, control: str, candidate: str,
                            share: float = 0.5, alpha: float = 0.05, min_samples: int = 100,
                            max_samples: int | None = None, direction: str = "maximize",
                            study: str | None = None, method: str = "sequential",
                            effect: float | None = None) -> dict[str, Any]:
        """Split ``target``'s traffic between ``control`` (the served version) and ``candidate``
        (``share`` of it) until ``decide_ab_test`` finds a significant difference; ``study`` names
        the study the candidate won (recorded, checked visible to the caller). ``method``:
        ``sequential`` (mSPRT, tuned to the standardised ``effect`` or spread over abtest_core's
        EFFECTS: decide may be polled) or
        ``fixed`` (Welch's p-value: one look at a planned sample size). Refused while the target
        runs a split already (409)."""
        name = _test_name(name)
        if not isinstance(target, str) or target not in TARGETS:
            raise BadRequest(f"target must be one of {sorted(TARGETS)}", field="target")
        control = _text(control, VERSION, "control", "a model version id")
        candidate = _text(candidate, VERSION, "candidate", "a model version id")
        if control == candidate:
            raise BadRequest("candidate must differ from control", field="candidate")
        share = _number(share, "share", 0.0, 0.99)
        alpha = _number(alpha, "alpha", 0.0, 0.2)
        min_samples = _count(min_samples, "min_samples", 2)
        if max_samples is not None and _count(max_samples, "max_samples", 2) < min_samples:
            raise BadRequest("max_samples must be at least min_samples", field="max_samples")
        if direction not in DIRECTIONS:
            raise BadRequest(f"direction must be one of {list(DIRECTIONS)}", field="direction")
        if method not in METHODS:
            raise BadRequest(f"method must be one of {list(METHODS)}", field="method")
        if effect is not None:
            if method != "sequential":
                raise BadRequest("effect tunes the sequential rule; the fixed one has none", field="effect")
            effect = _number(effect, "effect", 0.0, MAX_EFFECT)
        _require_target_right(caller, target)
        if study is not None:
            study = (await self._study_for(caller, study, "tune:study:read"))["name"]
        records = self._ab_tests()
        if await records.get(name) is not None:
            raise ABTestConflict(f"an A/B test named {name!r} exists already", name=name)
        report = await self._ab_target(target).traffic_report(caller) or {}
        if report.get("weights"):
            raise ABTestConflict(f"{target} runs a traffic split already ({sorted(report['weights'])}); promote a "
                                 "version or stop the test that made it first", name=name, target=target)
        served = report.get("served")  # aria_interpret says which version it serves; aria_shape does not
        if served is not None and served != control:
            raise BadRequest(f"control must be the version {target} serves now ({served!r})", field="control")
        row = {"name": name, "target": target, "control": control, "candidate": candidate, "share": share,
               "alpha": alpha, "min_samples": min_samples, "max_samples": max_samples, "direction": direction,
               "study": study, "started_by": caller.subject, "method": method, "effect": effect}
        made = await records.add(row)
        if made is None:
            running = await records.running(target)
            if await records.get(name) is not None:
                raise ABTestConflict(f"an A/B test named {name!r} exists already", name=name)
            raise ABTestConflict(f"{target} has a running A/B test ({running['name'] if running else '?'}); "
                                 "decide or stop it first", name=name, target=target)
        try:
            await self._ab_record_event(caller, "tune.abtest.start", f"{name}:{target}:{control}:{candidate}")
            await self._ab_target(target).set_traffic(caller, {control: 1.0 - share, candidate: share})
        except Exception as exc:
            if await records.claim(name, "stopped", None, {"error": printable(brief(exc), 500)}, caller.subject):
                await records.finish(name)
            raise
        return await self._judged(caller, made)

    @rpc("tune:abtest:read", scope="any", feature="model-ab-testing")
    async def ab_test(self, caller: Principal, name: str) -> dict[str, Any]:
        """The test with its statistics: per arm n, mean, variance; the difference, its confidence
        interval, Welch's p-value and the verdict (live while running, as decided after)."""
        return await self._judged(caller, await self._test(name))

    @rpc("tune:abtest:list", scope="any", feature="model-ab-testing")
    async def list_ab_tests(self, caller: Principal, status: str | None = None,
                            limit: int = 100) -> list[dict[str, Any]]:
        """The tests, newest first (without live statistics: ``ab_test`` reads them)."""
        if status is not None and status not in STATUSES:
            raise BadRequest(f"status must be one of {list(STATUSES)}", field="status")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise BadRequest(f"limit must be an integer from 1 to {MAX_LIST}", field="limit")
        return await self._ab_tests().list(status, limit)

    async def _end(self, caller: Principal, row: dict[str, Any], ending: str, winner: str | None,
                   result: dict[str, Any], reason: str) -> dict[str, Any]:
        """Claim the test (the decision recorded), audit it, tell the target, finish the record."""
        records = self._ab_tests()
        claimed = await records.claim(row["name"], ending, winner, result, caller.subject)
        if claimed is None:
            raise ABTestConflict(f"the A/B test {row['name']!r} was ended by another call meanwhile", name=row["name"])
        try:
            await self._ab_record_event(caller, _audit_op(ending), f"{row['name']}:{ending}:{winner or row['control']}")
        except Exception:
            await records.release(row["name"])  # not audited: not taken
            raise
        return await self._finish(caller, claimed, reason)

    async def _finish(self, caller: Principal, row: dict[str, Any], reason: str) -> dict[str, Any]:
        """Tell the target what a claimed test decided (the winner, or the control for a stop) and
        finish the record; a failure leaves it ``ending`` for the next decide or stop to finish."""
        served = row["winner"] or row["control"]
        split = await self._split_of(caller, row["target"])
        promotion: Any = "the test's split was gone: nothing promoted"
        if split is not None and _same_split(split["weights"], row):
            try:
                promotion = _plain(await self._promote(caller, row["target"], served, reason))
            except Exception:
                await self._ab_record_event(caller, _audit_op(row["ending"]), row["name"], outcome="error")
                raise
        done = await self._ab_tests().finish(row["name"], {**(row["result"] or {}), "promotion": promotion})
        if done is None:
            raise ABTestConflict(f"the A/B test {row['name']!r} was finished by another call meanwhile",
                                 name=row["name"])
        return done

    async def _running_or_finished(self, caller: Principal, name: Any) -> tuple[dict[str, Any], bool]:
        """``(test, True)`` for a running test; ``(test, False)`` for one a crash had left ``ending``,
        finished now as it was decided; 409 for one that has ended."""
        row = await self._test(name)
        _require_target_right(caller, row["target"])
        if row["status"] == "ending":
            return await self._finish(caller, row, f"A/B test {row['name']}: {row['ending']}"), False
        if row["status"] != "running":
            raise ABTestConflict(f"the A/B test {row['name']!r} is {row['status']} already", name=row["name"])
        return row, True

    @rpc("tune:abtest:decide", scope="any", feature="model-ab-testing")
    async def decide_ab_test(self, caller: Principal, name: str) -> dict[str, Any]:
        """Promote the winner when the verdict is in (candidate: ``promoted``; control, or no
        difference at max_samples: ``kept``); 409 while collecting or undecided. A test left
        ``ending`` by a crash is finished as it was decided."""
        row, running = await self._running_or_finished(caller, name)
        if not running:
            return row
        judged = await self._judged(caller, row)
        result = judged["result"]
        if judged["split"] != "ours":
            raise ABTestConflict(f"{row['target']}'s traffic split is not this test's ({judged['split']}); "
                                 "stop the test", name=row["name"], split=judged["split"])
        if result["winner"] is None:
            raise ABTestConflict(f"no verdict yet ({result['verdict']}): p = {result['p_value']}, "
                                 f"{result['samples_needed']} more samples per arm needed at least",
                                 name=row["name"], verdict=result["verdict"], p_value=result["p_value"])
        ending = "promoted" if result["verdict"] == "candidate" else "kept"
        return await self._end(caller, row, ending, result["winner"], result,
                               f"A/B test {row['name']}: {result['verdict']}")

    @rpc("tune:abtest:decide", scope="any", feature="model-ab-testing")
    async def stop_ab_test(self, caller: Principal, name: str) -> dict[str, Any]:
        """End the test without a verdict: the control is served to everyone again."""
        row, running = await self._running_or_finished(caller, name)
        if not running:
            return row
        judged = await self._judged(caller, row)
        return await self._end(caller, row, "stopped", None, judged["result"], f"A/B test {row['name']} stopped")


def _require_target_right(caller: Principal, target: str) -> None:
    """403 unless ``caller`` may change what ``target`` serves. The target decides as the caller
    when told; asked here first too, so that a caller without that right changes nothing here: no
    row (nor the target's one running test) at a start, no claimed decision at a decide or stop."""
    default_gate().require(caller, DEPLOY[target], {"tenant": "\0elsewhere"})


def _audit_op(ending: str) -> str:
    """The audit event of ending a test: a stop, or a decision."""
    return "tune.abtest.stop" if ending == "stopped" else "tune.abtest.decide"


def _same_split(weights: dict[str, Any], row: dict[str, Any]) -> bool:
    """Whether the target's split is the one the test set: its two versions at its share."""
    if set(weights) != {row["control"], row["candidate"]}:
        return False
    total = sum(float(w) for w in weights.values())
    return total > 0 and abs(float(weights[row["candidate"]]) / total - float(row["share"])) < 1e-9


def _plain(value: Any) -> Any:
    """What a target answered, kept in the record: JSON values only, and small."""
    if value is None or isinstance(value, bool | int | float | str):
        return value if not isinstance(value, str) else value[:500]
    if isinstance(value, dict):
        return {str(k)[:100]: _plain(v) for k, v in list(value.items())[:20]}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value[:20]]
    return str(value)[:200]

