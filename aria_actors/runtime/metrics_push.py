"""Metrics pushed by every process on a timer, instead of read by aria_monitor on each collection.

    every process's shell, every [monitor] interval_s (first push after a random fraction of it):
        text = shell series + the service's own (those that need I/O at most every own_series_max_age_s)
        -> one put into Ray's GCS key-value store, key ``metrics/<service>/<pid>`` (overwritten),
           value = a header line (service, pid, sequence, render seconds, CPU of the last push) + text
    aria_monitor's collection: one read of every key (Deps.pushed_metrics) -> MetricsInbox.take
        -> each service's text when its sequence moved within ``stale_s``,
           else the service's ``exposition`` door read as before (just booted, or stopped pushing)

Why: a collection that reads fourteen doors is fourteen Ray calls at once; each costs its callee
more CPU in Ray's call handling than rendering the text does (an actor call, its reply included,
costs the caller about 0.5 ms of CPU here; a GCS put 0.2 ms), and the collection waits for the
slowest process on a busy node. Pushed, a collection reads texts already written, and each
process spends one render and one put per interval whatever the number of scrapes. The GCS store
is reachable from every node (no shared disk, unlike prometheus_client's multiprocess files).

Guarantees and caveats:
- The inbox keeps one text per service: the newest of its freshest process. A deployment with
  several replicas pushes from each; the inbox keeps the lowest pid's while it is fresh, so
  counters do not jump between replicas (the pull path read one replica too). Keys carry the
  node as well as the pid: pids repeat across nodes.
- Freshness is judged on aria_monitor's clock: a key whose sequence has not moved for
  ``stale_s`` is stale (no clocks compared across nodes). A killed process stops pushing, so its
  service is read through its door once stale, and that read fails: ``aria_scrape_up`` drops at
  most ``stale_s`` later than when pulled. Keys not moved for ``FORGET_AFTER`` staleness periods
  (a process gone for good) are deleted.
- Inside the cluster's trust boundary, like the doors: any process may write a key; a value must
  name a known service, match its key and stay under ``MAX_TEXT_BYTES``, or it is left out (a
  process whose text is larger does not put it: its service is read through its door). Only
  aria_monitor's shell hands its service the read (``Deps.pushed_metrics``).
- A put waits at most ``PUT_TIMEOUT_S`` in the process's event loop (synchronous: cheaper than
  the async call, measured 0.19 against 0.27 ms of CPU); a GCS that is down or failing over
  costs each process that once a push, then it backs off for ten intervals.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

PREFIX = b"metrics/"
MAX_TEXT_BYTES = 16 * 1024 * 1024  # one process's exposition; a label explosion beyond this is left out
FORGET_AFTER = 10  # staleness periods after which a key that stopped moving is deleted


def namespace(aria_namespace: str) -> bytes:
    """The GCS key-value namespace of one Aria deployment's pushes (no colon: the GCS store splits
    a namespaced key at the first one, and listing would answer keys with a piece of it)."""
    return f"aria-{aria_namespace.replace(':', '_')}".encode()


PUT_TIMEOUT_S = 0.5  # a push's put; a GCS that does not answer costs a process this, then the push is skipped
READ_TIMEOUT_S = 2.0


def instance(node_id: str | None, pid: int) -> str:
    """One process across the cluster: pids repeat across nodes (and containers)."""
    return f"{(node_id or 'local')[:16]}-{pid}"


def key(service: str, process: str) -> bytes:
    return PREFIX + f"{service}/{process}".encode()


def encode(service: str, process: str, seq: int, seconds: float, cpu_s: float, text: str) -> bytes:
    return f"{service} {process} {seq} {seconds:.6f} {cpu_s:.6f}\n".encode() + text.encode()


@dataclass(frozen=True, slots=True)
class Pushed:
    source: str
    process: str     # node and pid (instance())
    seq: int
    text: str
    at: float        # monotonic, in the reader's process: when its sequence last moved
    seconds: float   # what rendering took in the pushing process
    cpu_s: float     # the pushing process's CPU time over its previous push, render and put (0: first)


class MetricsInbox:
    """The pushed texts of every service, as last read (Ray-free; aria_monitor holds one)."""

    def __init__(self, sources: frozenset[str], stale_s: float) -> None:
        self.sources = sources
        self.stale_s = stale_s
        self._by_key: dict[bytes, Pushed] = {}
        self.refused: dict[bytes, str] = {}  # key -> why its last value was left out

    def take(self, values: dict[bytes, bytes], now: float) -> list[bytes]:
        """Read one snapshot of the store's pushes; returns the keys to delete (long stale)."""
        for k, value in values.items():
            try:
                got = self._decode(k, value, now)
            except ValueError as exc:
                self.refused[k] = str(exc)[:200]
                continue
            self.refused.pop(k, None)
            self._by_key[k] = got
        forget = [k for k, got in self._by_key.items() if now - got.at > FORGET_AFTER * self.stale_s]
        for k in forget:
            del self._by_key[k]
        for k in list(self._by_key):
            if k not in values:  # deleted from the store (by another reader, or a reset)
                del self._by_key[k]
        for k in [k for k in self.refused if k not in values]:
            del self.refused[k]
        return forget + [k for k in self.refused if k not in self._by_key and k in values]

    def _decode(self, k: bytes, value: bytes, now: float) -> Pushed:
        if len(value) > MAX_TEXT_BYTES:
            raise ValueError(f"over {MAX_TEXT_BYTES} bytes")
        head, _, body = value.partition(b"\n")
        parts = head.decode("ascii", errors="strict").split(" ")
        if len(parts) != 5:
            raise ValueError("no header line")
        source, process, seq, seconds, cpu_s = parts[0], parts[1], int(parts[2]), float(parts[3]), float(parts[4])
        if source not in self.sources or k != key(source, process):
            raise ValueError(f"{source!r} is not a service pushing here, or not under its key")
        old = self._by_key.get(k)
        if old is not None and old.seq == seq:
            return old  # not moved since: keeps its time
        return Pushed(source, process, seq, body.decode("utf-8", errors="strict"), now, max(0.0, seconds),
                      max(0.0, cpu_s))

    def fresh(self, source: str, now: float) -> Pushed | None:
        """``source``'s text if it moved within ``stale_s`` (of several processes, the same one while
        it stays fresh: the first by node and pid)."""
        live = [got for got in self._by_key.values() if got.source == source and now - got.at <= self.stale_s]
        return min(live, key=lambda got: got.process) if live else None


def first_delay(interval_s: float) -> float:
    """When a process pushes first: spread over one interval so fourteen processes booted together
    do not push (and render) in the same instant forever after."""
    return random.uniform(0.1, 1.0) * interval_s
