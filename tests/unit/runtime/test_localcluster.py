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


def test_joining_a_cluster_on_loopback_keeps_ray_on_loopback(tmp_path) -> None:
    # Ray maps 127.0.0.1 to the machine's address before it dials a GCS: a driver joining nodes
    # that bind 127.0.0.1 would dial an address nobody listens on (issue 18, seen by hand).
    from aria_actors.cli.localcluster import LOOPBACK_ENV, LocalCluster, address_host
    from aria_actors.runtime.settings import AriaSettings

    token = tmp_path / "token"
    token.write_text("t")

    def env(address: str) -> dict[str, str]:
        settings = AriaSettings(home=tmp_path / "home", ray_address=address, ray_token_path=str(token))
        return LocalCluster(settings).ray_env()

    assert env("127.0.0.1:6379")[LOOPBACK_ENV] == "0" and env("localhost:6379")[LOOPBACK_ENV] == "0"
    assert LOOPBACK_ENV not in env("10.0.0.1:6379") and LOOPBACK_ENV not in env("auto")
    assert env("127.0.0.1:6379")["RAY_AUTH_TOKEN_PATH"] == str(token)  # the cluster's token, not one of Aria's
    assert [address_host(a) for a in ("127.0.0.1:1", "[::1]:1", "ray://h:10001", "auto")] == [
        "127.0.0.1", "::1", "h", "auto"]


def test_the_node_process_starts_a_head_or_joins_one() -> None:
    import pytest

    from aria_actors.cli.head import _labels, _parse

    node = _parse(["--address=127.0.0.1:6379", "--dashboard-agent-listen-port=1", "--num-cpus=1",
                   '--resources={"aria_node2": 1}', "--labels=aria-node=node2, zone=b"])
    assert node.address == "127.0.0.1:6379" and node.resources == {"aria_node2": 1}
    assert node.node_ip_address == "127.0.0.1"  # loopback unless told otherwise
    assert _labels(node.labels) == {"aria-node": "node2", "zone": "b"} and _labels("") == {}
    with pytest.raises(SystemExit):  # a head needs its ports
        _parse(["--dashboard-agent-listen-port=1"])
