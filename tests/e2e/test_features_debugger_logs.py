"""aria_debugger's log search through the gateway of a running `aria up` (the shared one): a
warning a service logs (the one a log level change writes in that service's process) is collected
and found by words, by service and by level, from REST, the SDK and `aria debugger logs`. Also who
may search, and bad parameters (400 problems)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria
from tests.fixtures.operator import assert_problem, until

RUN = uuid.uuid4().hex[:6]
PASSWORD = "e2e debugger logs passphrase"
TARGET = "aria_storage"
WORDS = "log level changes"


@pytest.fixture(scope="module")
def accounts(shared_aria: RunningAria, aria: AriaClient) -> dict[str, dict[str, str]]:
    """An operator's and a viewer's bearer headers (logged in through aria_auth)."""
    out = {}
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        for role in ("operator", "viewer"):
            name = f"dbglogs-{role}-{RUN}"
            aria.auth.create_user(name, PASSWORD, roles=[role])
            token = anon.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
            out[role] = {"authorization": f"Bearer {token.raise_for_status().json()['access_token']}"}
    return out


@pytest.fixture(scope="module")
def logged(http: httpx.Client) -> dict[str, Any]:
    """The warning aria_storage's process logs when its log level changes, as the search finds it."""
    since = time.time() - 5
    change = http.put(f"/v1/debugger/services/{TARGET}/log-level", json={"level": "INFO"})
    assert change.status_code == 200, change.text[:500]
    pid = change.json()["pid"]

    def found() -> dict[str, Any] | None:
        r = http.get("/v1/debugger/logs", params={"q": WORDS, "service": TARGET, "level": "WARNING",
                                                  "since": since, "limit": 50})
        assert r.status_code == 200, r.text[:500]
        mine = [x for x in r.json()["records"] if x["pid"] == pid and "changes from" in x["message"]]
        return mine[0] if mine else None

    record = until(found, f"{TARGET}'s log level warning in the log search")
    return {**record, "since": since}


def _ids(records: list[dict[str, Any]]) -> set[tuple[str, float, str]]:
    return {(r["service"], r["at"], r["message"]) for r in records}


def test_a_warning_is_found_by_words_service_and_level(http: httpx.Client, logged: dict[str, Any]) -> None:
    assert logged["level"] == "WARNING" and logged["service"] == TARGET and logged["logger"] == "aria.introspect"
    assert logged["at"] >= logged["since"] and logged["node"]
    key = (logged["service"], logged["at"], logged["message"])
    for params in ({"q": WORDS}, {"q": '"log level" aria'}, {"service": TARGET}, {"level": "WARNING"},
                   {"level": "warning", "service": TARGET, "q": "changes"}):
        r = http.get("/v1/debugger/logs", params={**params, "since": logged["since"], "limit": 1000})
        assert r.status_code == 200, (params, r.text[:500])
        body = r.json()
        assert key in _ids(body["records"]), params
        ats = [x["at"] for x in body["records"]]
        assert ats == sorted(ats, reverse=True)  # newest first
    # a filter that excludes it: another service, a higher level, a window before it
    for params in ({"service": "aria_engine"}, {"level": "ERROR"}, {"until": logged["since"]}):
        r = http.get("/v1/debugger/logs", params={"q": WORDS, "since": logged["since"] - 60, **params})
        assert key not in _ids(r.raise_for_status().json()["records"]), params
    r = http.get("/v1/debugger/logs", params={"service": TARGET, "since": logged["since"], "limit": 1})
    assert r.raise_for_status().json()["count"] == 1


def test_the_sdk_and_the_cli_search(shared_aria: RunningAria, aria: AriaClient, logged: dict[str, Any]) -> None:
    got = aria.debugger.logs(WORDS, service=TARGET, level="WARNING", since=logged["since"])
    assert (logged["service"], logged["at"], logged["message"]) in _ids(got["records"])
    env = {"ARIA_TOKEN": shared_aria.token()}
    out = shared_aria.aria("debugger", "logs", WORDS, "--service", TARGET, "--level", "WARNING",
                           "--since", "1h", "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert logged["message"] in out.stdout
    table = shared_aria.aria("debugger", "logs", "changes", "--service", TARGET, "--since", "1h", env=env)
    assert table.returncode == 0 and "records (newest first" in table.stdout, table.stderr
    bad = shared_aria.aria("debugger", "logs", "--level", "LOUD", env=env)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


def test_operators_search_viewers_do_not(shared_aria: RunningAria, accounts: dict[str, dict[str, str]]) -> None:
    with httpx.Client(base_url=shared_aria.url, timeout=60) as anon:
        assert anon.get("/v1/debugger/logs").status_code == 401
        assert anon.get("/v1/debugger/logs", params={"q": "request"}, headers=accounts["operator"]).status_code == 200
        assert_problem(anon.get("/v1/debugger/logs", headers=accounts["viewer"]), 403, "forbidden")


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 1001}, {"level": "LOUD"}, {"since": "yesterday"}, {"until": "2026-13-45T00:00:00"},
    {"since": "1h", "until": "2h"}, {"trace_id": "not-hex"}, {"service": "aria_nope"}, {"q": "---"},
    {"q": "x" * 501},
])
def test_bad_parameters_are_400_problems(http: httpx.Client, params: dict[str, Any]) -> None:
    assert_problem(http.get("/v1/debugger/logs", params=params), 400, "bad-request")
