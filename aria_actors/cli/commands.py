"""The ``aria`` command: up, down, status, services, restart, env, config, and one group per service.

Exit codes: 0 success, 1 an error (one red line), 2 bad usage or bad settings (before anything starts).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from aria_actors.cli.localcluster import LocalCluster, ServePrestart
from aria_actors.cli.operator import cached_token, operator_token
from aria_actors.cli.support import print_error
from aria_actors.runtime import config_view
from aria_actors.runtime.errors import AriaError, ConfigError
from aria_actors.runtime.registry import service_submodules
from aria_actors.runtime.settings import AriaSettings, load_settings

app = typer.Typer(help="Aria: a runtime for AI-driven characters on Ray.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")

STATUS_STYLE = {"ready": "green", "degraded": "yellow", "not_implemented": "cyan", "failed": "red bold",
                "starting": "blue", "pending": "dim", "stopped": "dim"}


def fail(message: str, code: int = 1) -> typer.Exit:
    """The one red error line (``support.print_error``); the caller raises the exit it returns."""
    print_error(message)
    return typer.Exit(code)


def run_guarded(fn: Callable[[], T]) -> T:
    """Turn Aria errors into one red line and the documented exit code."""
    try:
        return fn()
    except ConfigError as exc:
        raise fail(exc.message, 2) from None
    except AriaError as exc:
        raise fail(exc.message, 1) from None


def settings_or_exit() -> AriaSettings:
    return run_guarded(load_settings)


def services_table(status: dict[str, Any]) -> Table:
    table = Table(title=f"Aria services ({status.get('phase', '?')})", expand=False)
    # Every column but the message keeps its words whole: a long health message folds, not the status
    # (CI: a long message folded `not_implemented` across two lines).
    for col in ("layer", "service", "kind", "status", "restarts", "uptime", "node"):
        table.add_column(col, no_wrap=True)
    table.add_column("message", overflow="fold")
    for svc in status["services"]:
        style = STATUS_STYLE.get(svc["status"], "")
        message = svc.get("last_error") if svc["status"] == "failed" else svc.get("message")
        uptime = f"{svc['uptime_s']:.0f}s" if svc.get("uptime_s") is not None else "-"
        table.add_row(str(svc["layer"]), svc["name"], svc["kind"], f"[{style}]{svc['status']}[/{style}]",
                      str(svc["restarts"]), uptime, (svc.get("node") or "-")[:12], message or "")
    return table


def _settled(status: dict[str, Any]) -> bool:
    """The boot is over: every service is up, failed, or waits on a dependency that failed."""
    if status["phase"] not in ("running", "stopped"):
        return False
    by_name = {s["name"]: s for s in status["services"]}

    def stuck(name: str) -> bool:  # pending behind a failure, so it will not start by itself
        svc = by_name[name]
        return svc["status"] == "failed" or (
            svc["status"] == "pending" and any(stuck(d) for d in svc["depends_on"]))

    return all(s["status"] not in ("starting", "pending") or stuck(s["name"]) for s in status["services"])


@app.command()
def up(
    detach: bool = typer.Option(False, "--detach", "-d", help="Return once booted; leave Aria running."),
    timeout: float = typer.Option(300.0, help="Give up waiting for the boot after this many seconds."),
) -> None:
    """Start Ray, the boot actor and all fourteen services on embedded defaults."""
    # ray: runtime.boot imports Ray, which only the commands that reach the cluster load
    from aria_actors.runtime.boot import get_or_create_boot

    settings = settings_or_exit()
    cluster = LocalCluster(settings)
    started_here = False

    def _start() -> Any:
        nonlocal started_here
        if cluster.running():
            raise AriaError(f"Aria is already running (ARIA_HOME={settings.home}); "
                            "see `aria status` or stop it with `aria down`")
        cluster.lock()
        state = None
        serve = None
        if not settings.ray_address:
            cluster.apply_env()
            serve = ServePrestart()  # overlaps the head's start
            with console.status("starting Ray"):
                state = cluster.start()
            started_here = True
            serve.wait_imported()
        else:
            cluster.ensure_token()
        cluster.connect(state)
        if settings.ray_address:
            cluster.record_join()  # `aria token`, `status` and `down` look for it
        if serve is not None:
            serve.start(settings)
        boot = get_or_create_boot(settings)
        return boot, boot.up.remote(wait=True)

    try:
        boot, booted = run_guarded(_start)
        status = _watch_boot(boot, booted, timeout)
    except BaseException:
        if started_here:
            cluster.stop_processes()
        raise
    counts = status["counts"]
    console.print(f"[bold]Aria is up[/bold]: {len(status['services'])} services "
                  + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    failed = [s for s in status["services"] if s["status"] == "failed"]
    for svc in failed:
        err_console.print(f"[red]failed:[/red] {svc['name']}: "
                          f"{escape(svc.get('last_error') or svc.get('message') or 'no reason given')}")
    if failed:
        err_console.print("`aria status` shows the services, `aria restart NAME` retries one")
    console.print(f"  gateway    {settings.gateway_url}  (OpenAPI at /docs)")
    console.print(f"  dashboard  http://{settings.dashboard_host}:{settings.dashboard_port}")
    console.print("  jobs       eval \"$(aria env)\" && ray job submit -- python examples/hello_job.py")
    if detach:
        _DETACHED.set()
        if failed:  # a script that ran `aria up -d` must not go on as if Aria were whole
            raise typer.Exit(1)
        return
    console.print("Running in the foreground; Ctrl-C stops Aria.")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        if not settings.ray_address and cluster.running() is None:
            console.print("Aria was stopped (`aria down` elsewhere); exiting.")
            return
    console.print("stopping Aria...")
    _down(settings)


def _boot_view(status: dict[str, Any]) -> tuple[Any, ...]:
    """What the boot table shows, less the uptimes."""
    return (status.get("phase"), *((s["name"], s["status"], s["restarts"], s.get("message"), s.get("last_error"),
                                    s.get("node")) for s in status["services"]))


def _watch_boot(boot: Any, booted: Any, timeout: float) -> dict[str, Any]:
    """Show the boot live until it settles; ``booted`` (``up(wait=True)``) wakes it at the end."""
    import ray  # ray: importing Ray costs ~0.4 s; commands that do not talk to the cluster never load it

    deadline = time.monotonic() + timeout
    # Drawn when something changed (uptimes at most once a second), not on Live's 4 Hz timer: the
    # 14-row table costs ~27 ms of CPU to draw on the 2-core machine (measured), ~10% of a core
    # taken from the boot it shows.
    shown: tuple[Any, ...] | None = None
    shown_at = 0.0
    with Live(console=console, auto_refresh=False, transient=False) as live:
        while True:
            status = ray.get(boot.status.remote(), timeout=60)
            view = _boot_view(status)
            if view != shown or time.monotonic() - shown_at >= 1.0:
                live.update(services_table(status), refresh=True)
                shown, shown_at = view, time.monotonic()
            if _settled(status):
                return status
            if time.monotonic() > deadline:
                raise fail(f"boot did not settle within {timeout:.0f}s; see `aria status`")
            if booted is None:  # booted but not settled (a failed start's dependents): poll
                time.sleep(0.25)
            elif ray.wait([booted], timeout=0.25)[0]:
                booted = None  # the boot is over: read its final status at once


def _down(settings: AriaSettings) -> int:
    import ray  # ray: importing Ray costs ~0.4 s; commands that do not talk to the cluster never load it

    from aria_actors.runtime.boot import find_boot

    cluster = LocalCluster(settings)
    state = cluster.running()
    if state is None and not settings.ray_address:
        leftovers = cluster.stop_processes()
        return len(leftovers)
    try:
        cluster.connect(state)
        boot = find_boot(settings)
        if boot is not None:
            with console.status("stopping services in reverse boot order"):
                ray.get(boot.down.remote(), timeout=120)
            ray.kill(boot, no_restart=True)
    except Exception as exc:
        err_console.print(f"[yellow]warning:[/yellow] orderly stop failed ({exc}); stopping processes")
    finally:
        if ray.is_initialized():
            ray.shutdown()
    if settings.ray_address:  # the cluster is not Aria's: only Aria's own state goes
        cluster.state_path.unlink(missing_ok=True)
        (cluster.run_dir / "operator.jwt").unlink(missing_ok=True)
        return 0
    with console.status("stopping Ray"):
        return len(cluster.stop_processes())


@app.command()
def down() -> None:
    """Stop every service in reverse order, then Ray; leaves no Aria or Ray process behind."""
    settings = settings_or_exit()
    n = run_guarded(lambda: _down(settings))
    console.print(f"Aria is down ({n} processes stopped).")


def _gateway_get(path: str) -> Any:
    from aria_actors.sdk import AriaClient  # light: the SDK (httpx) loads for the commands that call the gateway

    settings = settings_or_exit()
    with AriaClient(settings.gateway_url) as client:
        return run_guarded(lambda: client.get_json(path))


def _status_from_ray(settings: AriaSettings) -> dict[str, Any] | None:
    """The boot actor's status straight from Ray, for when the gateway itself is down."""
    import ray  # ray: importing Ray costs ~0.4 s; commands that do not talk to the cluster never load it

    from aria_actors.runtime.boot import find_boot

    cluster = LocalCluster(settings)
    if not settings.ray_address and cluster.running() is None:
        return None
    cluster.connect()
    boot = find_boot(settings)
    return ray.get(boot.status.remote(), timeout=settings.call_timeout_s) if boot else None


@app.command()
def status(json_out: bool = typer.Option(False, "--json", help="Print the raw status as JSON.")) -> None:
    """Every service with its status, restarts, uptime and node (from the gateway, else from Ray)."""
    from aria_actors.sdk import AriaClient, Unreachable  # light: as in _gateway_get

    settings = settings_or_exit()
    try:
        with AriaClient(settings.gateway_url) as client:
            body = client.get_json("/v1/services")
    except Unreachable as exc:
        try:
            body = _status_from_ray(settings)
        except Exception as ray_exc:  # Ray unreachable too: one line, not a traceback
            raise fail(f"{exc.message}; and Ray: {type(ray_exc).__name__}: {ray_exc}") from None
        if body is None:
            raise fail(exc.message) from None
        err_console.print(f"[yellow]warning:[/yellow] gateway unreachable ({settings.gateway_url}); "
                          "status read from the boot actor")
    except AriaError as exc:
        raise fail(exc.message) from None
    if json_out:
        console.print_json(data=body)
        return
    console.print(services_table(body))
    if any(s["status"] == "failed" for s in body["services"]):
        raise typer.Exit(1)


@app.command()
def services(permissions: bool = typer.Option(
        False, "--permissions", help="Print who may do what: every route and RPC method against each role."),
) -> None:
    """Each service's layer, dependencies and which seed features it has built."""
    if permissions:
        _print_permissions()
        return
    body = _gateway_get("/v1/services")
    table = Table(title="Aria services")
    for col in ("layer", "service", "depends on", "status", "built", "missing"):
        table.add_column(col, overflow="fold")
    for svc in body["services"]:
        built, missing = svc["capabilities"], svc["missing"]
        table.add_row(str(svc["layer"]), svc["name"], ", ".join(svc["depends_on"]) or "-", svc["status"],
                      f"{len(built)}/{len(built) + len(missing)}", ", ".join(missing))
    console.print(table)


def _print_permissions() -> None:
    # light: the permission table builds the gateway app (every router), which no other command needs
    from aria_actors.coordinate.permissions import ROLES, matrix

    table = Table(title="Who may do what (from the declared surface; ✓ allowed)")
    for col in ("door", "permission", "job", *ROLES):
        table.add_column(col, overflow="fold")
    for door, allowed in matrix():
        perm = door.spec.describe() if door.spec else "system"
        # Text cells: rich would read ":secret:" in a permission as an emoji code.
        table.add_row(Text(door.name), Text(perm), "yes" if door.spec and door.spec.job else "",
                      *("✓" if allowed[r] else "·" for r in ROLES))
    console.print(table)


@app.command()
def restart(name: str = typer.Argument(..., help="Service name, e.g. aria_storage.")) -> None:
    """Restart one service now (also retries a service whose start failed)."""
    import ray  # ray: importing Ray costs ~0.4 s; commands that do not talk to the cluster never load it

    from aria_actors.runtime.boot import find_boot

    settings = settings_or_exit()

    def _restart() -> dict[str, Any]:
        LocalCluster(settings).connect()
        boot = find_boot(settings)
        if boot is None:
            raise AriaError("the boot actor is not running; start Aria with `aria up`")
        return ray.get(boot.restart.remote(name))

    svc = run_guarded(_restart)
    console.print(f"{svc['name']}: {svc['status']} {svc.get('last_error') or ''}")


@app.command()
def env() -> None:
    """Print the shell exports that `ray job submit` and the Ray dashboard API need (token auth)."""
    settings = settings_or_exit()
    cluster = LocalCluster(settings)
    state = run_guarded(cluster.require_running)
    # The token's value, not its path: processes carrying the path are what `aria down` stops.
    ray_env = {k: v for k, v in cluster.ray_env().items() if k != "RAY_AUTH_TOKEN_PATH"}
    exports = {**ray_env, "RAY_AUTH_TOKEN": Path(state.token_path).read_text().strip(),
               "RAY_ADDRESS": state.dashboard_url, "ARIA_URL": state.gateway_url}
    try:
        exports["ARIA_TOKEN"] = operator_token(settings)
    except AriaError as exc:
        err_console.print(f"[yellow]warning:[/yellow] no ARIA_TOKEN: {exc.message}")
    for key, value in exports.items():
        print(f"export {key}={shlex.quote(value)}")


@app.command()
def token() -> None:
    """Print an admin bearer token for this Aria's gateway (minted by aria_security, valid 1 h)."""
    settings = settings_or_exit()
    run_guarded(LocalCluster(settings).require_running)
    print(run_guarded(lambda: operator_token(settings)))


@app.command("config")
def config_cmd(json_out: bool = typer.Option(False, "--json", help="Print JSON: {section: {key: "
                                             "{value, source, env}}}.")) -> None:
    """Print every setting of every service (section, key, source, value), secrets masked; a bad
    value or an unknown key in any section exits 2 naming it, as `aria up` does."""
    settings = settings_or_exit()
    if json_out:
        print(json.dumps(config_view.as_json(settings), indent=2, ensure_ascii=False))
    else:
        print(config_view.render_text(settings))


def _ensure_token() -> None:
    """Service command groups talk to the gateway with $ARIA_TOKEN; mint one if it is unset."""
    if os.environ.get("ARIA_TOKEN"):
        return
    settings = settings_or_exit()
    token = cached_token(settings)
    if token is None and LocalCluster(settings).running():
        try:
            token = operator_token(settings)
        except AriaError as exc:
            err_console.print(f"[yellow]warning:[/yellow] no token: {exc.message}")
    if token:
        os.environ["ARIA_TOKEN"] = token


def _mount_service_clis() -> None:
    for module, sub in service_submodules("cli"):
        app.add_typer(sub.app, name=module, callback=_ensure_token)
        if module == "security":  # the name for the secrets commands
            app.add_typer(sub.app, name="secrets", callback=_ensure_token)


_mount_service_clis()


_DETACHED = threading.Event()  # set by `aria up --detach` once the boot settled


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit as exit_:
        if exit_.code in (0, None) and _DETACHED.is_set():
            # Everything `aria up --detach` started is detached and lives on; the driver's
            # disconnect and interpreter teardown that a normal exit does cost ~0.8 s here
            # (ray.shutdown 0.26 s, teardown ~0.5 s, measured) and leave nothing to clean up.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        raise


if __name__ == "__main__":
    main()
