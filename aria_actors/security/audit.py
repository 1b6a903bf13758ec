"""Aria's own audit trail of security operations, and lockout of principals that keep failing.

Each record is one JSON line in ``<home>/security/audit.log``::

    {"ts": 1764063600.12, "actor": "aria_storage", "op": "kv_get",
     "target": "services/aria_storage/db", "outcome": "ok"}

``actor`` is always the verified caller (never a name taken from a request body); an operation
about another principal (``authorize``: would *they* be allowed?) names it in ``subject``.

Guarantees and caveats
----------------------
- Records name who, what, which path or key, when and the outcome (``ok``, ``denied``,
  ``not_found``, ``error:<type>``); never a secret value, plaintext, ciphertext or token. The
  record's fields are fixed here, so a caller cannot slip a value in.
- Lines are appended and flushed per record (not fsynced): a crash may lose the last records, as
  OpenBao's own file audit device (HMAC'd, written before OpenBao answers) still has them.
- :class:`Lockout` counts denials per principal in a sliding window; past the threshold the
  principal is locked out for a while and a metric counts the alert. It is in memory: a restart
  of aria_security forgets lockouts.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aria_actors.runtime.errors import BadRequest
from aria_actors.security.errors import SecretAccessDenied, SecretNotFound

_OUTCOME_TARGET_MAX = 300


class AuditLog:
    """Append-only JSON lines file (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self._lock = threading.Lock()
        self.records = 0

    def record(self, actor: str, op: str, target: str, outcome: str, *, subject: str | None = None) -> None:
        entry = {"ts": round(time.time(), 6), "actor": str(actor)[:120], "op": op,
                 "target": str(target)[:_OUTCOME_TARGET_MAX], "outcome": outcome}
        if subject is not None:  # the principal the operation is about, when it is not the actor
            entry["subject"] = str(subject)[:120]
        line = json.dumps(entry)
        with self._lock:
            if self._file.closed:
                return
            self._file.write(line + "\n")
            self._file.flush()
            self.records += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def tail(self, limit: int = 100, **match: str | None) -> list[dict[str, Any]]:
        """The newest records first, at most ``limit``, keeping those whose fields equal every
        given ``match`` (``op="lockout"``, ``actor=...``, ``outcome=...``); reads the file from its
        end, block by block, so a long trail costs what the answer needs."""
        wanted = {k: v for k, v in match.items() if v is not None}
        out: list[dict[str, Any]] = []
        for line in _lines_backwards(self.path):
            try:
                entry = json.loads(line)
            except ValueError:  # a line cut by a crash mid-write
                continue
            if isinstance(entry, dict) and all(entry.get(k) == v for k, v in wanted.items()):
                out.append(entry)
                if len(out) >= limit:
                    break
        return out


def _lines_backwards(path: Path, block: int = 64 * 1024) -> Iterator[bytes]:
    """The file's non-empty lines, last first."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        pos, rest = f.tell(), b""
        while pos > 0:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            chunk = f.read(step) + rest
            lines = chunk.split(b"\n")
            rest = lines.pop(0)  # may continue in the block before
            for line in reversed(lines):
                if line.strip():
                    yield line
        if rest.strip():
            yield rest


@dataclass
class Lockout:
    """Temporary lockout of a principal after ``threshold`` denials within ``window_s``."""

    threshold: int = 10
    window_s: float = 60.0
    lockout_s: float = 300.0
    _denials: dict[str, deque[float]] = field(default_factory=dict, init=False)
    _locked_until: dict[str, float] = field(default_factory=dict, init=False)
    alerts: int = field(default=0, init=False)

    def locked(self, principal: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        until = self._locked_until.get(principal)
        if until is None:
            return False
        if now >= until:
            del self._locked_until[principal]
            return False
        return True

    def denied(self, principal: str, now: float | None = None) -> bool:
        """Count a denial; True when it (newly) locks the principal out."""
        now = time.monotonic() if now is None else now
        q = self._denials.setdefault(principal, deque())
        q.append(now)
        while q and q[0] < now - self.window_s:
            q.popleft()
        if len(q) >= self.threshold and not self.locked(principal, now):
            self._locked_until[principal] = now + self.lockout_s
            q.clear()
            self.alerts += 1
            return True
        return False

    @property
    def locked_count(self) -> int:
        now = time.monotonic()
        return sum(1 for until in self._locked_until.values() if until > now)


def outcome_of(exc: BaseException) -> str:
    """The audit outcome for a failed operation: ``not_found``, ``denied`` or ``error:<type>``."""
    if isinstance(exc, SecretNotFound):
        return "not_found"
    if isinstance(exc, SecretAccessDenied) or getattr(exc, "status", None) == 403:
        return "denied"
    return f"error:{getattr(exc, 'type', type(exc).__name__)}"


# What another service may write into the audit log (its own refusals: a denied login, a replayed
# code, a revoked session at the gateway). The actor is always the writing caller, never given.
EVENT_OP = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
EVENT_OUTCOMES = frozenset({"denied", "refused", "alert", "error", "ok"})
MAX_EVENTS = 500  # events in one write: a batch from the gateway's denial recorder
# The ops aria_security records itself: a written event may not pass for one of them (a fake
# ``lockout`` alert, a ``kv_get`` that never happened, an ``authorize`` denial to hide among).
RESERVED_OPS = frozenset({
    "start", "stop", "repair", "seal", "unseal", "audit_read",
    "issue_token", "verify_token", "authorize", "lockout", "service_token", "rotate_jwt_key", "rotate_key",
    "kv_get", "kv_put", "kv_list", "kv_delete", "kv_undelete", "kv_destroy", "kv_versions",
    "encrypt", "decrypt", "rewrap", "datakey",
    "db_configure", "db_static_role", "db_dynamic_role", "db_static_creds", "db_creds", "db_rotate", "revoke_lease",
    "scheduled_rotation", "issue_certificate", "revoke_certificate", "ca_certificate", "crl",
})


def check_events(events: Any) -> list[tuple[str, str, str, str | None]]:
    """``(op, target, outcome, subject)`` of each event once every one is well formed and none
    names an op of :data:`RESERVED_OPS`; BadRequest naming the first bad one otherwise (nothing is
    written then)."""
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
        raise BadRequest(f"events must be a list of 1 to {MAX_EVENTS} events", field="events")
    out = []
    for i, event in enumerate(events):
        if not isinstance(event, dict) or not set(event) <= {"op", "target", "outcome", "subject"}:
            raise BadRequest("each event is an object of op, target, outcome and subject", field=f"events[{i}]")
        op, outcome = event.get("op"), event.get("outcome", "denied")
        target, subject = event.get("target", ""), event.get("subject")
        if not isinstance(op, str) or not EVENT_OP.match(op):
            raise BadRequest("op must be 1-64 of a-z, 0-9, _ . : -", field=f"events[{i}].op")
        if op in RESERVED_OPS:
            raise BadRequest(f"op {op!r} is one aria_security records itself; name your event otherwise",
                             field=f"events[{i}].op")
        if outcome not in EVENT_OUTCOMES:
            raise BadRequest(f"outcome must be one of {sorted(EVENT_OUTCOMES)}", field=f"events[{i}].outcome")
        for name, value, size in (("target", target, _OUTCOME_TARGET_MAX), ("subject", subject, 120)):
            if value is not None and (not isinstance(value, str) or len(value) > size or not value.isprintable()):
                raise BadRequest(f"{name} must be at most {size} printable characters", field=f"events[{i}].{name}")
        out.append((op, target, outcome, subject))
    return out
