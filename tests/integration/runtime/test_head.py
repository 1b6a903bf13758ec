"""The Ray head process of a local Aria (cli/head.py): up, stopped by SIGTERM, and it stops
the rest of the node when one of Ray's processes dies (as `ray start --block` does)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

from aria_actors.cli.head import READY_LINE
from aria_actors.cli.localcluster import LocalCluster
from aria_actors.runtime.settings import AriaSettings
from tests.fixtures.aria_up import free_port

# A hang guard for a broken head, not a speed limit.
HANG_GUARD_S = 180


def _start_head(tmp_path) -> tuple[subprocess.Popen[str], list[psutil.Process]]:
    cluster = LocalCluster(AriaSettings(home=tmp_path / "home"))
    cluster.ensure_token()
    cmd = [sys.executable, "-m", "aria_actors.cli.head", f"--port={free_port()}",
           "--dashboard-host=127.0.0.1", f"--dashboard-port={free_port()}",
           f"--dashboard-agent-listen-port={free_port()}", "--num-cpus=1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **cluster.ray_env()}, start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if READY_LINE in line:
            break
    else:
        pytest.fail(f"the head exited before it was up (rc {proc.wait()})")
    children = psutil.Process(proc.pid).children(recursive=True)
    assert any(c.name() == "raylet" for c in children) and any(c.name() == "gcs_server" for c in children)
    return proc, children


def _gone(procs: list[psutil.Process]) -> bool:
    _, alive = psutil.wait_procs(procs, timeout=30)
    return not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def test_sigterm_stops_the_head_and_every_ray_process(tmp_path) -> None:
    proc, children = _start_head(tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(HANG_GUARD_S) == 0
    assert _gone(children)


def test_a_dead_raylet_stops_the_head_with_an_error(tmp_path) -> None:
    proc, children = _start_head(tmp_path)
    next(c for c in children if c.name() == "raylet").kill()
    assert proc.wait(HANG_GUARD_S) == 1
    assert proc.stdout is not None and "Ray processes died" in proc.stdout.read()
    assert _gone(children)
