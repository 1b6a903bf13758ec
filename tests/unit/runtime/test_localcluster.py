from __future__ import annotations

import subprocess
import time

from aria_actors.cli.localcluster import process_tree


def test_process_tree_holds_every_process_below_the_roots() -> None:
    # `aria down` stops what runs below Aria's marked processes too (Ray's agents are unmarked).
    parent = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        deadline = time.monotonic() + 30  # a bound on waiting for the children, not a speed check
        tree = process_tree([parent.pid])
        while len(tree) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
            tree = process_tree([parent.pid])
        assert parent.pid in tree and len(tree) == 3
        assert process_tree([]) == set()
    finally:
        for pid in process_tree([parent.pid]):
            subprocess.run(["kill", str(pid)], check=False)
        parent.wait()
