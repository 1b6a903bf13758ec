"""``aria tune autotune ...``: the auto-tuner through the gateway (``/v1/tune/autotune``).

    aria tune autotune knobs [--json]
    aria tune autotune scan                                  propose raises for saturated queues
    aria tune autotune propose queue.concurrency QUEUE VALUE [--reason TEXT]
    aria tune autotune apply ID [--wait]                     measured before and after, kept or rolled back
    aria tune autotune reject ID [--reason TEXT]
    aria tune autotune ls [--status kept] [--knob K] [--target T] [--limit N] | show ID
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer
from rich.console import Console

from aria_actors.cli.support import TokenOpt, fail, gateway_call

app = typer.Typer(help="The auto-tuner: knobs of the running system proposed, applied, measured, kept or "
                       "rolled back.", no_args_is_help=True)
out = Console(highlight=False)
BASE = "/v1/tune/autotune"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.3g}"


def _line(c: dict[str, Any]) -> str:
    before, after = c.get("before") or {}, c.get("after") or {}
    measured = (f"  throughput {_num(before.get('throughput'))} -> {_num(after.get('throughput'))} jobs/s"
                if before or after else "")
    return (f"{c['id']:>5}  {c['status']:<11}  {c['knob']} {c['target']}  {c['old_value']} -> {c['new_value']}"
            f"  ({c['source']}, by {c['approved_by'] or c['proposed_by']}){measured}")


@app.command("knobs")
def knobs(as_json: bool = typer.Option(False, "--json"), token: str | None = TokenOpt) -> None:
    """The knobs, their limits and their targets now."""
    got = gateway_call(token, "GET", f"{BASE}/knobs")
    if as_json:
        out.print_json(json.dumps(got))
        return
    mode = f"automatic on {', '.join(got['auto_targets'])}" if got["auto"] else "proposals wait for an apply"
    out.print(f"{mode}; windows {got['window_s']:g} s, keep above +{got['min_improvement']:.0%}")
    for k in got["knobs"]:
        lim = k["limits"]
        out.print(f"{k['name']}  {'allowed' if k['allowed'] else 'not allowed'}  {lim['min']}..{lim['max']} "
                  f"(step {lim['max_step']})  {k['description']}")
        for t in k["targets"] or []:
            flag = "  saturated" if t.get("saturated") else ""
            out.print(f"    {t['target']}: {t['value']}{flag}")
        if k.get("error"):
            out.print(f"    error: {k['error']}", markup=False)


@app.command("scan")
def scan(token: str | None = TokenOpt) -> None:
    """Propose a raise for every target where jobs wait and every slot is busy."""
    got = gateway_call(token, "POST", f"{BASE}/scan")
    for c in got["proposed"]:
        out.print(_line(c))
    for s in got["skipped"]:
        out.print(f"skipped {s['knob']} {s['target']}: {s['why']}", markup=False)
    if not got["proposed"]:
        out.print("nothing to propose")


@app.command("propose")
def propose(knob: str, target: str, value: int, reason: str | None = typer.Option(None, "--reason"),
            token: str | None = TokenOpt) -> None:
    """Propose setting KNOB of TARGET to VALUE (applied only by `apply`)."""
    out.print(_line(gateway_call(token, "POST", f"{BASE}/proposals",
                                 json={"knob": knob, "target": target, "value": value, "reason": reason})))


@app.command("apply")
def apply(change_id: int, wait: bool = typer.Option(False, "--wait/--no-wait", help="Follow until decided."),
          timeout: float = typer.Option(600.0, "--timeout", help="Seconds --wait follows at most."),
          token: str | None = TokenOpt) -> None:
    """Apply a proposal: measured before and after, then kept or rolled back."""
    got = gateway_call(token, "POST", f"{BASE}/changes/{change_id}/apply")
    deadline = time.monotonic() + timeout
    while wait and got["status"] == "measuring":
        if time.monotonic() > deadline:
            fail(f"still measuring after {timeout:g} s: {_line(got)}")
        time.sleep(1.0)
        got = gateway_call(token, "GET", f"{BASE}/changes/{change_id}")
    out.print(_line(got))
    if got.get("decision_reason"):
        out.print(f"  {got['decision_reason']}")


@app.command("reject")
def reject(change_id: int, reason: str | None = typer.Option(None, "--reason"), token: str | None = TokenOpt) -> None:
    """Drop a proposal (nothing changes)."""
    out.print(_line(gateway_call(token, "POST", f"{BASE}/changes/{change_id}/reject", json={"reason": reason})))


@app.command("ls")
def ls(status: str | None = typer.Option(None, "--status"), knob: str | None = typer.Option(None, "--knob"),
       target: str | None = typer.Option(None, "--target"), limit: int = typer.Option(100, "--limit", min=1, max=1000),
       token: str | None = TokenOpt) -> None:
    """Changes newest first."""
    params = {k: v for k, v in (("status", status), ("knob", knob), ("target", target)) if v is not None}
    for c in gateway_call(token, "GET", f"{BASE}/changes", params={**params, "limit": limit}):
        out.print(_line(c))


@app.command("show")
def show(change_id: int, token: str | None = TokenOpt) -> None:
    """One change with its measurements and decision (JSON)."""
    out.print_json(json.dumps(gateway_call(token, "GET", f"{BASE}/changes/{change_id}"), default=str))
