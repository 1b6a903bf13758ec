"""Boot time of all fourteen services against `ray.init` alone, in the same run.

    python bench/boot.py [--runs N]

Prints ``boot: aria Xs, ray.init alone Ys, ratio Z`` where X is `aria up --detach` from the
command to every service settled (Ray head included) on private ports and a fresh ARIA_HOME,
and Y is `ray.init(num_cpus=2)` of a fresh local instance. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.aria_up import ARIA, aria_env  # noqa: E402


def time_ray_init() -> float:
    code = (
        "import time, ray; t = time.perf_counter(); "
        "ray.init(address='local', num_cpus=2, include_dashboard=True, log_to_driver=False); "
        "print(time.perf_counter() - t); ray.shutdown()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def time_aria_up() -> tuple[float, dict]:
    home = Path(f"/tmp/aria-bench-{uuid.uuid4().hex[:8]}")
    env = aria_env(home)
    try:
        t = time.perf_counter()
        up = subprocess.run([ARIA, "up", "--detach"], env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - t
        if up.returncode != 0:
            raise SystemExit(f"aria up failed:\n{up.stdout[-2000:]}\n{up.stderr[-2000:]}")
        status = json.loads(subprocess.run([ARIA, "status", "--json"], env=env, capture_output=True,
                                           text=True).stdout)
        return elapsed, status
    finally:
        subprocess.run([ARIA, "down"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    aria_times, ray_times = [], []
    status: dict = {}
    for _ in range(args.runs):
        ray_times.append(time_ray_init())
        elapsed, status = time_aria_up()
        aria_times.append(elapsed)
    aria_s, ray_s = statistics.median(aria_times), statistics.median(ray_times)
    services = status.get("services", [])
    starts = [s["started_at"] for s in services if s["started_at"]]
    first, last = min(starts), max(starts)
    print(f"services: {len(services)} settled, counts {status.get('counts')}, "
          f"first to last service start {last - first:.1f}s")
    print(f"boot: aria {aria_s:.1f}s, ray.init alone {ray_s:.1f}s, ratio {aria_s / ray_s:.2f} "
          f"(aria - ray.init = {aria_s - ray_s:.1f}s, target <= 10s)")


if __name__ == "__main__":
    main()
