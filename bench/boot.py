"""Boot time of all fourteen services against `ray.init` alone, in the same run.

    python bench/boot.py [--runs N]

Prints ``boot: aria Xs, ray.init alone Ys, ratio Z`` where X is `aria up --detach` from the
command to every service settled (Ray head included) on private ports with an ARIA_HOME that has
booted before, and Y is `ray.init(num_cpus=2)` of a fresh local instance; ``boot-cold`` is the
first boot of a fresh ARIA_HOME (OpenBao and PostgreSQL initialised). Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import importlib.util
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


def other_rays() -> int:
    """GCS servers running on this machine before the bench starts any."""
    count = 0
    for proc in Path("/proc").iterdir():
        try:
            count += proc.name.isdigit() and b"gcs_server" in (proc / "cmdline").read_bytes()
        except OSError:
            continue
    return count


def time_ray_init() -> float:
    code = (
        "import time, ray; t = time.perf_counter(); "
        "ray.init(address='local', num_cpus=2, include_dashboard=True, log_to_driver=False); "
        "print(time.perf_counter() - t); ray.shutdown()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def time_aria_up(home: Path) -> tuple[float, dict]:
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if importlib.util.find_spec("pandas") is not None:
        # The test tools (TRL) bring pandas; Ray Serve imports it in each of its processes when
        # it is there (+0.3 CPU-s each, measured). `scripts/install.sh` alone leaves it out.
        print("# note: pandas is installed (a --dev install): Serve's processes import it, so this boot "
              "costs more than on the runtime install that `aria up` is installed with")
    if others := other_rays():
        # Measured: ray.init alone takes ~7.5 s instead of ~3.5 s then; Aria's head is not
        # affected (it gives its agent a free port).
        print(f"# warning: {others} other Ray instance(s) on this machine: ray.init's dashboard agent "
              "cannot bind its fixed port 52365 and ray.init alone is slower than on a quiet machine")
    cold, warm, ray_times = [], [], []
    status: dict = {}
    for _ in range(args.runs):
        home = Path(f"/tmp/aria-bench-{uuid.uuid4().hex[:8]}")
        try:
            ray_times.append(time_ray_init())
            # cold: a fresh ARIA_HOME (OpenBao and PostgreSQL are initialised); warm: the same again
            cold.append(time_aria_up(home)[0])
            elapsed, status = time_aria_up(home)
            warm.append(elapsed)
        finally:
            shutil.rmtree(home, ignore_errors=True)
    ray_s = statistics.median(ray_times)
    services = status.get("services", [])
    print(f"# services: {len(services)}, counts {status.get('counts')}, runs {args.runs}")
    for name, times in (("boot", warm), ("boot-cold", cold)):
        aria_s = statistics.median(times)
        print(f"{name}: aria {aria_s:.1f}s, ray.init alone {ray_s:.1f}s, ratio {aria_s / ray_s:.2f} "
              f"(aria - ray.init = {aria_s - ray_s:.1f}s, target <= 10s)")


if __name__ == "__main__":
    main()
