"""Every service process's recent log records, structured, in a bounded ring (Ray-free).

Lifecycle::

    install(service, node, capacity)  once per process, by its shell: a handler on the root logger
    (records) -> ring of at most ``capacity`` records, sequence numbers 1, 2, 3 ... in this process
    read(after, limit)                the ``logs`` door: records with seq > after, oldest first

A record is ``{seq, at, level, levelno, logger, message, service, pid, node, trace_id, span_id, exc_type}``:
``at`` epoch seconds, ``message`` the formatted message (at most :data:`MAX_MESSAGE` characters,
obvious secrets masked), ``trace_id``/``span_id`` the hex ids of OpenTelemetry's current span when
one is valid (else None), ``exc_type`` the exception's class name when the record carries one.

Guarantees and caveats:
- Bounded: the ring holds ``capacity`` records; when full the oldest go and are counted
  (``evicted``). A reader that comes back after ``after`` was evicted is told how many it missed
  (``dropped``): nothing is lost silently.
- ``start_id`` is new in every process: a reader seeing another one knows the process restarted
  (sequence numbers began again at 1) and reads from 0.
- What a record carries is the process's own text: secrets are masked on a best-effort basis
  (passwords in URLs as in runtime/config_view.py, ``Bearer`` tokens, ``password=``-like pairs).
- No feedback loop: records emitted inside :func:`quiet` (aria_debugger storing collected
  records, and its pool's own logging) are not kept, so storing logs never makes more logs to store.
- Cheap on the logging path: a dict, a deque append under the handler's lock; no I/O.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import logging
import os
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.settings import mask_text

try:  # tracing is optional: without OpenTelemetry a record carries no span ids
    from opentelemetry import trace as _otel
except ImportError:  # pragma: no cover - installed with Aria
    _otel = None  # type: ignore[assignment]

MAX_MESSAGE = 2000      # characters of a message kept
MAX_LOGGER = 200        # characters of a logger name kept
MAX_READ = 50_000       # most records one read returns
DEFAULT_CAPACITY = 10_000
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
# key=value, key: value, "key": "value", 'key': 'value', access_token=..., client_secret=...
_PAIR = re.compile(r"""(?i)(?<![A-Za-z0-9])((?:passw\w*|\w*secret|\w*token|api[_-]?key)["']?\s*[=:]\s*["']?)"""
                   r"""(?!\*\*\*)[^\s,;&"'}]+""")

_quiet: contextvars.ContextVar[bool] = contextvars.ContextVar("aria_logring_quiet", default=False)
_install_lock = threading.Lock()
_ring: LogRing | None = None


def clean(text: str) -> str:
    """``text`` as PostgreSQL text takes it: no NUL, no lone surrogate (either fails a whole batch)."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def mask(text: str) -> str:
    """``text`` with obvious secrets masked: URL passwords, bearer tokens, ``password=...`` pairs."""
    text = mask_text(text)
    text = _BEARER.sub(r"\1***", text)
    return _PAIR.sub(r"\1***", text)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Records emitted in this block (this task or thread's context) are not kept in the ring."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def _span_ids() -> tuple[str | None, str | None]:
    if _otel is None:
        return None, None
    ctx = _otel.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


class LogRing(logging.Handler):
    """A logging handler keeping structured records in a bounded ring with increasing seq."""

    def __init__(self, service: str, node: str | None = None, capacity: int = DEFAULT_CAPACITY) -> None:
        super().__init__(logging.NOTSET)
        self.service = service
        self.node = node
        self.pid = os.getpid()
        self.start_id = uuid.uuid4().hex
        self.records: collections.deque[dict[str, Any]] = collections.deque(maxlen=max(1, capacity))
        self.seq = 0            # the last record's sequence number
        self.evicted = 0        # records pushed out of the full ring since the process started

    def emit(self, record: logging.LogRecord) -> None:
        if _quiet.get():
            return
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        trace_id, span_id = _span_ids()
        exc = record.exc_info[0] if record.exc_info else None
        entry = {"at": record.created, "level": record.levelname, "levelno": record.levelno,
                 "logger": clean(record.name[:MAX_LOGGER]),
                 # masked before the cut (a URL cut before its "@" would show its password), from a
                 # bounded prefix (masking megabytes would stall the logging thread)
                 "message": clean(mask(message[:4 * MAX_MESSAGE])[:MAX_MESSAGE]),
                 "service": self.service, "pid": self.pid,
                 "node": self.node, "trace_id": trace_id, "span_id": span_id,
                 "exc_type": clean(exc.__name__) if exc is not None else None}
        # emit() runs under self.lock (Handler.handle): seq and the ring change together
        self.seq += 1
        entry["seq"] = self.seq
        if len(self.records) == self.records.maxlen:
            self.evicted += 1
        self.records.append(entry)

    def read(self, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        """Records with ``seq > after`` (oldest first, at most ``limit``), and how many of those
        the ring no longer holds (``dropped``)."""
        after, limit = check_after(after), check_limit(limit)
        with self.lock:
            last = self.seq
            oldest = self.records[0]["seq"] if self.records else last + 1
            dropped = max(0, min(oldest, last + 1) - after - 1) if after < last else 0
            skip = max(0, after - oldest + 1)
            picked = [self.records[i] for i in range(skip, min(len(self.records), skip + limit))] \
                if skip < len(self.records) else []
        return {"service": self.service, "pid": self.pid, "node": self.node, "start_id": self.start_id,
                "last_seq": last, "dropped": dropped, "evicted": self.evicted, "records": picked}


def check_after(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest("after must be an integer >= 0", field="after")
    return value


def check_limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_READ:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_READ}", field="limit")
    return value


def install(service: str, node: str | None = None, capacity: int = DEFAULT_CAPACITY) -> LogRing:
    """This process's ring on the root logger (the first call makes it; later ones return it)."""
    global _ring
    with _install_lock:
        if _ring is None:
            _ring = LogRing(service, node, capacity)
            logging.getLogger().addHandler(_ring)
        return _ring


def current() -> LogRing | None:
    return _ring


def read(after: int = 0, limit: int = 1000) -> dict[str, Any]:
    """The ``logs`` door of this process: records after ``after`` (an empty answer without a ring)."""
    if _ring is None:
        after, limit = check_after(after), check_limit(limit)
        return {"service": None, "pid": os.getpid(), "node": None, "start_id": None, "last_seq": 0,
                "dropped": 0, "evicted": 0, "records": []}
    return _ring.read(after, limit)
