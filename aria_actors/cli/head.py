"""The Ray head process of a local Aria: ``python -m aria_actors.cli.head [options]``.

It does what ``ray start --head --block`` does for Aria, and no more. Written because the ray CLI
costs about a second before it starts anything (it imports the whole cluster launcher) and always
starts a Ray Client server (``ray://``, a process Aria never uses): on a 2-core machine both sit on
the critical path of ``aria up`` (measured here: `ray start` 4.2-5.5 s to "started", this 3.4-3.6 s).

Guarantees and caveats:
- Uses ``ray._private`` (``RayParams``, ``Node``), the same calls ``ray start`` makes; Ray is
  pinned in pyproject.toml, and ``tests/integration/runtime`` boots through this module.
- Token authentication stays on: the token comes from ``RAY_AUTH_TOKEN_PATH`` as with ray start.
- Prints ``READY_LINE`` once the node runs; exits (killing its children) when any Ray process of
  the node dies unexpectedly or on SIGTERM/SIGINT, like ``ray start --block``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

READY_LINE = "aria head: ray is up"
_EXPECTED_EXIT = (0, signal.SIGTERM, -signal.SIGTERM, 128 + signal.SIGTERM)


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m aria_actors.cli.head")
    p.add_argument("--port", type=int, required=True, help="GCS port")
    p.add_argument("--dashboard-host", required=True)
    p.add_argument("--dashboard-port", type=int, required=True)
    p.add_argument("--dashboard-agent-listen-port", type=int, required=True)
    p.add_argument("--num-cpus", type=int, default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    from ray._common.usage import usage_lib  # ray: the CLI imports READY_LINE from this module at start-up, without Ray
    from ray._private import services
    from ray._private.authentication.authentication_token_setup import (
        ensure_token_if_auth_enabled,
        maybe_enable_token_auth_if_token_available,
    )
    from ray._private.node import Node
    from ray._private.parameter import RayParams
    from ray._private.utils import write_ray_address

    usage_lib.set_usage_stats_enabled_via_env_var(False)
    ip = services.get_node_ip_address()
    params = RayParams(
        node_ip_address=ip, node_name=ip, num_cpus=args.num_cpus, include_dashboard=True,
        dashboard_host=args.dashboard_host, dashboard_port=args.dashboard_port,
        dashboard_agent_listen_port=args.dashboard_agent_listen_port, ray_client_server_port=None,
    )
    params.gcs_server_port = args.port
    maybe_enable_token_auth_if_token_available()
    ensure_token_if_auth_enabled(None, create_token_if_missing=False)
    node = Node(params, head=True, shutdown_at_exit=True, spawn_reaper=True)
    write_ray_address(node.address, None)  # so `ray status` and address="auto" find it

    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"{READY_LINE} at {node.address}", flush=True)
    while not stopping:
        time.sleep(0.5)
        died = [(kind, proc.returncode) for kind, proc in node.dead_processes()
                if proc.returncode not in _EXPECTED_EXIT]
        if died:
            print(f"aria head: Ray processes died: {died}; stopping the rest", flush=True)
            node.kill_all_processes(check_alive=False, allow_graceful=False)
            return 1
    node.kill_all_processes(check_alive=False, allow_graceful=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
