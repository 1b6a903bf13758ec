"""The local Ray head that ``aria up`` starts, and how ``aria down`` removes every trace of it.

Every process of the head (GCS, raylet, dashboard and its agents, workers, and what services
start from them) inherits ``RAY_AUTH_TOKEN_PATH``, which is unique to this ``ARIA_HOME`` (Ray's
agents drop other variables, but keep that one); ``stop`` finds them by it, so it removes exactly
this Aria and nothing else on the machine (``ray stop`` would kill every Ray of the user).

Guarantees and caveats:
- Ray token authentication stays on: the token lives in ``ARIA_HOME/ray/auth_token`` (mode 0600);
  ``aria env`` prints the variables ``ray job submit`` and the dashboard API need.
- One Aria per ``ARIA_HOME``: a lock file and the run state refuse a second ``aria up``.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from aria_actors.cli.head import READY_LINE
from aria_actors.runtime.errors import AlreadyRunning, AriaError, NotRunning
from aria_actors.runtime.settings import AriaSettings

log = logging.getLogger("aria.localcluster")

# Serve's documented throughput mode (Ray >= 2.55): handles talk to replicas over gRPC and route on
# the caller's event loop. Measured (bench/shape.py, tiny model, 32 clients): Serve's CPU per
# request 2.7 -> 1.3 ms, served tokens/s 0.62-0.72x -> 0.70-0.97x of a direct generate().
# Every process of the cluster and every driver (jobs, via `aria env`) must agree on it.
# Its direct ingress (replicas serving HTTP themselves) stays off: with it, `aria down` took 65-70 s
# instead of 13 s (Serve's graceful shutdown waits on it), and the gain is in the handle path.
# Serve's controller replaces a dead HTTP proxy only after 3 failed health checks, 10 s apart by
# default: the gateway answered nothing for 31 s after a kill -9 of the proxy (tests/chaos). Every
# 2 s it is back in ~8 s; a check is one actor call.
SERVE_ENV = {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1", "RAY_SERVE_ENABLE_DIRECT_INGRESS": "0",
             "RAY_SERVE_PROXY_HEALTH_CHECK_PERIOD_S": "2"}


# Ray's switch for "this machine is not part of a cluster": node addresses are 127.0.0.1.
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")


def address_host(address: str) -> str:
    """The host of a Ray address (``127.0.0.1:6379``, ``ray://h:10001``, ``[::1]:6379``)."""
    host = address.partition("://")[2] or address
    host = host.rsplit(":", 1)[0] if ":" in host and not host.endswith("]") else host
    return host.strip("[]")


class JoinedCluster(AriaError):
    """The run state says this Aria joined a cluster, but ARIA_RAY_ADDRESS is not set: acting as
    if Aria had its own head would stop processes of a cluster that is not Aria's."""

    type = "ray-joined-cluster"
    status = 409
    title = "Aria joined another Ray cluster"


class RayStartFailed(AriaError):
    """The local Ray head did not start; the message holds the end of its log."""

    type = "ray-start-failed"
    status = 500
    title = "Ray did not start"


class NoClusterToken(AriaError):
    """Joining a Ray cluster without its token: Ray would refuse every call (InvalidAuthToken)."""

    type = "ray-token-missing"
    status = 400
    title = "No token for the Ray cluster"


@dataclass
class RunState:
    pid: int
    gcs_address: str
    dashboard_url: str
    gateway_url: str
    token_path: str
    started_at: float
    log_path: str
    joined: str = ""  # the ARIA_RAY_ADDRESS this Aria joined; empty: its own local head


class LocalCluster:
    def __init__(self, settings: AriaSettings) -> None:
        self.settings = settings
        self.run_dir = settings.run_dir
        self.state_path = self.run_dir / "aria.json"
        self._lock_file: IO[str] | None = None

    @property
    def token_path(self) -> Path:
        """The Ray token: Aria's own for the head it starts; the cluster's when it joins one."""
        if not self.settings.ray_address:
            return self.settings.home / "ray" / "auth_token"
        return cluster_token_path(self.settings)

    # --- state ---------------------------------------------------------------------------------
    def read_state(self) -> RunState | None:
        try:
            return RunState(**json.loads(self.state_path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def running(self) -> RunState | None:
        """The run state of a live Aria of this ARIA_HOME, or None (a stale state file is ignored)."""
        state = self.read_state()
        if state is None:
            return None
        if state.joined and not self.settings.ray_address:
            raise JoinedCluster(
                f"this Aria (ARIA_HOME={self.settings.home}) joined the Ray cluster at {state.joined}; "
                f"run the command with ARIA_RAY_ADDRESS={state.joined}")
        if self.settings.ray_address:
            return state
        return state if state.pid > 0 and _alive(state.pid) else None

    def require_running(self) -> RunState:
        state = self.running()
        if state is None:
            raise NotRunning(f"Aria is not running for ARIA_HOME={self.settings.home}; start it with `aria up`")
        return state

    def lock(self) -> None:
        """Hold an exclusive lock on this ARIA_HOME for as long as this process lives."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.run_dir / "aria.lock", "a+")  # noqa: SIM115 - held for the process lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise AlreadyRunning(
                f"another `aria up` holds {self.run_dir / 'aria.lock'}; use `aria status` or `aria down`"
            ) from None
        self._lock_file = handle

    # --- environment ---------------------------------------------------------------------------
    def ensure_token(self) -> Path:
        """Aria's own head token, created once; joining a cluster only checks its token is there."""
        if self.settings.ray_address:
            return self.token_path  # raises NoClusterToken naming where it looked
        if self.token_path.exists():
            self.token_path.chmod(0o600)
        else:
            # ray: the CLI imports this module at start-up; only starting a head needs Ray
            from ray._private.authentication.authentication_token_generator import (
                generate_new_authentication_token,
            )

            self.token_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(generate_new_authentication_token())
        return self.token_path

    def ray_env(self) -> dict[str, str]:
        """Variables a process needs to talk to this Aria's Ray (token auth on)."""
        # Jobs run `python ...` with the head's PATH: make that Aria's interpreter.
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        return {
            "PATH": path,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(self.token_path),
            "RAY_USAGE_STATS_ENABLED": "0",
            "ARIA_HOME": str(self.settings.home),
            **SERVE_ENV,
            **self._loopback_env(),
        }

    def _loopback_env(self) -> dict[str, str]:
        """On a loopback head, every process must take 127.0.0.1 as its node address: Ray maps a
        loopback GCS address to the machine's address otherwise (``resolve_ip_for_localhost``)
        and its processes would dial, and listen on, an address the head does not use. The same
        holds for a driver joining a cluster at a loopback address (nodes on this machine)."""
        host = address_host(self.settings.ray_address) if self.settings.ray_address else self.settings.ray_node_ip
        return {LOOPBACK_ENV: "0"} if is_loopback(host) else {}

    def apply_env(self) -> None:
        os.environ.update(self.ray_env())
        if "ray" in sys.modules:
            # Ray reads RAY_AUTH_MODE into its C++ config at import; refresh it and the token cache.
            from ray._private.authentication.authentication_token_setup import _enable_token_auth
            from ray._raylet import AuthenticationTokenLoader

            _enable_token_auth()
            AuthenticationTokenLoader.instance().reset_cache()
            if self._loopback_env():
                from ray._private import ray_constants  # ray: already imported (read at its import)

                ray_constants.ENABLE_RAY_CLUSTER = False

    # --- start / stop --------------------------------------------------------------------------
    def start(self, timeout_s: float = 90.0) -> RunState:
        s = self.settings
        for port, what in ((s.ray_port, "ARIA_RAY_PORT"), (s.port, "ARIA_PORT"),
                           (s.dashboard_port, "ARIA_DASHBOARD_PORT")):
            if _port_busy(port):
                raise AlreadyRunning(f"port {port} ({what}) is already in use; is another Aria or Ray running?")
        self.ensure_token()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.run_dir / "ray-head.log"
        cmd = [
            sys.executable, "-m", "aria_actors.cli.head", f"--port={s.ray_port}",
            f"--dashboard-host={s.dashboard_host}", f"--dashboard-port={s.dashboard_port}",
            # Ray's fixed default (52365) collides with any other Ray on the machine, and a
            # dashboard agent that cannot bind makes `ray job submit` fail with "no available agent".
            f"--dashboard-agent-listen-port={_free_port()}",
            f"--node-ip-address={s.ray_node_ip}",
        ]
        if s.num_cpus:
            cmd.append(f"--num-cpus={s.num_cpus}")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    env={**os.environ, **self.ray_env()})
        state = RunState(
            pid=proc.pid, gcs_address=f"{s.ray_node_ip}:{s.ray_port}",
            dashboard_url=f"http://{s.dashboard_host}:{s.dashboard_port}", gateway_url=s.gateway_url,
            token_path=str(self.token_path), started_at=time.time(),
            log_path=str(log_path),
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RayStartFailed("the Ray head exited: " + _tail(log_path))
            if READY_LINE in log_path.read_text(errors="replace"):
                break
            time.sleep(0.1)
        else:
            self.stop_processes()
            raise RayStartFailed(f"the Ray head did not start in {timeout_s:.0f}s: " + _tail(log_path))
        self.state_path.write_text(json.dumps(asdict(state), indent=2))
        return state

    def record_join(self) -> RunState:
        """The run state of an Aria that joined ARIA_RAY_ADDRESS (no head of its own, so no pid to
        watch): what `aria token`, `aria status` and `aria down` find; `aria down` removes it."""
        s = self.settings
        # pid 0: no process of Aria's to watch or stop (and never one to signal: kill(0) is the group)
        state = RunState(
            pid=0, gcs_address=s.ray_address,
            dashboard_url=f"http://{s.dashboard_host}:{s.dashboard_port}", gateway_url=s.gateway_url,
            token_path=str(self.token_path), started_at=time.time(), log_path="", joined=s.ray_address,
        )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps(asdict(state), indent=2))
        return state

    def connect(self, state: RunState | None = None) -> None:
        import ray  # ray: as in ensure_token

        address = self.settings.ray_address or (state or self.require_running()).gcs_address
        if self.settings.ray_address:
            _check_reachable(address)
        self.apply_env()
        if not ray.is_initialized():
            ray.init(address=address, namespace=self.settings.namespace, log_to_driver=False,
                     logging_level="WARNING", configure_logging=False)

    def stop_processes(self, grace_s: float = 20.0) -> list[int]:
        """TERM, then KILL after ``grace_s``, every process of this Aria: those that carry its
        token path, and every process below them. Ray's dashboard and runtime-env agents do not
        carry the variable; they usually exit with their raylet, but were seen orphaned and alive
        after `aria down` (measured once in ~60 boots), so they are taken by descent too."""
        mark = f"RAY_AUTH_TOKEN_PATH={self.token_path}"
        pids = sorted(process_tree(marked_pids(mark)) - _ancestors(os.getpid()))
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.2)
        for pid in (set(pids) | process_tree(marked_pids(mark))) - _ancestors(os.getpid()):
            if _alive(pid):
                _signal(pid, signal.SIGKILL)
        self.state_path.unlink(missing_ok=True)
        # The cached admin token dies with this Aria (its signing keys may not survive it).
        (self.run_dir / "operator.jwt").unlink(missing_ok=True)
        return pids


class ClusterUnreachable(AriaError):
    """Nothing answers at ARIA_RAY_ADDRESS: Ray itself would retry for minutes, then raise."""

    type = "ray-unreachable"
    status = 503
    title = "Ray cluster unreachable"


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail within seconds (the connect timeout, plus the name lookup), naming the setting, when a
    host:port GCS address does not answer."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", ray://...: Ray resolves those itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ClusterUnreachable(
            f"no Ray cluster answers at {address} (ARIA_RAY_ADDRESS): {exc.strerror or exc}; "
            "start its head (`ray start --head`) or unset ARIA_RAY_ADDRESS to let `aria up` "
            "start a local one") from None


def cluster_token_path(settings: AriaSettings) -> Path:
    """Where the token of the cluster at ARIA_RAY_ADDRESS is: ARIA_RAY_TOKEN_PATH, then Ray's own
    order (the RAY_AUTH_TOKEN value, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token)."""
    if settings.ray_token_path:
        candidates = [Path(settings.ray_token_path).expanduser()]
    else:
        candidates = []
        if os.environ.get("RAY_AUTH_TOKEN"):
            candidates.append(_token_file(settings.home / "ray", os.environ["RAY_AUTH_TOKEN"].strip()))
        if os.environ.get("RAY_AUTH_TOKEN_PATH"):
            candidates.append(Path(os.environ["RAY_AUTH_TOKEN_PATH"]).expanduser())
        candidates.append(Path.home() / ".ray" / "auth_token")
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise NoClusterToken(
        f"joining the Ray cluster at {settings.ray_address} needs that cluster's token (Ray's token "
        f"authentication is on); none found at {looked}. Set ARIA_RAY_TOKEN_PATH to the file the "
        "cluster was started with (`ray get-auth-token` prints it on the head), or RAY_AUTH_TOKEN")


def _token_file(folder: Path, token: str) -> Path:
    """The RAY_AUTH_TOKEN value in a 0600 file of this home, so every process gets it by path.
    Replaced atomically and only when it changed: a process reading it never sees it empty."""
    path = folder / "cluster_token"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if not path.is_symlink() and path.read_text() == token:
            return path
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".cluster_token-")  # 0600, never a symlink
    try:
        with os.fdopen(fd, "w") as f:
            f.write(token)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def marked_pids(env_entry: str) -> list[int]:
    """Processes whose environment holds ``env_entry`` ("NAME=value") exactly."""
    needle = env_entry.encode()
    spared = _ancestors(os.getpid())  # never this process or what runs it (a shell, `timeout`...)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in spared:
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def process_tree(roots: list[int]) -> set[int]:
    """``roots`` and every process below them, by parent pid, as they are now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _parent(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    tree: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in tree:
            tree.add(pid)
            todo.extend(children.get(pid, ()))
    return tree


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _ancestors(pid: int) -> set[int]:
    chain = set()
    while pid > 1 and pid not in chain:
        chain.add(pid)
        parent = _parent(pid)
        if parent is None:
            break
        pid = parent
    return chain


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive (its parent, Ray's raylet say, has not reaped it yet)
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_busy(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class ServePrestart:
    """Serve's controller and HTTP proxy, started by ``aria up`` for the head it starts.

    ``ray.serve`` is imported (~1 CPU-s) while the head starts, when the CPUs are not yet busy,
    and the controller is created before the boot actor asks for any worker process. From the
    boot actor alone, it came after all fourteen services' processes, which put Serve's start at
    the end of the boot: 13.0-13.3 s -> 12.3-12.9 s on the 2-core machine (measured). The boot
    actor still ensures Serve itself (idempotent): a cluster that ``aria up`` did not start, or a
    failure here, which it then reports.
    """

    def __init__(self) -> None:
        self._import = threading.Thread(target=importlib.import_module, args=("ray.serve",),
                                        name="aria-serve-import", daemon=True)
        self._import.start()

    def wait_imported(self) -> None:
        self._import.join()

    def start(self, settings: AriaSettings) -> None:
        """Begin starting Serve on the connected cluster; returns at once."""
        self._import.join()
        threading.Thread(target=self._start, args=(settings,), name="aria-serve-start", daemon=True).start()

    @staticmethod
    def _start(settings: AriaSettings) -> None:
        # ray: runtime.shell imports Ray (and this runs in a thread of `aria up`)
        from aria_actors.runtime.shell import ensure_serve

        # Serve logs "Started Serve in namespace ..." at INFO to the CLI's terminal, in the middle
        # of the boot table; the table says when Serve-backed services are up.
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
        try:
            ensure_serve(settings)
        except Exception as exc:  # the boot actor's own ensure_serve reports it with the service
            log.debug("starting Serve from aria up failed: %s", exc)
