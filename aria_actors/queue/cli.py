"""``aria queue ...``: jobs and queues through the running gateway (``/v1/queue``).

    aria queue ls                                  queues, job counts, executors
    aria queue jobs [--state discarded] [--queue q] [--limit 50]
    aria queue retry ID [ID...]                    dead letter: run again now
    aria queue cancel ID [ID...]
    aria queue pause QUEUE | resume QUEUE
    aria queue scale QUEUE [--replicas N] [--concurrency C]
    aria queue workers                             registered worker names
    aria queue enqueue WORKER [--args JSON] [--queue q] [--priority 0-9] [--max-attempts N] [--in S]
    aria queue cron                                crontab entries, last and next slot
    aria queue health                              database, depths, live executors

Errors print one red line and exit 1; bad usage exits 2. ``ARIA_TOKEN`` (or ``--token``) is sent
as the bearer token.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, fail, gateway_call, sdk_call

app = typer.Typer(help="Jobs and queues of aria_queue (via the gateway).", no_args_is_help=True)
STATES = ("available", "scheduled", "executing", "retryable", "completed", "discarded", "cancelled")


def _print(table: Any) -> None:
    Console().print(table)


@app.command("ls")
def ls(token: str | None = TokenOpt) -> None:
    """List queues with their settings, job counts and live executors."""
    table = Table("queue", "paused", "concurrency", "replicas", "executors", *STATES, "oldest s")
    for q in gateway_call(token, "GET", "/v1/queue/queues"):
        age = q.get("oldest_available_s")
        table.add_row(
            q["name"],
            "yes" if q["paused"] else "no",
            str(q["concurrency"]),
            str(q["replicas"]),
            str(q.get("executors", "-")),
            *(str(q["jobs"][s]) for s in STATES),
            "-" if age is None else f"{age:.1f}",
        )
    _print(table)


@app.command()
def jobs(
    state: str | None = typer.Option(None, help=f"One of {', '.join(STATES)}."),
    queue: str | None = typer.Option(None),
    worker: str | None = typer.Option(None),
    after: int = typer.Option(0, help="Show jobs with ids above this."),
    limit: int = typer.Option(50, min=1, max=1000),
    token: str | None = TokenOpt,
) -> None:
    """List jobs (--state discarded lists the dead letter)."""
    if state is not None and state not in STATES:
        raise typer.BadParameter(f"{state!r} is not one of {', '.join(STATES)}", param_hint="--state")
    params = {
        k: v
        for k, v in {"state": state, "queue": queue, "worker": worker, "after_id": after, "limit": limit}.items()
        if v is not None
    }
    table = Table("id", "state", "queue", "worker", "attempt", "priority", "scheduled_at", "last error")
    for j in gateway_call(token, "GET", "/v1/queue/jobs", params=params):
        err = j["errors"][-1]["error"] if j["errors"] else ""
        table.add_row(
            str(j["id"]),
            j["state"],
            j["queue"],
            j["worker"],
            f"{j['attempt']}/{j['max_attempts']}",
            str(j["priority"]),
            j["scheduled_at"] or "",
            err[:60],
        )
    _print(table)


@app.command()
def retry(ids: list[int] = typer.Argument(..., help="Job ids."), token: str | None = TokenOpt) -> None:
    """Make jobs available now (an exhausted job gets one more attempt)."""
    done = gateway_call(token, "POST", "/v1/queue/jobs/retry", json={"ids": ids})["retried"]
    skipped = sorted(set(ids) - set(done))
    typer.echo(f"retried {done}" + (f"; not retryable (executing or unknown): {skipped}" if skipped else ""))


@app.command()
def cancel(ids: list[int] = typer.Argument(..., help="Job ids."), token: str | None = TokenOpt) -> None:
    """Cancel jobs (executing ones are stopped by their executor)."""
    out = gateway_call(token, "POST", "/v1/queue/jobs/cancel", json={"ids": ids})
    typer.echo(f"cancelled {out['cancelled']}; stopping {out['signalled']}")


@app.command()
def pause(queue: str, token: str | None = TokenOpt) -> None:
    """Stop fetching jobs of QUEUE on every node (running jobs finish)."""
    gateway_call(token, "POST", f"/v1/queue/queues/{queue}/pause")
    typer.echo(f"{queue}: paused")


@app.command()
def resume(queue: str, token: str | None = TokenOpt) -> None:
    """Fetch jobs of QUEUE again."""
    gateway_call(token, "POST", f"/v1/queue/queues/{queue}/resume")
    typer.echo(f"{queue}: resumed")


@app.command()
def scale(
    queue: str,
    replicas: int | None = typer.Option(None, min=0, max=256, help="Worker actors."),
    concurrency: int | None = typer.Option(None, min=1, max=1000, help="Jobs at once per actor."),
    token: str | None = TokenOpt,
) -> None:
    """Change QUEUE's worker actors and/or per-actor concurrency at run time."""
    if replicas is None and concurrency is None:
        raise typer.BadParameter("give --replicas and/or --concurrency")
    q = gateway_call(
        token, "POST", f"/v1/queue/queues/{queue}/scale", json={"replicas": replicas, "concurrency": concurrency}
    )
    typer.echo(
        f"{queue}: replicas {q['replicas']}, concurrency {q['concurrency']}"
        + (f", executors {q['executors']}" if "executors" in q else "")
    )


@app.command()
def workers(token: str | None = TokenOpt) -> None:
    """List the worker names the queue service can enqueue (besides service:<svc>.<method>)."""
    for name in gateway_call(token, "GET", "/v1/queue/workers"):
        typer.echo(name)


@app.command()
def enqueue(
    worker: str = typer.Argument(..., help="A registered worker, or service:aria_<svc>.<method>."),
    args: str = typer.Option("{}", "--args", help="The job's args, a JSON object."),
    queue: str | None = typer.Option(None, help="Default: the worker's queue."),
    priority: int | None = typer.Option(None, min=0, max=9, help="0 runs first."),
    max_attempts: int | None = typer.Option(None, "--max-attempts", min=1, max=10_000),
    schedule_in: float | None = typer.Option(None, "--in", min=0, help="Run after this many seconds."),
    token: str | None = TokenOpt,
) -> None:
    """Enqueue one job; it runs as you (your token's principal)."""
    try:
        body: dict[str, Any] = {"worker": worker, "args": json.loads(args)}
    except json.JSONDecodeError as exc:
        fail(f"--args is not JSON: {exc}", 2)
    if not isinstance(body["args"], dict):
        fail("--args must be a JSON object", 2)
    options = {"queue": queue, "priority": priority, "max_attempts": max_attempts, "schedule_in": schedule_in}
    body.update({k: v for k, v in options.items() if v is not None})
    job = gateway_call(token, "POST", "/v1/queue/jobs", json=body)
    typer.echo(f"job {job['id']}: {job['state']} in {job['queue']}"
               + (" (a unique job already queued)" if job.get("conflict") else ""))


@app.command()
def cron(token: str | None = TokenOpt) -> None:
    """List the crontab entries (ARIA_QUEUE_CRON) with their last and next slot (UTC)."""
    out = gateway_call(token, "GET", "/v1/queue/cron")
    table = Table("name", "expression", "worker", "last slot", "next slot")
    for e in out["entries"]:
        table.add_row(e["name"], e["expression"], e["worker"], e["last_slot"], e["next_slot"])
    _print(table)
    Console().print(f"[dim]this node {'leads (enqueues cron jobs)' if out['leader'] else 'does not lead'}[/dim]")


@app.command()
def health(token: str | None = TokenOpt) -> None:
    """The queue service's health: database, queue depths, live executors (exit 1 unless up)."""
    h = sdk_call(token, lambda aria: aria.queue.health())
    typer.echo(f"{h['status']}: {h['message']}")
    for name, value in sorted((h.get("details") or {}).items()):
        typer.echo(f"  {name}: {json.dumps(value, default=str)}")
    if h["status"] not in ("ready", "degraded"):
        raise typer.Exit(1)
