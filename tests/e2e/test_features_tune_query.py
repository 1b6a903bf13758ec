"""aria_tune's query optimisation through the gateway of a real `aria up` of its own, whose embedded
PostgreSQL runs on binaries that have pg_stat_statements (Debian's /usr/lib/postgresql/<v>; the
pgserver wheel the shared Aria uses has none; skipped where none is installed): the probe's
unindexed lookup is listed among the slow statements, analysed into an index on `k` that the check
on a copy of the table finds cheaper, and recorded; unknown statements are 404, unknown tables and
columns 400 naming the field. Then aria_engine's strategies are timed on a domain's stored problems
and the fastest that solves them all is recorded. REST, the SDK and `aria tune queries`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aria_actors.sdk import AriaClient
from tests.fixtures.aria_up import RunningAria, aria_up, new_home
from tests.fixtures.operator import assert_problem

# Its own `aria up` (PostgreSQL with pg_stat_statements) and `aria down` (~80 s of the default run's
# 19 min): in .ci/run's long stage, not the default run.
pytestmark = pytest.mark.long

PROBE = "aria_tune.query_probe"


def _bin_dir_with_stat_statements() -> Path | None:
    for lib in sorted(Path("/usr/lib/postgresql").glob("*/lib/pg_stat_statements.so"), reverse=True):
        if (lib.parent.parent / "bin" / "pg_ctl").exists():
            return lib.parent.parent / "bin"
    return None


@pytest.fixture(scope="module")
def stats_aria() -> Iterator[RunningAria]:
    bin_dir = _bin_dir_with_stat_statements()
    if bin_dir is None:
        pytest.skip("no PostgreSQL with pg_stat_statements under /usr/lib/postgresql")
    with aria_up(new_home(), {"ARIA_DATA_PG_BIN_DIR": str(bin_dir)}) as running:
        yield running


@pytest.fixture(scope="module")
def http(stats_aria: RunningAria) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {stats_aria.token()}"}
    with httpx.Client(base_url=stats_aria.url, headers=headers, timeout=300) as client:
        yield client


@pytest.fixture(scope="module")
def sdk(stats_aria: RunningAria) -> Iterator[AriaClient]:
    with AriaClient(stats_aria.url, token=stats_aria.token(), timeout=300) as client:
        yield client


def _probe_statement(http: httpx.Client) -> dict[str, Any]:
    r = http.get("/v1/tune/queries/statements", params={"limit": 1000, "min_calls": 1})
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body["available"], body
    found = [s for s in body["statements"] if PROBE in s["query"] and "k = $1" in s["query"]]
    assert found, [s["query"][:80] for s in body["statements"]]
    return found[0]


def test_the_probe_lookup_is_listed_analysed_and_an_index_found_cheaper(http: httpx.Client, sdk: AriaClient,
                                                                        stats_aria: RunningAria) -> None:
    health = http.get("/v1/data/health")
    assert health.status_code == 200 and health.json()["details"]["pg_stat_statements"] == "loaded", health.text[:500]
    r = http.post("/v1/tune/queries/probe", json={"rows": 20000, "runs": 30})
    assert r.status_code == 200, r.text[:500]
    stmt = _probe_statement(http)
    assert stmt["calls"] >= 30 and stmt["mean_ms"] > 0

    r = http.post("/v1/tune/queries/analyze", json={"queryid": stmt["queryid"]})
    assert r.status_code == 200, r.text[:500]
    got = r.json()
    assert got["analyzed"] == 1, got
    [sug] = [s for s in got["suggestions"] if s["relation"] == PROBE and s["columns"] == ["k"]]
    print(f"\nprobe lookup ({stmt['calls']} calls, {stmt['mean_ms']:.3f} ms mean): cost {sug['cost_before']} "
          f"-> {sug['cost_after']} with an index on k ({sug['rows_sampled']} rows copied)")
    assert sug["verdict"] == "better" and sug["index_used"] and sug["cost_after"] < sug["cost_before"]
    assert sug["plan_before"][0]["node"] == "Seq Scan" and sug["plan_after"][0]["index"] == "aria_candidate"

    listed = http.get("/v1/tune/queries/suggestions", params={"queryid": stmt["queryid"], "verdict": "better"})
    assert listed.status_code == 200 and [s["id"] for s in listed.json()] == [sug["id"]]
    again = sdk.tune.check_index(stmt["queryid"], PROBE, ["k"])  # checked again: the same record
    assert again["id"] == sug["id"] and again["verdict"] == "better"
    cli = stats_aria.aria("tune", "queries", "suggestions", "--queryid", stmt["queryid"], "--json",
                          "--token", stats_aria.token())
    assert cli.returncode == 0, cli.stderr
    assert '"verdict": "better"' in cli.stdout
    cli = stats_aria.aria("tune", "queries", "ls", "--limit", "5", "--token", stats_aria.token())
    assert cli.returncode == 0 and "queryid" in cli.stdout, cli.stderr


def test_unknown_statements_are_404_and_unknown_tables_and_columns_400(http: httpx.Client) -> None:
    stmt = _probe_statement(http)
    r = http.post("/v1/tune/queries/check", json={"queryid": "12345", "table": PROBE, "columns": ["k"]})
    assert_problem(r, 404, "data-unknown-statement")
    r = http.post("/v1/tune/queries/analyze", json={"queryid": "12345"})
    assert_problem(r, 404, "data-unknown-statement")
    for table, columns, field in [("aria_tune.nope", ["k"], "table"), ("nodot", ["k"], "table"),
                                  (PROBE, ["k", "zz"], "columns[1]"), ("pg_catalog.pg_class", ["relname"], "table"),
                                  ("aria_tune.studies", ["name"], "table")]:  # a table the statement does not read
        r = http.post("/v1/tune/queries/check", json={"queryid": stmt["queryid"], "table": table, "columns": columns})
        body = assert_problem(r, 400, "bad-request")
        assert body["field"] == field, body
    r = http.post("/v1/tune/queries/check", json={"queryid": stmt["queryid"], "table": PROBE, "columns": []})
    assert r.status_code in (400, 422), r.text[:300]
    r = http.get("/v1/tune/queries/statements", params={"limit": 0})
    assert r.status_code in (400, 422)


def _domain_with_problems(http: httpx.Client) -> tuple[str, list[str]]:
    r = http.get("/v1/engine/domains")
    assert r.status_code == 200, r.text[:300]
    names = sorted(d["name"] for d in r.json())
    names.sort(key=lambda n: n != "gtpyhop-blocksworld-gtohp")  # the suite's usual domain first
    for name in names:
        d = http.get(f"/v1/engine/domains/{name}")
        if d.status_code == 200 and len(d.json().get("problems") or []) >= 2:
            return name, d.json()["problems"]
    pytest.skip(f"no aria_engine domain with stored problems among {names}")


def test_the_fastest_strategy_that_solves_a_domains_problems_is_recorded(http: httpx.Client,
                                                                         stats_aria: RunningAria) -> None:
    domain, _problems = _domain_with_problems(http)
    r = http.post(f"/v1/tune/queries/strategies/{domain}", json={"problems": 3, "repeats": 1, "max_seconds": 10})
    assert r.status_code == 200, r.text[:500]
    got = r.json()
    by = {x["strategy"]: x for x in got["results"]}
    assert set(by) == {"dfs", "greedy"} and len(got["problems"]) == 3
    print(f"\n{domain}: {got['recommended']} ({got['reason']})")
    if got["recommended"] is not None:
        best = by[got["recommended"]]
        assert best["solved"] == 3
        assert all(best["planner_s"] <= x["planner_s"] for x in by.values() if x["solved"] == 3)
    listed = http.get("/v1/tune/queries/strategies", params={"domain": domain})
    assert listed.status_code == 200 and listed.json()[0]["recommended"] == got["recommended"]
    assert_problem(http.post("/v1/tune/queries/strategies/no-such-domain", json={}), 404, "engine-unknown-domain")
    cli = stats_aria.aria("tune", "queries", "strategies", "--domain", domain, "--token", stats_aria.token())
    assert cli.returncode == 0 and domain in cli.stdout, cli.stderr
