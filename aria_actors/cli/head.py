"""The Ray head process of a local Aria: ``python -m aria_actors.cli.head [options]``; with
``--address``, a node that joins that head instead (tests and ``bench/cluster.py`` start a
multi-node cluster on one machine with it).

It does what ``ray start [--head] --block`` does for Aria, and no more. Written because the ray CLI
costs about a second before it starts anything (it imports the whole cluster launcher) and always
starts a Ray Client server (``ray://``, a process Aria never uses): on a 2-core machine both sit on
the critical path of ``aria up`` (measured here: `ray start` 4.2-5.5 s to "started", this 3.4-3.6 s).

Guarantees and caveats:
- Uses ``ray._private`` (``RayParams``, ``Node``), the same calls ``ray start`` makes; Ray is
  pinned in pyproject.toml, and ``tests/integration/runtime`` boots through this module.
- Token authentication stays on: the token comes from ``RAY_AUTH_TOKEN_PATH`` as with ray start.
- A joining node binds ``--node-ip-address`` as given: ``ray start`` maps a loopback address to
  the machine's address and, unlike for a head, refuses ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
  for a worker node, so it cannot start one that stays on 127.0.0.1.
- Prints ``READY_LINE`` once the node runs; exits (killing its children) when any Ray process of
  the node dies unexpectedly or on SIGTERM/SIGINT, like ``ray start --block``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

READY_LINE = "aria head: ray is up"
_EXPECTED_EXIT = (0, signal.SIGTERM, -signal.SIGTERM, 128 + signal.SIGTERM)


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m aria_actors.cli.head")
    p.add_argument("--address", default=None, help="GCS address of a head to join (a worker node)")
    p.add_argument("--port", type=int, default=None, help="GCS port (head)")
    p.add_argument("--dashboard-host", default=None)
    p.add_argument("--dashboard-port", type=int, default=None)
    p.add_argument("--dashboard-agent-listen-port", type=int, required=True)
    p.add_argument("--num-cpus", type=int, default=None)
    p.add_argument("--object-store-memory", type=int, default=None)
    p.add_argument("--resources", type=json.loads, default=None, help="custom resources, JSON")
    p.add_argument("--labels", default="", help="node labels: key=value,key2=value2")
    p.add_argument("--temp-dir", default=None)
    p.add_argument("--node-ip-address", default="127.0.0.1",
                   help="address the node binds and advertises (loopback keeps it off the network)")
    args = p.parse_args(argv)
    if args.address is None and None in (args.port, args.dashboard_host, args.dashboard_port):
        p.error("a head needs --port, --dashboard-host and --dashboard-port")
    return args


def _labels(text: str) -> dict[str, str]:
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    return {k.strip(): v.strip() for k, _, v in pairs}


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    from ray._common.usage import usage_lib  # ray: the CLI imports READY_LINE from this module at start-up, without Ray
    from ray._private.authentication.authentication_token_setup import (
        ensure_token_if_auth_enabled,
        maybe_enable_token_auth_if_token_available,
    )
    from ray._private.node import Node
    from ray._private.parameter import RayParams
    from ray._private.utils import write_ray_address

    usage_lib.set_usage_stats_enabled_via_env_var(False)
    ip = args.node_ip_address
    head = args.address is None
    common = dict(
        node_ip_address=ip, node_name=ip, num_cpus=args.num_cpus,
        object_store_memory=args.object_store_memory, resources=args.resources,
        labels=_labels(args.labels) or None, temp_dir=args.temp_dir,
        dashboard_agent_listen_port=args.dashboard_agent_listen_port,
    )
    if head:
        params = RayParams(
            **common, include_dashboard=True, dashboard_host=args.dashboard_host,
            dashboard_port=args.dashboard_port, ray_client_server_port=None,
        )
        params.gcs_server_port = args.port
    else:
        params = RayParams(**common, gcs_address=args.address)
    maybe_enable_token_auth_if_token_available()
    ensure_token_if_auth_enabled(None, create_token_if_missing=False)
    node = Node(params, head=head, shutdown_at_exit=True, spawn_reaper=True)
    if head:
        write_ray_address(node.address, args.temp_dir)  # so `ray status` and address="auto" find it

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
