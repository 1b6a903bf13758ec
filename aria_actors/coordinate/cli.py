"""``aria coordinate ...``: the gateway's own pages, through the running gateway.

    aria coordinate routes [--json]          per-route requests, 4xx/5xx, p50/p95/p99 (GET /v1/gateway/routes)
    aria coordinate versions [--json]        API versions served, deprecated ones with sunset (GET /versions)
    aria coordinate balancing [NAME] [--json]  each service's load-balancing policy and replicas
                                             (GET /v1/services/{name})
    aria coordinate cors [--json]            the CORS policy in effect (GET /v1/gateway/cors)

Errors print one red line and exit 1. ``ARIA_TOKEN`` (or ``--token``) is sent as the bearer token.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, gateway_call

app = typer.Typer(help="The HTTP gateway: route analytics, API versions, load balancing, CORS.",
                  no_args_is_help=True)
JsonOpt = typer.Option(False, "--json", help="Print the raw answer as JSON.")


def _print(thing: Any) -> None:
    Console().print(thing)


def _json(body: Any) -> None:
    print(json.dumps(body, indent=2, ensure_ascii=False))


def _ms(window: dict[str, Any], key: str) -> str:
    return f"{window[key]:.1f}" if key in window else "-"


@app.command()
def routes(token: str | None = TokenOpt, json_out: bool = JsonOpt) -> None:
    """Requests per route since the gateway started, errors, and latency percentiles over the window."""
    body = gateway_call(token, "GET", "/v1/gateway/routes")
    if json_out:
        _json(body)
        return
    table = Table("method", "route", "count", "4xx", "5xx", "window n", "p50 ms", "p95 ms", "p99 ms",
                  title=f"Gateway routes ({body['requests']} requests; percentiles over {body['window_s']:.0f}s)")
    for r in body["routes"]:
        w = r["window"]
        table.add_row(r["method"], r["route"], str(r["count"]), str(r["errors_4xx"]), str(r["errors_5xx"]),
                      str(w["count"]), _ms(w, "p50_ms"), _ms(w, "p95_ms"), _ms(w, "p99_ms"))
    _print(table)


@app.command()
def versions(token: str | None = TokenOpt, json_out: bool = JsonOpt) -> None:
    """The API versions the gateway serves: current, or deprecated with a sunset date and successor."""
    body = gateway_call(token, "GET", "/versions")
    if json_out:
        _json(body)
        return
    table = Table("version", "status", "sunset", "successor", "routes", title=f"API versions (latest {body['latest']})")
    for v in body["versions"]:
        table.add_row(v["version"], v["status"], v["sunset"] or "-", v["successor"] or "-", str(v["routes"]))
    _print(table)


@app.command()
def balancing(name: str | None = typer.Argument(None, help="One service, e.g. aria_storage (default: all)."),
              token: str | None = TokenOpt, json_out: bool = JsonOpt) -> None:
    """How each service's requests are spread over its replicas: the policy, replicas, calls in flight."""
    names = [name] if name else [s["name"] for s in gateway_call(token, "GET", "/v1/services")["services"]]
    found = {n: gateway_call(token, "GET", f"/v1/services/{n}") for n in names}
    if json_out:
        _json({n: {"status": s["status"], "load_balancing": s["load_balancing"]} for n, s in found.items()})
        return
    table = Table("service", "status", "policy", "replicas", "balanced by", "in flight", "calls",
                  title="Load balancing")
    for n, s in found.items():
        lb = s["load_balancing"]
        table.add_row(n, s["status"], lb["policy"], "-" if lb["replicas"] is None else str(lb["replicas"]),
                      lb["balanced_by"] or "-", str(lb["gateway_in_flight"]), str(lb["gateway_calls"]))
    _print(table)


@app.command()
def cors(token: str | None = TokenOpt, json_out: bool = JsonOpt) -> None:
    """The CORS policy in effect (the ARIA_COORDINATE_CORS_* settings)."""
    body = gateway_call(token, "GET", "/v1/gateway/cors")
    if json_out:
        _json(body)
        return
    if not body["enabled"]:
        _print("CORS is off: no origins configured (ARIA_COORDINATE_CORS_ORIGINS).")
        return
    for key in ("origins", "methods", "headers", "expose_headers"):
        _print(f"{key}: {', '.join(body[key])}")
    _print(f"allow_credentials: {body['allow_credentials']}  max_age_s: {body['max_age_s']}")
