"""aria_debugger's built features through the gateway of a running `aria up` (the shared one): a
CPU profile of a busy aria_engine with its flame graph, a memory snapshot, the runtime state of an
actor and of a Serve deployment, every service's settings with no secret in them, and a log level
change, from REST and `aria debugger`. Also who may do which, the audit trail, and bad requests."""

from __future__ import annotations

import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from aria_actors.runtime import introspect
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.settings import AriaSettings, sections
from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria

RUN = uuid.uuid4().hex[:6]
PASSWORD = "e2e debugger passphrase"
SERVICES = {s.name for s in all_specs()}
PLAN = {"domain": "gtpyhop-blocksworld-gtohp", "problem": "BW_rand_11"}
CSP = "default-src 'none'; style-src 'unsafe-inline'"
MASK = "**********"
URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/@:\s\"]*:(?!\*\*\*@)[^/@\s\"]+@")


@pytest.fixture(scope="module")
def accounts(shared_aria: RunningAria, aria: AriaClient) -> dict[str, dict[str, str]]:
    """An operator's and a viewer's bearer headers (logged in through aria_auth)."""
    out = {}
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        for role in ("operator", "viewer"):
            name = f"dbg-{role}-{RUN}"
            aria.auth.create_user(name, PASSWORD, roles=[role])
            token = anon.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
            out[role] = {"authorization": f"Bearer {token.raise_for_status().json()['access_token']}"}
    return out


def _problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")


class BusyEngine:
    """Two threads planning through the gateway until stopped: aria_engine is busy meanwhile."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.stop = threading.Event()
        self.plans = 0
        self.threads = [threading.Thread(target=self._plan, args=(url, headers), daemon=True) for _ in range(2)]

    def _plan(self, url: str, headers: dict[str, str]) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            while not self.stop.is_set():
                if client.post("/v1/engine/plan", json=PLAN).status_code == 200:
                    self.plans += 1

    def __enter__(self) -> BusyEngine:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def _engine_frames(lines: list[str]) -> int:
    return sum(int(line.rpartition(" ")[2]) for line in lines if "aria_actors/engine/" in line)


def test_a_busy_engine_is_profiled_and_drawn(shared_aria: RunningAria, http: httpx.Client,
                                             aria: AriaClient) -> None:
    with BusyEngine(shared_aria.url, dict(http.headers)) as busy:
        time.sleep(1)
        r = http.get("/v1/debugger/services/aria_engine/profile", params={"seconds": 3, "rate_hz": 100})
        assert r.status_code == 200, r.text[:500]
        got = r.json()
        svg = http.get("/v1/debugger/services/aria_engine/profile.svg", params={"seconds": 2})
    assert busy.plans > 0
    assert got["service"] == "aria_engine" and got["seconds"] == 3 and got["rate_hz"] == 100
    if introspect.py_spy_path() is not None:  # the same virtual environment as the actors'
        assert got["sampler"] == "py-spy", got["note"]
    assert got["samples"] > 0 and _engine_frames(got["folded"]) > 0, got["folded"][:5]
    assert not any(line.startswith("/") or ";/" in line for line in got["folded"])  # no absolute paths
    pids = {s["name"]: s["pid"] for s in http.get("/v1/services").raise_for_status().json()["services"]}
    assert int(got["pid"]) == int(pids["aria_engine"])
    root = ET.fromstring(got["svg"])
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any("aria_actors/engine/" in t for t in titles), titles[:10]
    # the SVG route: the flame graph alone, locked down
    assert svg.status_code == 200, svg.text[:500]
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.headers["content-security-policy"] == CSP and svg.headers["x-content-type-options"] == "nosniff"
    assert "aria_actors/engine/" in svg.text and "<script" not in svg.text
    ET.fromstring(svg.text)
    # both audited before they ran, as the debugger for the caller
    events = aria.security.audit(op="debugger.profile", actor="svc:aria_debugger", limit=50)
    targets = {e["target"] for e in events if e["outcome"] == "ok"}
    assert {"aria_engine seconds=3 rate_hz=100", "aria_engine seconds=2 rate_hz=100"} <= targets, events


def test_a_memory_snapshot_names_allocation_sites(http: httpx.Client, aria: AriaClient) -> None:
    r = http.get("/v1/debugger/services/aria_data/memory", params={"seconds": 1})
    assert r.status_code == 200, r.text[:500]
    got = r.json()
    assert got["service"] == "aria_data" and got["seconds"] == 1 and got["rss_bytes"] > 0
    assert len(got["sites"]) <= 50 and all(re.fullmatch(r"[^/].*:\d+", s["site"]) for s in got["sites"])
    assert [e for e in aria.security.audit(op="debugger.memory", limit=20)
            if e["target"] == "aria_data seconds=1" and e["actor"] == "svc:aria_debugger"]


def test_the_runtime_state_of_an_actor_and_of_a_deployment(http: httpx.Client) -> None:
    pids = {s["name"]: s["pid"] for s in http.get("/v1/services").raise_for_status().json()["services"]}
    engine = http.get("/v1/debugger/services/aria_engine/inspect")
    assert engine.status_code == 200, engine.text[:500]
    got = engine.json()
    assert int(got["pid"]) == int(pids["aria_engine"]) and got["node_id"]
    assert got["python"].startswith("3.") and got["uptime_s"] > 0 and got["rss_bytes"] > 0 and got["open_fds"] > 0
    assert got["threads"]["count"] > 0 and got["asyncio"]["count"] > 0
    assert got["health"]["status"] in ("ready", "degraded") and got["settings"]["section"] == "engine"
    # a Serve deployment's replica has the same doors
    gateway = http.get("/v1/debugger/services/aria_coordinate/inspect")
    assert gateway.status_code == 200, gateway.text[:500]
    assert gateway.json()["settings"]["section"] == "coordinate" and gateway.json()["pid"] > 0
    state = http.get("/v1/debugger/services/aria_engine/state")
    assert state.status_code == 200, state.text[:500]
    held = {h["name"]: h for h in state.json()["holds"]}
    assert "registry" in held and state.json()["health"]["status"] == got["health"]["status"]
    assert all(set(h) <= {"name", "type", "value", "size", "done"} for h in held.values())
    assert all(isinstance(h.get("value"), int | float | bool | None) for h in held.values())


def _secret_fields() -> dict[str, set[str]]:
    """The SecretStr keys of every section (and of the top level, as ``aria``)."""
    def of(cls: Any) -> set[str]:
        return {n for n, f in cls.model_fields.items() if "SecretStr" in str(f.annotation)}

    return {"aria": of(AriaSettings), **{name: of(cls) for name, cls in sections().items()}}


def test_settings_show_every_source_and_no_secret(shared_aria: RunningAria, http: httpx.Client) -> None:
    r = http.get("/v1/debugger/config")
    assert r.status_code == 200, r.text[:500]
    got = r.json()
    assert set(got["services"]) == SERVICES
    monitor = got["services"]["aria_monitor"]["settings"]
    assert monitor["interval_s"] == {"value": 1.0, "source": "env", "env": "ARIA_MONITOR_INTERVAL_S"}
    assert got["services"]["aria_engine"]["settings"]["pool_size"]["source"] == "default"
    # every secret setting shows masked (or empty), and no URL carries a password in clear
    secret = _secret_fields()
    shown = {"aria": got["aria"], **{e["section"]: e["settings"] for e in got["services"].values() if e["section"]}}
    for section, keys in secret.items():
        for key in keys:
            assert shown[section][key]["value"] in ("", MASK), (section, key)
    texts = [r.text]
    for name in ("aria_security", "aria_data"):
        for what in ("inspect", "state"):
            answer = http.get(f"/v1/debugger/services/{name}/{what}")
            assert answer.status_code == 200, answer.text[:500]
            texts.append(answer.text)
    assert not any(URL_PASSWORD.search(t) for t in texts), [URL_PASSWORD.search(t) for t in texts]
    # the secrets this Aria holds: the SoftHSM PIN aria_security unwraps OpenBao's keys with, and the
    # database URL aria_data keeps in OpenBao: neither shows anywhere
    known = [p.read_text().strip() for p in (shared_aria.home / "security").rglob("pin") if p.is_file()]
    stored = http.get("/v1/security/secrets/services/aria_data/database")
    if stored.status_code == 200:
        url = str(stored.json().get("data", {}).get("url", ""))
        known += [m.group(1) for m in re.finditer(r"://[^/@:\s]*:([^/@\s]+)@", url)]
    assert known, "no known secret found to look for"
    for secret_value in known:
        assert all(secret_value not in t for t in texts)
    one = http.get("/v1/debugger/config", params={"service": "aria_storage"}).raise_for_status().json()
    assert list(one["services"]) == ["aria_storage"]


def test_a_log_level_change_by_an_administrator_only(http: httpx.Client, aria: AriaClient,
                                                     accounts: dict[str, dict[str, str]]) -> None:
    for role in ("operator", "viewer"):
        refused = http.put("/v1/debugger/services/aria_engine/log-level", json={"level": "DEBUG"},
                           headers=accounts[role])
        _problem(refused, 403)
    try:
        r = http.put("/v1/debugger/services/aria_engine/log-level", json={"level": "DEBUG"})
        assert r.status_code == 200, r.text[:500]
        change = r.json()
        assert change["to"] == "DEBUG" and change["service"] == "aria_engine"
        assert http.get("/v1/debugger/services/aria_engine/inspect").json()["log_level"] == "DEBUG"
        config = http.get("/v1/debugger/config", params={"service": "aria_engine"}).json()
        assert change in config["changes"] and config["services"]["aria_engine"]["runtime"] == {"log_level": "DEBUG"}
        assert [e for e in aria.security.audit(op="debugger.log_level", limit=20)
                if e["target"] == "aria_engine log_level=DEBUG" and e["subject"] == change["by"]]
    finally:
        http.put("/v1/debugger/services/aria_engine/log-level", json={"level": "INFO"}).raise_for_status()


def test_who_may_profile_inspect_and_read_settings(shared_aria: RunningAria,
                                                   accounts: dict[str, dict[str, str]]) -> None:
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        assert anon.get("/v1/debugger/config").status_code == 401
        operator, viewer = accounts["operator"], accounts["viewer"]
        # profiles and memory snapshots: administrators only
        _problem(anon.get("/v1/debugger/services/aria_engine/profile", params={"seconds": 1}, headers=operator), 403)
        _problem(anon.get("/v1/debugger/services/aria_engine/memory", params={"seconds": 1}, headers=operator), 403)
        # runtime state and settings: operators, not viewers (a process spans tenants)
        assert anon.get("/v1/debugger/services/aria_engine/inspect", headers=operator).status_code == 200
        assert anon.get("/v1/debugger/config", headers=operator).status_code == 200
        for path in ("/v1/debugger/services/aria_engine/inspect", "/v1/debugger/services/aria_engine/state",
                     "/v1/debugger/config"):
            _problem(anon.get(path, headers=viewer), 403)


def test_bad_requests_are_clear(http: httpx.Client) -> None:
    _problem(http.get("/v1/debugger/services/aria_nope/inspect"), 404)
    _problem(http.get("/v1/debugger/services/aria_nope/profile", params={"seconds": 1}), 404)
    for seconds in (0, 31, "soon"):
        _problem(http.get("/v1/debugger/services/aria_engine/profile", params={"seconds": seconds}), 422)
    _problem(http.get("/v1/debugger/services/aria_engine/profile", params={"rate_hz": 5000}), 422)
    _problem(http.get("/v1/debugger/services/engine/inspect"), 422)  # not a service name
    _problem(http.put("/v1/debugger/services/aria_engine/log-level", json={"level": "TRACE"}), 422)
    _problem(http.put("/v1/debugger/services/aria_engine/log-level", json={"level": "INFO", "path": "/tmp/x"}),
             422)


def test_the_cli_profiles_inspects_and_sets_levels(shared_aria: RunningAria, tmp_path: Path) -> None:
    env = {"ARIA_TOKEN": shared_aria.token()}
    graph = tmp_path / "engine.svg"
    out = shared_aria.aria("debugger", "profile", "aria_engine", "--seconds", "1", "--svg", str(graph), env=env)
    assert out.returncode == 0, out.stderr
    assert "samples of pid" in out.stdout and graph.read_text().startswith("<svg")
    for args in (("memory", "aria_engine", "--seconds", "0.5"), ("inspect", "aria_engine"),
                 ("state", "aria_engine"), ("config",), ("config", "aria_monitor"),
                 ("log-level", "aria_engine", "INFO")):
        out = shared_aria.aria("debugger", *args, env=env)
        assert out.returncode == 0, (args, out.stderr)
    assert "interval_s" in shared_aria.aria("debugger", "config", "aria_monitor", env=env).stdout
    bad = shared_aria.aria("debugger", "inspect", "aria_nope", env=env)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    level = shared_aria.aria("debugger", "log-level", "aria_engine", "TRACE", env=env)
    assert level.returncode == 2 and "Traceback" not in level.stderr
