"""``aria debugger ...``: look inside a service's process through the gateway (``/v1/debugger``).

    aria debugger profile SERVICE [--seconds 5] [--rate 100] [--svg FILE]
                                                  a CPU profile: the hottest frames; the flame graph to FILE
    aria debugger memory SERVICE [--seconds 2]    the top allocation sites after tracing for seconds
    aria debugger inspect SERVICE                 pid, node, uptime, threads, tasks, RSS, fds, health, settings
    aria debugger state SERVICE                   health and what the service's object holds
    aria debugger config [SERVICE]                settings (masked) with their sources, and runtime changes
    aria debugger log-level SERVICE LEVEL         set the aria loggers' level in that process (admin)
    aria debugger logs [WORDS] [--service S] [--level L] [--since 15m] ...   search every service's logs
    aria debugger console SERVICE [--command SRC] a Python prompt in that process (admin; off by default)
    aria debugger reload SERVICE                  restart it on its code from disk, the others untouched (admin)
    aria debugger graph [--svg FILE]              the live dependency graph: statuses, pids, edges
    aria debugger traces [--service S] [--min-ms 50] [--limit 20]            recent traces
    aria debugger trace TRACE_ID                  one trace's span tree (a response's X-Trace-Id)

``--json`` prints the gateway's answer as is. Errors print one red line and exit 1; bad usage
exits 2. ``ARIA_TOKEN`` (or ``--token``) is sent as the bearer token.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, sdk_call

app = typer.Typer(help="Profiles, memory, runtime state and settings of every service (via the gateway).",
                  no_args_is_help=True)
JsonOpt = typer.Option(False, "--json", help="Print the gateway's JSON answer.")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _print(table: Any) -> None:
    Console().print(table)


def _json(got: Any) -> None:
    typer.echo(json.dumps(got, indent=2))


def _mib(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**20:.1f} MiB"


def hottest(folded: list[str], top: int = 15) -> list[tuple[str, int, int]]:
    """``(frame, self samples, total samples)`` of the frames most often on top of a stack."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    for line in folded:
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        own[frames[-1]] += int(count)
        for f in set(frames):
            total[f] += int(count)
    return [(f, n, total[f]) for f, n in own.most_common(top)]


@app.command()
def profile(service: str = typer.Argument(..., help="A service, e.g. aria_engine."),
            seconds: float = typer.Option(5.0, min=0.1, max=30, help="How long to sample."),
            rate: int = typer.Option(100, "--rate", min=1, max=1000, help="Samples a second."),
            svg: Path | None = typer.Option(None, "--svg", help="Write the flame graph (SVG) to this file."),
            as_json: bool = JsonOpt, token: str | None = TokenOpt) -> None:
    """Profile a service's process (CPU) and print its hottest frames."""
    got = sdk_call(token, lambda aria: aria.debugger.profile(service, seconds, rate), timeout=2 * seconds + 90)
    if svg is not None:
        svg.write_text(got["svg"])
    if as_json:
        _json({k: v for k, v in got.items() if k != "svg"})
        return
    table = Table("frame", "self", "total")
    samples = max(got["samples"], 1)
    for frame, own, total in hottest(got["folded"]):
        table.add_row(frame, f"{100 * own / samples:.1f}%", f"{100 * total / samples:.1f}%")
    _print(table)
    typer.echo(f"{got['samples']} samples of pid {got['pid']} in {got['seconds']:g} s at {got['rate_hz']} Hz "
               f"({got['sampler']}{': ' + got['note'] if got['note'] else ''})"
               + (f"; flame graph in {svg}" if svg is not None else ""))


@app.command()
def memory(service: str = typer.Argument(..., help="A service, e.g. aria_engine."),
           seconds: float = typer.Option(2.0, min=0.1, max=30, help="How long to trace allocations."),
           top: int = typer.Option(20, min=1, max=50, help="Sites to print."),
           as_json: bool = JsonOpt, token: str | None = TokenOpt) -> None:
    """The top allocation sites of a service's process."""
    got = sdk_call(token, lambda aria: aria.debugger.memory(service, seconds), timeout=seconds + 60)
    if as_json:
        _json(got)
        return
    table = Table("site", "size", "count")
    for s in got["sites"][:top]:
        table.add_row(s["site"], f"{s['size_bytes'] / 1024:.1f} KiB", str(s["count"]))
    _print(table)
    scope = "allocated in the window, still alive" if got["window_only"] else "all traced allocations"
    typer.echo(f"pid {got['pid']}: {_mib(got['traced_bytes'])} traced ({scope}), RSS {_mib(got['rss_bytes'])}")


@app.command()
def inspect(service: str = typer.Argument(..., help="A service, e.g. aria_engine."),
            as_json: bool = JsonOpt, token: str | None = TokenOpt) -> None:
    """A service process's runtime state, health and settings."""
    got = sdk_call(token, lambda aria: aria.debugger.inspect(service))
    if as_json:
        _json(got)
        return
    health = got["health"]
    rows = [("pid", str(got["pid"])), ("node", str(got["node_id"])), ("python", got["python"]),
            ("uptime", f"{got['uptime_s']:.0f} s"), ("rss", _mib(got["rss_bytes"])), ("open fds", str(got["open_fds"])),
            ("threads", f"{got['threads']['count']}: {', '.join(got['threads']['names'][:8])}"),
            ("asyncio tasks", f"{got['asyncio']['count']}: "
                              + ", ".join(f"{t['coroutine']} x{t['count']}" for t in got["asyncio"]["top"][:5])),
            ("log level", got["log_level"]), ("health", f"{health['status']}: {health['message']}")]
    table = Table("", service)
    for k, v in rows:
        table.add_row(k, v)
    for key, v in got["settings"]["values"].items():
        table.add_row(f"[{got['settings']['section']}] {key}", f"{json.dumps(v['value'])} ({v['source']})")
    _print(table)


@app.command()
def state(service: str = typer.Argument(..., help="A service, e.g. aria_engine."),
          as_json: bool = JsonOpt, token: str | None = TokenOpt) -> None:
    """A service's health and what its object holds."""
    got = sdk_call(token, lambda aria: aria.debugger.state(service))
    if as_json:
        _json(got)
        return
    health = got["health"]
    typer.echo(f"{service} (pid {got['pid']}): {health['status']}: {health['message']}")
    table = Table("attribute", "type", "size / value")
    for h in got["holds"]:
        shown = h.get("value", h.get("size", "done" if h.get("done") else "running" if "done" in h else ""))
        table.add_row(h["name"], h["type"], json.dumps(shown) if not isinstance(shown, str) else shown)
    _print(table)


@app.command()
def config(service: str | None = typer.Argument(None, help="One service (default: all)."),
           as_json: bool = JsonOpt, token: str | None = TokenOpt) -> None:
    """Settings of every service (masked) with their sources, and runtime changes."""
    got = sdk_call(token, lambda aria: aria.debugger.config(service))
    if as_json:
        _json(got)
        return
    table = Table("service", "key", "source", "value")
    for name, entry in got["services"].items():
        for key, v in entry["settings"].items():
            table.add_row(name, key, v["source"], json.dumps(v["value"]))
        for key, v in entry["runtime"].items():
            table.add_row(name, key, "runtime", json.dumps(v))
    _print(table)
    for c in got["changes"]:
        typer.echo(f"changed {c['service']} {c['setting']} {c['from']} -> {c['to']} by {c['by']} at {c['at']:.0f}")


@app.command("log-level")
def log_level(service: str = typer.Argument(..., help="A service, e.g. aria_engine."),
              level: str = typer.Argument(..., help="DEBUG, INFO, WARNING, ERROR or CRITICAL."),
              token: str | None = TokenOpt) -> None:
    """Set the level of the aria loggers in a service's process (until it restarts)."""
    if level.upper() not in LEVELS:
        raise typer.BadParameter(f"level must be one of {', '.join(LEVELS)}", param_hint="LEVEL")
    got = sdk_call(token, lambda aria: aria.debugger.set_log_level(service, level.upper()))
    typer.echo(f"{service} (pid {got['pid']}): log level {got['from']} -> {got['to']} ({got['loggers']} loggers)")


from aria_actors.debugger.cli_logs import register as _register_logs  # noqa: E402
from aria_actors.debugger.cli_traces import register as _register_traces  # noqa: E402

_register_traces(app)  # `aria debugger traces` and `aria debugger trace` (cli_traces.py)
_register_logs(app)  # `aria debugger logs` (cli_logs.py)
__import__("aria_actors.debugger.cli_console")  # registers `aria debugger console`, `reload` and `graph` on app
