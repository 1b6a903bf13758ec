"""Boot time of all fourteen services against the floor Ray itself sets, in the same run.

    python bench/boot.py [--runs N]

Prints ``boot: aria X s, ray floor Y s, ratio Z`` where X is `aria up --detach` from the command
to every service settled (Ray head included) on private ports with an ARIA_HOME that has booted
before, and Y is the same shape with no Aria code: a fresh local Ray (dashboard on, 2 CPUs), one
boot actor, one bare actor per actor-kind service and one Serve application per deployment-kind
service, started one after the other, until the last actor answers and Serve's HTTP proxy answers
every application. ``boot-cold`` is the first boot of a fresh ARIA_HOME (OpenBao and PostgreSQL
initialised), against the same floor; ``ray.init`` alone is printed for reference. Asserts
nothing about time.
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


FLOOR = """
import sys, time
import httpx, ray
from ray import serve

address, actors, apps, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ray.init(address=address, namespace="floor", log_to_driver=False, logging_level="WARNING")


@ray.remote(num_cpus=0)
class Bare:
    def ping(self):
        return 1


boot = Bare.options(lifetime="detached", name="boot").remote()
ray.get(boot.ping.remote())
started = [Bare.options(name=f"svc{i}", lifetime="detached").remote() for i in range(actors)]
ray.get([a.ping.remote() for a in started])
serve.start(http_options={"host": "127.0.0.1", "port": port})


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0})
class App:
    async def __call__(self, request):
        return "ok"


for i in range(apps):
    serve.run(App.bind(), name=f"app{i}", route_prefix=f"/app{i}", blocking=False)
for i in range(apps):
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/app{i}", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.02)
print("FLOOR-READY", flush=True)
"""


def service_kinds() -> tuple[int, int]:
    from aria_actors.runtime.registry import all_specs

    specs = all_specs()
    return (sum(s.kind == "actor" for s in specs), sum(s.kind == "deployment" for s in specs))


def time_ray_floor(actors: int, apps: int) -> float:
    """The same Ray head `aria up` starts (Ray's own Node, token auth on, loopback), then a driver
    that starts the same number of actors and Serve applications, all with no Aria code."""
    from aria_actors.cli.head import READY_LINE
    from tests.fixtures.aria_up import free_port

    work = Path(f"/tmp/aria-floor-{uuid.uuid4().hex[:8]}")
    work.mkdir()
    token = work / "auth_token"
    token.write_text(uuid.uuid4().hex + uuid.uuid4().hex)
    token.chmod(0o600)
    port = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    t = time.perf_counter()
    head = subprocess.Popen(
        [sys.executable, "-m", "aria_actors.cli.head", f"--port={port}", "--dashboard-host=127.0.0.1",
         f"--dashboard-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
         "--num-cpus=2"], env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        for line in head.stdout:  # type: ignore[union-attr]
            if READY_LINE in line:
                break
        driver = subprocess.Popen([sys.executable, "-c", FLOOR, f"127.0.0.1:{port}", str(actors),
                                   str(apps), str(free_port())], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        for line in driver.stdout:  # type: ignore[union-attr]
            if "FLOOR-READY" in line:
                break
        elapsed = time.perf_counter() - t
        driver.kill()
        driver.wait()
        return elapsed
    finally:
        head.terminate()
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            head.kill()
        shutil.rmtree(work, ignore_errors=True)


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
    cold, warm, ray_times, floors = [], [], [], []
    status: dict = {}
    actors, apps = service_kinds()
    for _ in range(args.runs):
        home = Path(f"/tmp/aria-bench-{uuid.uuid4().hex[:8]}")
        try:
            ray_times.append(time_ray_init())
            floors.append(time_ray_floor(actors, apps))
            # cold: a fresh ARIA_HOME (OpenBao and PostgreSQL are initialised); warm: the same again
            cold.append(time_aria_up(home)[0])
            elapsed, status = time_aria_up(home)
            warm.append(elapsed)
        finally:
            shutil.rmtree(home, ignore_errors=True)
    ray_s, floor_s = statistics.median(ray_times), statistics.median(floors)
    services = status.get("services", [])
    print(f"# services: {len(services)}, counts {status.get('counts')}, runs {args.runs}")
    print(f"# ray floor: the same Ray head + 1 boot actor + {actors} bare actors + Serve with {apps} "
          f"applications answering; ray.init alone {ray_s:.1f} s")
    for name, times in (("boot", warm), ("boot-cold", cold)):
        aria_s = statistics.median(times)
        print(f"{name}: aria {aria_s:.1f} s, ray floor {floor_s:.1f} s, ratio {aria_s / floor_s:.2f} "
              "(target <= 1.2, goal <= 1.0)")


if __name__ == "__main__":
    main()
