"""The embedded PostgreSQL that ``aria up`` starts when ``ARIA_DATABASE_URL`` is empty.

Binaries come from the ``pgserver`` wheel (``pgserver/pginstall/bin``), or the system's
``/usr/lib/postgresql/<v>/bin`` when the wheel is absent. Data lives in
``$ARIA_HOME/postgres/data``, the server log in ``$ARIA_HOME/postgres/postgres.log``.

Lifecycle::

    absent --initdb--> stopped --start()--> running --stop()--> stopped
                          ^                    |
                          |    kill -9 / crash  v
                          +---- stale pid ---- dead --start()--> (WAL recovery) --> running

Guarantees and caveats:
- ``start()`` returns once the server accepts connections (``pg_ctl -w``) or raises
  :class:`EmbeddedServerError` quoting the server log. A server already running on the same data
  directory (an Aria that crashed left it behind) is adopted, not started twice.
- After a crash (``kill -9`` of the postmaster, power loss) ``start()`` runs PostgreSQL's own WAL
  recovery: every committed transaction is there (``fsync`` stays on). It retries while orphaned
  backends of the dead server still hold its shared memory, up to the start timeout.
- Listens on a Unix socket only (trust authentication, protected by the data directory's 0700
  mode), unless ``port`` is given: TCP on 127.0.0.1 then requires a password (scram-sha-256).
- PostgreSQL refuses to run as root. As root the server runs as the system user ``pgserver``
  (created with ``useradd`` if missing, the same user the pgserver wheel uses); the data folder is
  chowned to it and every parent directory gets ``o+x`` (traverse only, no listing). The
  binaries' folder is made world-readable.
- Unix socket paths are limited to ~107 bytes: with a long ``ARIA_HOME`` the socket moves to
  ``/tmp/aria-pg-<hash>`` (0700, owned by the server's user).
- ``pg_stat_statements`` (per-statement counts and times, read by query optimisation) is loaded
  (``shared_preload_libraries``) only when its library sits beside the binaries' own: the
  pgserver wheel ships without it, Debian's postgresql package has it. ``bin_dir`` (the
  ``ARIA_DATA_PG_BIN_DIR`` setting) picks the binaries; a server adopted while running keeps the
  libraries it was started with.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aria_actors.data.errors import EmbeddedServerError

log = logging.getLogger("aria.data.embedded")

RUN_USER_AS_ROOT = "pgserver"
SUPERUSER = "postgres"
_SOCKET_MAX = 100  # sun_path is 108 bytes with the terminating NUL; keep a margin


def find_bin_dir() -> Path:
    """Folder of initdb/pg_ctl/pg_dump: the pgserver wheel's, else the newest system install."""
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin:
        wheel = Path(spec.origin).parent / "pginstall" / "bin"
        if (wheel / "pg_ctl").exists():
            return wheel
    system = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                    key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if system:
        return system[-1].parent
    raise EmbeddedServerError(
        "no PostgreSQL binaries found: install the pgserver wheel (pip install pgserver) or the "
        "postgresql package, or set ARIA_DATABASE_URL to an existing server",
    )


@dataclass
class EmbeddedPostgres:
    """One local PostgreSQL on a data directory. Blocking methods: call them in a thread from
    async code (``asyncio.to_thread``)."""

    base: Path
    port: int | None = None
    start_timeout_s: float = 60.0
    # initdb --no-sync: much faster on slow disks, but a crash right after initdb may corrupt
    # the new cluster. For tests and throw-away servers only.
    fast_init: bool = False
    # initdb/pg_ctl/postgres from here instead of find_bin_dir()'s choice
    bin_dir: Path | None = None
    # The server's connection limit (0: initdb's choice, usually 100): every service's pool, each
    # queue worker's and the CLI's share it.
    max_connections: int = 0

    def __post_init__(self) -> None:
        self.base = Path(self.base).expanduser().resolve()
        self.bin_dir = Path(self.bin_dir) if self.bin_dir is not None else find_bin_dir()
        self.user = RUN_USER_AS_ROOT if os.geteuid() == 0 else None

    @property
    def pgdata(self) -> Path:
        return self.base / "data"

    @property
    def logfile(self) -> Path:
        return self.base / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        port = self.port or 5432
        if len(str(self.pgdata / f".s.PGSQL.{port}")) <= _SOCKET_MAX:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        return Path("/tmp") / f"aria-pg-{digest}"

    def dsn(self, database: str = "postgres") -> str:
        """Superuser DSN over the Unix socket (trust authentication)."""
        return (f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}"
                f"&port={self.port or 5432}")

    @property
    def preload(self) -> tuple[str, ...]:
        """Libraries the server is started with: ``pg_stat_statements`` when installed with it."""
        assert self.bin_dir is not None
        # pkglibdir: <prefix>/lib/postgresql for the wheel (and source builds), <prefix>/lib on Debian
        libdirs = (self.bin_dir.parent / "lib" / "postgresql", self.bin_dir.parent / "lib")
        return ("pg_stat_statements",) if any((d / "pg_stat_statements.so").exists() for d in libdirs) else ()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        """Initialise the data directory if needed, start (or adopt) the server; return its DSN."""
        self._prepare()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        deadline = time.monotonic() + self.start_timeout_s
        delay = 0.01
        while self.is_running():
            # Up and answering: adopt it. Otherwise it is starting up or dying; look again.
            if self.accepts_connections():
                log.info("embedded PostgreSQL already running on %s: adopting it", self.pgdata)
                return self.dsn()
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"a PostgreSQL (pid {self.pid()}) holds {self.pgdata} but does not accept "
                    f"connections\n{self.log_tail()}", pgdata=str(self.pgdata),
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        self._start_with_retry()
        return self.dsn()

    def accepts_connections(self) -> bool:
        """``pg_isready`` on the server's socket."""
        proc = self._run("pg_isready", "-q", "-h", str(self.socket_dir), "-p", str(self.port or 5432),
                         "-t", "2", check=False)
        return proc.returncode == 0

    def stop(self, mode: str = "fast") -> None:
        """Stop the server cleanly (checkpoint, then exit); a no-op when it is not running."""
        if not (self.pgdata / "PG_VERSION").exists() or not self.is_running():
            return
        proc = self._run("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w",
                         "-t", str(int(self.start_timeout_s)), "stop", check=False)
        if proc.returncode != 0 and self.is_running():
            raise EmbeddedServerError(
                f"pg_ctl stop failed: {proc.stderr.strip()}\n{self.log_tail()}", pgdata=str(self.pgdata)
            )

    def is_running(self) -> bool:
        """True when a live postmaster owns the data directory.

        Not ``pg_ctl status``: it counts a zombie postmaster (killed, not yet reaped, as under an
        init that never reaps) as running.
        """
        pid = self._pidfile_pid()
        return pid is not None and _alive(pid)

    def pid(self) -> int | None:
        """The postmaster's pid when it is running."""
        pid = self._pidfile_pid()
        return pid if pid is not None and _alive(pid) else None

    def _pidfile_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, IndexError, ValueError):
            return None

    def _orphans(self) -> list[int]:
        """Live processes of a dead server: backends run with the data directory as cwd."""
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(entry / "cwd") == str(self.pgdata) and _alive(int(entry.name)):
                    out.append(int(entry.name))
            except OSError:
                continue
        return out

    def _clear_stale_pidfile(self, deadline: float) -> None:
        """After a crash: wait for orphaned backends to exit, then drop the stale pid file.

        PostgreSQL would remove it itself, except when the dead postmaster's pid is a zombie
        (kill(pid, 0) succeeds), and it must not while orphans still hold shared memory.
        """
        if self._pidfile_pid() is None:
            return
        delay = 0.01
        while self._orphans():
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"processes of a dead PostgreSQL still use {self.pgdata}: {self._orphans()}",
                    pgdata=str(self.pgdata),
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        if not self.is_running():
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no server log)"

    # -- internals ---------------------------------------------------------------------------

    def _prepare(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o700)
        if self.user is None:
            return

        _ensure_user(self.user)
        entry = pwd.getpwnam(self.user)
        os.chown(self.base, entry.pw_uid, entry.pw_gid)
        _grant_traverse(self.base)
        _grant_read_tree(self.bin_dir.parent)
        _grant_traverse(self.bin_dir.parent)
        if self.socket_dir != self.pgdata:
            self.socket_dir.mkdir(mode=0o700, exist_ok=True)
            os.chown(self.socket_dir, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        if self.pgdata.exists():  # a half-made directory from an interrupted initdb
            shutil.rmtree(self.pgdata)
        proc = self._run(
            "initdb", "-D", str(self.pgdata), "-U", SUPERUSER, "--encoding=UTF8",
            "--auth-local=trust", "--auth-host=scram-sha-256", "--data-checksums",
            *(["--no-sync"] if self.fast_init else []), check=False,
        )
        if proc.returncode != 0:
            raise EmbeddedServerError(f"initdb failed: {proc.stderr.strip()[-2000:]}",
                                      pgdata=str(self.pgdata))

    def _start_with_retry(self) -> None:
        if self.socket_dir != self.pgdata:
            self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        listen = f"-h 127.0.0.1 -p {self.port}" if self.port else "-h ''"
        opts = f"{listen} -k {shlex.quote(str(self.socket_dir))}"
        if self.preload:
            opts += f" -c shared_preload_libraries={','.join(self.preload)}"
        if self.max_connections:
            opts += f" -c max_connections={int(self.max_connections)}"
        deadline = time.monotonic() + self.start_timeout_s
        self._clear_stale_pidfile(deadline)
        delay = 0.05
        while True:
            left = max(1, int(deadline - time.monotonic()))
            proc = self._run("pg_ctl", "-D", str(self.pgdata), "-l", str(self.logfile), "-o", opts,
                             "-w", "-t", str(left), "start", check=False)
            if proc.returncode == 0:
                return
            # Orphaned backends of a killed server hold its shared memory for a moment.
            if time.monotonic() + delay < deadline and not self.is_running():
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            raise EmbeddedServerError(
                f"embedded PostgreSQL did not start within {self.start_timeout_s:.0f}s: "
                f"{proc.stderr.strip()}\n--- {self.logfile} ---\n{self.log_tail()}",
                pgdata=str(self.pgdata),
            )

    def _run(self, exe: str, *args: str, check: bool) -> subprocess.CompletedProcess[str]:
        # pg_ctl forks the postmaster; files (not pipes) keep it from holding our pipes open.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            # The server's own group and no supplementary ones: keeping root's gid would make a
            # parent like /root (group root, no group bits) refuse it despite its o+x.
            as_user = {}
            if self.user:
                as_user = {"user": self.user, "group": pwd.getpwnam(self.user).pw_gid, "extra_groups": []}
            proc = subprocess.run(
                [str(self.bin_dir / exe), *args], stdout=out, stderr=err, text=True,
                cwd=self.base, check=False, stdin=subprocess.DEVNULL, **as_user,
            )
            out.seek(0)
            err.seek(0)
            done = subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())
        if check and done.returncode != 0:
            raise EmbeddedServerError(f"{exe} failed: {done.stderr.strip()}", pgdata=str(self.pgdata))
        return done


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line.rpartition(")")[2].split()[0] not in ("Z", "X")


def _ensure_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "-M", "-s", "/usr/sbin/nologin", name],
                       check=False, capture_output=True)
        pwd.getpwnam(name)  # raises KeyError if useradd failed (and no one else created it)


def _grant_traverse(path: Path) -> None:
    """o+x on every parent: the server's user may pass through, not list."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _grant_read_tree(root: Path) -> None:
    mode = root.stat().st_mode
    if mode & stat.S_IROTH and mode & stat.S_IXOTH and (root / "lib").exists() and \
            (root / "lib").stat().st_mode & stat.S_IROTH:
        return
    for dirpath, _dirs, files in os.walk(root):
        d = Path(dirpath)
        d.chmod(d.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
        for f in files:
            p = d / f
            if p.is_symlink():
                continue
            m = p.stat().st_mode
            p.chmod(m | stat.S_IROTH | (stat.S_IXOTH if m & stat.S_IXUSR else 0))
