"""REST surface of aria_tune's query optimisation under ``/v1/tune/queries`` (queryopt.py says what
the answers mean); thin: validates shapes, then calls the service.

``GET /v1/tune/queries/statements?limit=&min_calls=``: pg_stat_statements, most total time first.
``POST /v1/tune/queries/analyze {queryid?, limit, min_calls}``: index suggestions, checked on copies.
``POST /v1/tune/queries/check {queryid, table, columns}``: one named index, checked and recorded.
``GET /v1/tune/queries/suggestions?queryid=&verdict=&limit=``: the recorded checks, latest first.
``POST /v1/tune/queries/probe {rows, runs}``: the self-check's unindexed lookup, run ``runs`` times.
``POST /v1/tune/queries/strategies/{domain} {strategies, problems, repeats, max_seconds}``: time
aria_engine's strategies on the domain's problems, record the fastest that solves them all.
``GET /v1/tune/queries/strategies?domain=&limit=``: the recorded choices.
A queryid is a 64-bit integer, sent as text (JSON numbers lose precision past 2**53).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from aria_actors.runtime.http import ServiceRouter, permits, service_client
from aria_actors.runtime.principal import Principal
from aria_actors.tune.client import TuneClient
from aria_actors.tune.queryopt import MAX_ANALYZED, MAX_LIST, MAX_PROBE_ROWS, MAX_PROBE_RUNS
from aria_actors.tune.strategies import MAX_PLAN_SECONDS, MAX_PROBLEMS, MAX_REPEATS

router = ServiceRouter(prefix="/v1/tune/queries", tags=["tune"])
Client = Annotated[TuneClient, Depends(service_client(TuneClient))]
QUERYID = r"^-?[0-9]{1,20}$"
DOMAIN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
QueryId = Annotated[str, Field(pattern=QUERYID, description="A statement's queryid (GET .../statements).")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnalyzeRequest(Body):
    queryid: QueryId | None = Field(None, description="One statement; default: the slowest `limit` ones.")
    limit: int = Field(10, ge=1, le=MAX_ANALYZED)
    min_calls: int = Field(2, ge=1)


class CheckRequest(Body):
    queryid: QueryId
    table: Annotated[str, Field(min_length=1, max_length=130, description="schema.table, as the catalog names it.")]
    columns: list[Annotated[str, Field(min_length=1, max_length=63)]] = Field(max_length=8)


class StrategyRequest(Body):
    strategies: list[Literal["dfs", "greedy"]] | None = Field(None, max_length=2,
                                                               description="Default: every strategy.")
    problems: int = Field(5, ge=1, le=MAX_PROBLEMS, description="The domain's first problems, by id.")
    repeats: int = Field(1, ge=1, le=MAX_REPEATS, description="Runs of each; the fastest counts.")
    max_seconds: float = Field(5.0, gt=0, le=MAX_PLAN_SECONDS, allow_inf_nan=False)


class ProbeRequest(Body):
    rows: int = Field(20_000, ge=100, le=MAX_PROBE_ROWS)
    runs: int = Field(50, ge=1, le=MAX_PROBE_RUNS)


@router.get("/statements", summary="The database's statements from pg_stat_statements, most total time first")
async def list_statements(client: Client, limit: int = Query(50, ge=1, le=MAX_LIST), min_calls: int = Query(1, ge=1),
                          caller: Principal = permits(TuneClient.list_statements)) -> dict[str, Any]:
    return await client.list_statements(caller, limit, min_calls)


@router.post("/analyze", summary="Index suggestions from the statements' plans, each checked on a copy")
async def analyze(client: Client, req: AnalyzeRequest | None = None,
                  caller: Principal = permits(TuneClient.analyze_statements)) -> dict[str, Any]:
    req = req or AnalyzeRequest()
    return await client.analyze_statements(caller, req.queryid, req.limit, req.min_calls)


@router.post("/check", summary="Check one index for a statement on a copy of its table; recorded")
async def check(req: CheckRequest, client: Client,
                caller: Principal = permits(TuneClient.check_index)) -> dict[str, Any]:
    return await client.check_index(caller, req.queryid, req.table, req.columns)


@router.get("/suggestions", summary="Recorded index suggestions, latest check first")
async def list_suggestions(client: Client, queryid: Annotated[str | None, Query(pattern=QUERYID)] = None,
                           verdict: Literal["better", "no-gain"] | None = None,
                           limit: int = Query(100, ge=1, le=MAX_LIST),
                           caller: Principal = permits(TuneClient.list_suggestions)) -> list[dict[str, Any]]:
    return await client.list_suggestions(caller, queryid, verdict, limit)


@router.post("/probe", summary="Fill the probe table and run its unindexed lookup (the self-check)")
async def probe(client: Client, req: ProbeRequest | None = None,
                caller: Principal = permits(TuneClient.run_probe)) -> dict[str, Any]:
    req = req or ProbeRequest()
    return await client.run_probe(caller, req.rows, req.runs)


@router.post("/strategies/{domain}", summary="Time aria_engine's strategies on a domain's problems; record the best")
async def choose_strategy(domain: Annotated[str, Path(pattern=DOMAIN)], client: Client,
                          req: StrategyRequest | None = None,
                          caller: Principal = permits(TuneClient.choose_strategy)) -> dict[str, Any]:
    req = req or StrategyRequest()
    return await client.choose_strategy(caller, domain, req.strategies, req.problems, req.repeats, req.max_seconds)


@router.get("/strategies", summary="The planning strategy recorded for each aria_engine domain")
async def strategy_choices(client: Client, domain: Annotated[str | None, Query(pattern=DOMAIN)] = None,
                           limit: int = Query(100, ge=1, le=1000),
                           caller: Principal = permits(TuneClient.strategy_choices)) -> list[dict[str, Any]]:
    return await client.strategy_choices(caller, domain, limit)
