"""Aria on a three-node Ray cluster on this machine, and the loss of one node.

    python bench/cluster.py [--items N] [--kill node2|node3]

Starts external PostgreSQL, OpenBao and S3 (moto_server), a head (`ray start --head`, token
authentication, 127.0.0.1) and two more nodes, then `aria up --detach` joins the cluster with
``ARIA_RAY_ADDRESS`` and the cluster's token, services placed over the nodes by
``ARIA_PLACEMENT`` (tests/fixtures/multinode.py: ``PLACEMENT``). It writes secrets, assets and
jobs, kills one non-head node (kill -9 of its raylet), waits until every service is back to its
earlier status on the nodes left (restart counters up) and reads everything back.

Prints ``#`` lines (timings, placement, statuses after the kill, what was lost) and one line::

    cluster: nodes N, services on M nodes, node killed: recovered in X s, lost L

Recovery is timed from the kill to the first read of /v1/services that shows it. Asserts nothing
about time. Every process it started is gone when it exits.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/queue.py would shadow the standard
# library's queue (which urllib3 imports).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

REPO = _HERE.parent
sys.path.insert(0, str(REPO))

from tests.fixtures.multinode import MultiNodeCluster, run_scenario  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=5, help="secrets, assets and jobs of each kind")
    parser.add_argument("--kill", default="node2", choices=("node2", "node3"))
    parser.add_argument("--train", action="store_true",
                        help="also train, promote and, after the kill, serve a model version")
    args = parser.parse_args()
    base = Path(f"/tmp/aria-bench-cluster-{uuid.uuid4().hex[:8]}")
    t = time.monotonic()
    cluster = MultiNodeCluster(base)
    try:
        with cluster:
            print(f"# cluster and servers up: {time.monotonic() - t:.1f} s "
                  f"({len(cluster.nodes)} nodes at {cluster.address})", flush=True)
            outcome = run_scenario(cluster, items=args.items, kill=args.kill, train=args.train,
                                   log=lambda line: print(line, flush=True))
    finally:
        left = cluster.leftovers()
        shutil.rmtree(base, ignore_errors=True)
    for item in outcome.lost:
        print(f"# lost: {item}")
    print(f"# {args.kill}'s services came back on: "
          + ", ".join(f"{n}@{w} (restarts {outcome.restarts[n]})" for n, w in sorted(outcome.moved.items())))
    if left:
        print(f"# processes left behind: {sorted(left)}")
    print(outcome.line())
    return 0 if outcome.recovered_s is not None and not outcome.lost and not left else 1


if __name__ == "__main__":
    sys.exit(main())
