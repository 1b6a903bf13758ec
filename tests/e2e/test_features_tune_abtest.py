"""aria_tune's A/B tests of model versions through the gateway of the shared `aria up`: aria_shape's
traffic split between the served `base` and a registered candidate (the tiny model's checkpoint),
feedback scores through `POST /v1/shape/feedback`, no verdict while collecting (409), Welch's test
deciding and the winner promoted in aria_shape (audited), one running test per target, stop serving
the control again, bad input (4xx problems), viewers and editors refused (403), the CLI and the SDK.

The shared Aria serves `base` again at the end (the second test is stopped, which promotes its
control; a `finally` promotes `base` whatever happened)."""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem as _problem
from tests.fixtures.operator import until

RUN = uuid.uuid4().hex[:6]
PASSWORD = "e2e abtest passphrase"
# The tiny model aria_shape builds under ARIA_HOME with its default settings (aria_actors.shape.model.tiny_path).
TINY = "shape/tiny-qwen3-s0-v512-h64-l2-p200"
# Click-like scores of ten players, one per player and arm (a caller holds one vote per version):
# the control clicked 1 time in 5, the candidate 4 times in 5.
CONTROL_SCORES = [1.0, 0.0, 0.0, 0.0, 0.0] * 2
CANDIDATE_SCORES = [0.0, 1.0, 1.0, 1.0, 1.0] * 2


def _candidate(shared_aria: RunningAria, http: httpx.Client, name: str) -> str:
    tiny = Path(shared_aria.home) / TINY
    until(lambda: (tiny / "config.json").exists(), "the tiny model built by aria_shape", timeout=300)
    r = http.put(f"/v1/shape/models/{name}", json={"path": str(tiny), "metrics": {"e2e": RUN}})
    assert r.status_code in (200, 201), r.text[:500]
    return name


def _complete(http: httpx.Client, key: str) -> dict[str, Any]:
    r = http.post("/v1/shape/complete", json={"prompt": "Traits: calm.\nDescription:", "key": key, "max_new_tokens": 1})
    assert r.status_code == 200, r.text[:300]
    return r.json()  # type: ignore[no-any-return]


def _players(aria: AriaClient, base_url: str, stack: ExitStack, count: int) -> list[httpx.Client]:
    """``count`` editors, each with a client logged in as them."""
    out = []
    for i in range(count):
        user = f"ab-player-{i}-{RUN}"
        aria.auth.create_user(user, PASSWORD, roles=["editor"])
        player = stack.enter_context(httpx.Client(base_url=base_url, timeout=120))
        token = player.post("/v1/auth/login", json={"username": user, "password": PASSWORD}).raise_for_status()
        player.headers["authorization"] = f"Bearer {token.json()['access_token']}"
        out.append(player)
    return out


def _score(player: httpx.Client, version: str, key: str, value: float) -> None:
    """The player's score of ``version``, given on a response it served them (routing is sticky
    per ``key``)."""
    answer = _complete(player, key)
    assert answer["version"] == version
    r = player.post("/v1/shape/feedback", json={"version": version, "response_id": answer["response_id"],
                                                "value": value})
    assert r.status_code == 204, r.text[:300]


def test_a_better_candidate_is_promoted_by_the_significance_test(shared_aria: RunningAria, http: httpx.Client,
                                                                aria: AriaClient) -> None:
    candidate = _candidate(shared_aria, http, f"ab-cand-{RUN}")
    name = f"ab-{RUN}"
    env = {"ARIA_TOKEN": shared_aria.token()}
    stack = ExitStack()
    try:
        r = http.post("/v1/tune/ab-tests", json={"name": name, "target": "aria_shape", "control": "base",
                                                 "candidate": candidate, "share": 0.5, "min_samples": 10})
        assert r.status_code == 201, r.text[:500]
        made = r.json()
        assert made["status"] == "running" and made["split"] == "ours" and made["result"]["verdict"] == "collecting"
        traffic = http.get("/v1/shape/traffic").json()
        assert traffic["weights"] == {"base": 0.5, candidate: 0.5}
        # one running test per target
        other = http.post("/v1/tune/ab-tests", json={"name": f"{name}-x", "target": "aria_shape",
                                                     "control": "base", "candidate": candidate})
        _problem(other, 409, "tune-ab-test-conflict")
        keys = {v: next(k for k in (f"user-{i}" for i in range(1000)) if _complete(http, k)["version"] == v)
                for v in ("base", candidate)}
        players = _players(aria, shared_aria.url, stack, len(CONTROL_SCORES))
        for player, low, high in list(zip(players, CONTROL_SCORES, CANDIDATE_SCORES, strict=True))[:4]:
            _score(player, "base", keys["base"], low)
            _score(player, candidate, keys[candidate], high)
        early = http.post(f"/v1/tune/ab-tests/{name}/decide")
        assert _problem(early, 409, "tune-ab-test-conflict")["verdict"] == "collecting"
        for player, low, high in list(zip(players, CONTROL_SCORES, CANDIDATE_SCORES, strict=True))[4:]:
            _score(player, "base", keys["base"], low)
            _score(player, candidate, keys[candidate], high)
        # A player scoring again replaces its own vote: a caller cannot weigh more than one.
        _score(players[0], candidate, keys[candidate], 1.0)
        _score(players[0], candidate, keys[candidate], 1.0)
        bad = http.post("/v1/shape/feedback", json={"version": candidate, "response_id": "forged.id", "value": 1})
        _problem(bad, 404, "shape-unknown-response")
        live = aria.tune.ab_test(name)["result"]
        assert live["control"]["n"] == live["candidate"]["n"] == 10
        assert live["control"]["mean"] == 0.2 and live["candidate"]["mean"] == 0.9
        assert live["verdict"] == "candidate" and live["p_value"] < 0.01 and live["ci_low"] > 0.3
        assert live["method"] == "sequential" and live["decision_p_value"] < 0.05  # the rule that decides
        shown = shared_aria.aria("tune", "ab", "show", name, env=env)
        assert shown.returncode == 0 and "verdict candidate" in shown.stdout, shown.stderr
        assert "always-valid p" in shown.stdout
        decided = shared_aria.aria("tune", "ab", "decide", name, env=env)
        assert decided.returncode == 0, decided.stderr
        assert "promoted" in decided.stdout and f"winner {candidate}" in decided.stdout
        done = http.get(f"/v1/tune/ab-tests/{name}").json()
        assert done["status"] == "promoted" and done["winner"] == candidate
        assert done["result"]["promotion"]["promoted"] == candidate
        assert http.get("/v1/shape/traffic").json() is None  # the split ended with the promotion
        events = aria.security.audit(100, op="tune.abtest.decide")
        assert any(name in (e.get("target") or "") and e.get("actor") == "svc:aria_tune" for e in events)
        assert name in [t["name"] for t in aria.tune.ab_tests(status="promoted")]
        listed = shared_aria.aria("tune", "ab", "ls", env=env)
        assert listed.returncode == 0 and name in listed.stdout
        _problem(http.post(f"/v1/tune/ab-tests/{name}/decide"), 409, "tune-ab-test-conflict")

        # A second test, stopped without a verdict: the control (base) is served to everyone again.
        second = aria.tune.start_ab_test(f"{name}-2", "aria_shape", "base", candidate, min_samples=10, method="fixed")
        assert second["status"] == "running" and (second["method"], second["effect"]) == ("fixed", None)
        stopped = shared_aria.aria("tune", "ab", "stop", f"{name}-2", env=env)
        assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stderr
        assert aria.tune.ab_test(f"{name}-2")["result"]["promotion"]["promoted"] == "base"
    finally:
        stack.close()
        http.post("/v1/shape/promote", json={"version": "base"})


def test_bad_input_is_a_clear_problem(http: httpx.Client) -> None:
    good = {"name": f"bad-{RUN}", "target": "aria_shape", "control": "base", "candidate": "v2"}
    for change in ({"share": 0}, {"share": 1.5}, {"alpha": 0.9}, {"min_samples": 1}, {"target": "aria_engine"},
                   {"name": "no spaces"}, {"direction": "up"}, {"extra": 1}, {"control": "../x"},
                   {"method": "peeking"}, {"effect": 0}, {"effect": 11}):
        _problem(http.post("/v1/tune/ab-tests", json={**good, **change}), 422, "validation")
    _problem(http.post("/v1/tune/ab-tests", json={**good, "candidate": "base"}), 400, "bad-request")
    _problem(http.post("/v1/tune/ab-tests", json={**good, "max_samples": 5, "min_samples": 10}), 400, "bad-request")
    _problem(http.post("/v1/tune/ab-tests", json={**good, "method": "fixed", "effect": 0.3}), 400, "bad-request")
    _problem(http.post("/v1/tune/ab-tests", json={**good, "study": f"no-study-{RUN}"}), 404, "tune-unknown-study")
    _problem(http.get(f"/v1/tune/ab-tests/missing-{RUN}"), 404, "tune-unknown-ab-test")
    _problem(http.post(f"/v1/tune/ab-tests/missing-{RUN}/decide"), 404, "tune-unknown-ab-test")
    _problem(http.get("/v1/tune/ab-tests", params={"status": "maybe"}), 422, "validation")
    # a candidate aria_shape does not know: the split is refused there and the test ends stopped
    r = http.post("/v1/tune/ab-tests", json={**good, "candidate": f"unknown-{RUN}"})
    assert 400 <= r.status_code < 500, r.text[:300]
    assert http.get(f"/v1/tune/ab-tests/bad-{RUN}").json()["status"] == "stopped"


def test_viewers_and_editors_are_refused(shared_aria: RunningAria, aria: AriaClient) -> None:
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        assert anon.get("/v1/tune/ab-tests").status_code == 401
        for role in ("viewer", "editor"):
            user = f"ab-{role}-{RUN}"
            aria.auth.create_user(user, PASSWORD, roles=[role])
            token = anon.post("/v1/auth/login", json={"username": user, "password": PASSWORD}).raise_for_status()
            headers = {"authorization": f"Bearer {token.json()['access_token']}"}
            body = {"name": f"v-{RUN}", "target": "aria_shape", "control": "base", "candidate": "v2"}
            assert anon.post("/v1/tune/ab-tests", json=body, headers=headers).status_code == 403, role
            assert anon.post(f"/v1/tune/ab-tests/v-{RUN}/decide", headers=headers).status_code == 403, role
