"""Steady load through the gateway, and the ledger of what the system acknowledged.

One background thread cycles through the work a user gives Aria: a job enqueued (a cross-service
job: a queue worker actor runs aria_engine.plan), an asset version stored, a secret version
written and an earlier one read back, a plan requested, a model version registered, a login.
Every write answered 2xx goes into the ledger with what was sent; :meth:`Load.verify` reads each
back at the end. A request that fails or times out is not acknowledged, so it is only counted (it
may or may not have happened; nothing is promised about it).
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

PLAN = {"domain": "gtpyhop-blocksworld-gtohp", "problem": "BW_rand_11"}
JOB_WORKER = "service:aria_engine.plan"
TERMINAL_BAD = ("discarded", "cancelled")


@dataclass
class Ledger:
    """What the system acknowledged with a 2xx, as sent."""

    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> {"args", "meta"}
    assets: list[tuple[str, int, str, int]] = field(default_factory=list)  # name, version, sha256, size
    secrets: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)  # path, version, data
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {"path", "metrics"}


class Load:
    def __init__(self, url: str, token: str, login: tuple[str, str], run: str, home: str) -> None:
        self.url = url
        self.token = token
        self.login = login
        self.run = run  # unique per run: model ids and names never collide with an earlier run
        self.home = home
        self.ledger = Ledger()
        self.ok: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()  # "kind: status or exception" -> n
        self.mismatched_reads: list[str] = []  # a secret read back during the load that differs
        self.internal: dict[str, str] = {}  # "kind: 5xx" -> the first such answer (503 aside: honest)
        self.phase = "before any fault"  # the fault under way, set by the test
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = random.Random(18)
        self._i = 0

    # -- running ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="chaos-load", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        cycle = [self._job, self._asset, self._secret_write, self._secret_read, self._plan,
                 self._model, self._job, self._secret_read]
        with httpx.Client(base_url=self.url, timeout=10.0,
                          headers={"authorization": f"Bearer {self.token}"}) as client:
            while not self._stop.is_set():
                self._i += 1
                ops = [*cycle, self._login] if self._i % 4 == 0 else cycle  # argon2: logins are dear
                for op in ops:
                    if self._stop.is_set():
                        return
                    kind = op.__name__.strip("_")
                    try:
                        done = op(client)
                    except httpx.HTTPError as exc:
                        done = type(exc).__name__
                    if done is True:
                        self.ok[kind] += 1
                    else:
                        self.failed[kind] += 1
                        self.errors[f"{kind}: {done}"] += 1
                    # The machine has two cores: leave Aria most of them for recovering.
                    time.sleep(0.03)

    # -- operations: True when acknowledged, else what went wrong --------------------------------
    def _failed(self, kind: str, r: httpx.Response) -> str:
        if r.status_code >= 500 and r.status_code != 503:
            self.internal.setdefault(f"{kind}: {r.status_code} ({self.phase})", r.text[:400])
        return str(r.status_code)

    def _job(self, client: httpx.Client) -> bool | str:
        meta = {"chaos": self.run, "n": self._i, "nonce": os.urandom(4).hex()}
        r = client.post("/v1/queue/jobs", json={"worker": JOB_WORKER, "args": {"body": PLAN}, "meta": meta})
        if r.status_code not in (200, 201, 202):
            return self._failed("job", r)
        self.ledger.jobs[r.json()["id"]] = {"args": {"body": PLAN}, "meta": meta}
        return True

    def _asset(self, client: httpx.Client) -> bool | str:
        name = f"chaos/{self.run}/a{self._i % 6}"
        data = os.urandom(self._rng.randint(2_000, 40_000))
        r = client.put(f"/v1/storage/assets/{name}", content=data)
        if r.status_code not in (200, 201):
            return self._failed("asset", r)
        self.ledger.assets.append((name, r.json()["version"], hashlib.sha256(data).hexdigest(), len(data)))
        return True

    def _secret_write(self, client: httpx.Client) -> bool | str:
        # Two versions per path (a new one, then a second write over it), well under OpenBao's
        # kv-v2 max_versions, so every acknowledged version must stay readable.
        path = f"chaos/{self.run}/s{self._i // 2}"
        data = {"n": self._i, "value": os.urandom(8).hex()}
        r = client.put(f"/v1/security/secrets/{path}", json={"data": data})
        if r.status_code != 200:
            return self._failed("secret_write", r)
        self.ledger.secrets.append((path, r.json()["version"], data))
        return True

    def _secret_read(self, client: httpx.Client) -> bool | str:
        if not self.ledger.secrets:
            return True
        path, version, data = self._rng.choice(self.ledger.secrets)
        r = client.get(f"/v1/security/secrets/{path}", params={"version": version})
        if r.status_code != 200:
            return self._failed("secret_read", r)
        if r.json().get("data") != data:
            self.mismatched_reads.append(f"{path} v{version}: {r.json().get('data')!r} != {data!r}")
            return "mismatch"
        return True

    def _plan(self, client: httpx.Client) -> bool | str:
        r = client.post("/v1/engine/plan", json=PLAN)
        if r.status_code != 200:
            return self._failed("plan", r)
        return True if r.json().get("status") == "found" else f"plan {r.json().get('status')}"

    def _model(self, client: httpx.Client) -> bool | str:
        model_id = f"chaos-{self.run}-{self._i}"
        body = {"path": f"{self.home}/shape/checkpoints/{model_id}", "metrics": {"n": self._i}}
        r = client.put(f"/v1/shape/models/{model_id}", json=body)
        if r.status_code not in (200, 201):
            return self._failed("model", r)
        self.ledger.models[model_id] = body
        return True

    def _login(self, _: httpx.Client) -> bool | str:
        user, password = self.login
        # Without the operator's token: a login is a stranger's first request.
        r = httpx.post(f"{self.url}/v1/auth/login", json={"username": user, "password": password}, timeout=10.0)
        if r.status_code != 200:
            return self._failed("login", r)
        return True if r.json().get("access_token") else "no token"

    # -- reading everything back ----------------------------------------------------------------
    def jobs_now(self, client: httpx.Client) -> dict[int, dict[str, Any]]:
        """Every job of the load's worker, by id (paged)."""
        out: dict[int, dict[str, Any]] = {}
        after = 0
        while True:
            r = client.get("/v1/queue/jobs", params={"worker": JOB_WORKER, "after_id": after, "limit": 1000})
            r.raise_for_status()
            page = r.json()
            out.update((j["id"], j) for j in page)
            if len(page) < 1000:
                return out
            after = page[-1]["id"]

    def verify(self, client: httpx.Client) -> dict[str, dict[str, list[str] | int]]:
        """Per kind: how many were acknowledged, and which are lost or differ from what was sent."""
        report: dict[str, dict[str, Any]] = {}
        jobs = self.jobs_now(client)
        lost, bad = [], []
        for jid, sent in self.ledger.jobs.items():
            got = jobs.get(jid)
            if got is None:
                lost.append(str(jid))
            elif got["args"] != sent["args"] or got["meta"] != sent["meta"] or got["state"] in TERMINAL_BAD:
                bad.append(f"{jid}: {got['state']} {got['args']} {got['meta']}")
        report["jobs"] = {"acknowledged": len(self.ledger.jobs), "lost": lost, "corrupted": bad}
        lost, bad = [], []
        for name, version, sha, size in self.ledger.assets:
            r = client.get(f"/v1/storage/assets/{name}/content", params={"version": version})
            if r.status_code == 404:
                lost.append(f"{name} v{version}")
            elif r.status_code != 200 or hashlib.sha256(r.content).hexdigest() != sha:
                bad.append(f"{name} v{version}: {r.status_code}, {len(r.content)} of {size} bytes")
        report["assets"] = {"acknowledged": len(self.ledger.assets), "lost": lost, "corrupted": bad}
        lost, bad = [], []
        for path, version, data in self.ledger.secrets:
            r = client.get(f"/v1/security/secrets/{path}", params={"version": version})
            if r.status_code == 404:
                lost.append(f"{path} v{version}")
            elif r.status_code != 200 or r.json().get("data") != data:
                bad.append(f"{path} v{version}: {r.status_code} {r.text[:200]}")
        report["secrets"] = {"acknowledged": len(self.ledger.secrets), "lost": lost,
                             "corrupted": bad + self.mismatched_reads}
        lost, bad = [], []
        for model_id, sent in self.ledger.models.items():
            r = client.get(f"/v1/shape/models/{model_id}")
            if r.status_code == 404:
                lost.append(model_id)
            elif r.status_code != 200 or {k: r.json().get(k) for k in sent} != sent:
                bad.append(f"{model_id}: {r.status_code} {r.text[:200]}")
        report["versions"] = {"acknowledged": len(self.ledger.models), "lost": lost, "corrupted": bad}
        return report
