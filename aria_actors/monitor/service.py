"""aria_monitor: every service's metrics in one scrape, their history, and alerts on them.

Lifecycle::

    (registered) --start--> collecting every ``interval_s``: read all fourteen metrics doors
                            (collector.py), keep the history (series.py), evaluate the rule groups
                            whose interval has passed (rules.py), notify on changes (notify.py)
    --stop--> the loop ends, the webhook client closes; the history is in memory only (for now)

What it serves (each an RPC, a route under ``/v1/monitor`` and ``aria monitor …``):
- ``scrape``: the merged exposition of every service (``service="…"`` on each series,
  ``aria_scrape_up{service}``, the cardinality cap's drop counters); what a Prometheus server
  scrapes (``prometheus_config`` writes its config).
- ``query`` / ``query_range``: PromQL (the subset ``promql.py`` evaluates) over the history.
- ``targets``: each service's last read: up, seconds, error.
- ``health_history`` / ``dependencies``: each service's status over a window, and the live
  dependency graph with each down service's blast radius (health.py).
- ``alerts`` / ``rules``: the rule groups' alerts (pending, firing, resolved for 15 min) and each
  rule's last evaluation and error.
- ``performance`` / ``bottlenecks``: per route and RPC method rate, errors and quantiles, and
  where the time and CPU go (performance.py).

Guarantees and caveats:
- Every read is ``@any`` (metrics span tenants): operators, administrators and services; a
  viewer's tenant-scoped ``read`` is not enough.
- The collection is the service's one background task; a round that fails is logged and the next
  runs on schedule. A ``scrape`` asked for less than ``interval_s`` after the last collection gets
  that collection, so a flood of scrapes costs the services nothing more.
- The raw history is in memory: a restart of aria_monitor loses it. The dashboards' panels are
  kept downsampled in PostgreSQL, and usage per tenant and day too (dashboards.py, usage.py,
  history.py); without aria_data they run from memory and ``health()`` says so.
- Cost insights and capacity planning are capacity.py's (``costs``, ``capacity``); dashboards,
  business metrics and usage analytics are dashboards.py's and usage.py's. All eleven features
  are built, so ``health()`` reports ``ready``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path
from typing import Any

import yaml

from aria_actors.monitor import promql
from aria_actors.monitor.capacity import Capacity
from aria_actors.monitor.collector import Collected, Collector
from aria_actors.monitor.dashboards import Dashboards
from aria_actors.monitor.errors import InvalidQuery
from aria_actors.monitor.health import ServiceHealth
from aria_actors.monitor.history import HistoryParts
from aria_actors.monitor.notify import Notifier
from aria_actors.monitor.performance import Performance
from aria_actors.monitor.rules import Alert, GroupEvaluator, RuleGroup, load_rule_file
from aria_actors.monitor.series import SeriesStore
from aria_actors.monitor.spec import SPEC
from aria_actors.monitor.usage import UsageAnalytics
from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.metrics_push import MetricsInbox
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, Status

log = logging.getLogger("aria.monitor")
BUILTIN_RULES = Path(__file__).parent / "rulefiles" / "aria.yaml"
MAX_QUERY_CHARS = 4096
# Samples one query (all its steps) may read: ~1 s of this evaluator's work on a small machine.
QUERY_SAMPLES = 1_000_000
HEAVY_QUERIES = 2  # queries evaluated at once; the rest wait their turn
MAX_RANGE_POINTS = 4000  # evaluated on the monitor's loop: bounded so one query cannot stall collection


def _vector_json(result: Any, t: float) -> dict[str, Any]:
    if isinstance(result, float):
        return {"resultType": "scalar", "result": [t, promql_value(result)]}
    if isinstance(result, str):
        return {"resultType": "string", "result": [t, result]}
    return {"resultType": "vector",
            "result": [{"metric": dict(labels), "value": [t, promql_value(v)]} for labels, v in result]}


def promql_value(v: float) -> str:
    """A sample value as Prometheus's HTTP API writes it (a string; NaN and ±Inf spelled out)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if not float(v).is_integer() else str(int(v)) if abs(v) < 1e15 else repr(float(v))


def _expression(expr: Any) -> promql.Expr:
    if not isinstance(expr, str) or not expr.strip():
        raise InvalidQuery("query must be a non-empty PromQL expression")
    if len(expr) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"query is longer than {MAX_QUERY_CHARS} characters")
    return promql.parse(expr)


def _time(value: Any, field: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise BadRequest(f"{field} must be a Unix time in seconds", field=field)
    return float(value)


class MonitorService(ServiceHealth, Capacity, Performance, Dashboards, UsageAnalytics, HistoryParts, Service):
    SPEC = SPEC

    def __init__(self, settings: AriaSettings) -> None:
        super().__init__(settings)
        self.config = settings.monitor
        self.store = SeriesStore(retention_s=self.config.retention_s, max_series=self.config.max_series)
        self.collector: Collector | None = None
        self.groups: list[GroupEvaluator] = []
        self.evaluated_at: dict[str, float] = {}
        self.notifier = Notifier({n: str(u) for n, u in self.config.webhooks.items()},
                                 self.config.webhook_timeout_s, settings.gateway_url.rstrip("/"))
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._fresh_lock = asyncio.Lock()
        self._queries = asyncio.Semaphore(HEAVY_QUERIES)
        self._notifying: set[asyncio.Task[None]] = set()
        self.rounds = 0
        # texts every other process pushes each interval (runtime/metrics_push.py); stale after
        # one and a half intervals and a margin, when the collector reads the door instead
        self.metrics_inbox = MetricsInbox(frozenset(s.name for s in all_specs()) - {SPEC.name},
                                          1.5 * self.config.interval_s + 1.0)
        self._deps: Deps | None = None
        self._forget: list[bytes] = []  # pushed keys to delete at the next read (stopped moving long ago)
        self._init_history()

    # -- lifecycle ---------------------------------------------------------------------------------
    def _rule_groups(self) -> list[RuleGroup]:
        files = ([BUILTIN_RULES] if self.config.builtin_rules else []) + [Path(f) for f in self.config.rule_files]
        groups: list[RuleGroup] = []
        for f in files:
            groups += load_rule_file(f)
        return groups

    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        self.groups = [GroupEvaluator(g, self.store) for g in self._rule_groups()]
        names = [s.name for s in all_specs()]
        self._deps = deps
        self.collector = Collector(names, self._metrics_of, self.store,
                                   timeout_s=self.config.scrape_timeout_s, series_cap=self.config.series_cap)
        self._task = periodic(self.config.interval_s, self.collect_once, what="collecting metrics", log=log)
        self._start_history(deps)

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        if self._notifying:  # deliveries under way get their webhook timeout, then are dropped
            await asyncio.wait(self._notifying, timeout=self.config.webhook_timeout_s)
        await self.notifier.close()
        await self._stop_history()

    async def health(self) -> Health:
        if self.collector is None:
            return Health(Status.STARTING, "not started")
        last = self.collector.last
        up = sum(last.up.values()) if last else 0
        missing = list(self.spec.missing)
        details = {"missing": missing, "rounds": self.rounds, "series": len(self.store),
                   "targets_up": up, "targets": len(self.collector.services),
                   "last_collection_s": round(last.took_s, 4) if last else None,
                   "rule_errors": sum(1 for g in self.groups for st in g.states if st.error),
                   "webhooks": self.notifier.status(), "history": self.history_status()}
        where = "" if self.history.up else f"; history in memory only ({self.history.error})"
        return Health(Status.NOT_IMPLEMENTED if missing else Status.READY,
                      f"{len(self.spec.features) - len(missing)} of {len(self.spec.features)} seed features built; "
                      f"{up} of {len(self.collector.services)} services' metrics read{where}", details)

    # -- the round ---------------------------------------------------------------------------------
    async def _metrics_of(self, name: str, timeout_s: float) -> str:
        """``name``'s metrics: pushed within the inbox's freshness, else read through its door."""
        if (got := self.metrics_inbox.fresh(name, time.monotonic())) is not None:
            return got.text
        assert self._deps is not None
        return await self._deps.exposition_of(name, timeout_s)

    async def _take_pushes(self) -> None:
        """Read every process's pushed text once for this collection (and delete long-stale keys)."""
        if self._deps is None:
            return
        try:
            values = await self._deps.pushed_metrics(self._forget)  # each GCS call bounded by its timeout
        except Exception as exc:  # the store unreachable: this collection reads the doors
            log.warning("pushed metrics not read: %s", exc)
            return
        self._forget = self.metrics_inbox.take(values, time.monotonic())

    async def collect_once(self, t: float | None = None) -> Collected:
        """Read every service, keep the history, evaluate due rule groups, notify changes."""
        assert self.collector is not None, "collect_once before start"
        async with self._lock:
            began = time.perf_counter()
            await self._take_pushes()
            read_s = time.perf_counter() - began
            got = await self.collector.collect(t)
            got.took_s += read_s  # the store's read is part of the collection
            self.rounds += 1
            changed: list[Alert] = []
            for g in self.groups:
                last = self.evaluated_at.get(g.group.name)
                if last is not None and got.at - last < g.group.interval_s - self.config.interval_s / 2:
                    continue
                self.evaluated_at[g.group.name] = got.at
                before = {k: a.state for st in g.states for k, a in st.alerts.items()}
                try:
                    g.evaluate(got.at)
                except Exception:  # one group's fault must not skip the others, compaction or notices
                    log.exception("rule group %s failed", g.group.name)
                    continue
                for st in g.states:
                    for k, a in st.alerts.items():
                        was = before.get(k)
                        if (a.state == "firing") != (was == "firing") and a.state in ("firing", "inactive"):
                            changed.append(a)  # it fired, or a firing one resolved
            self.store.compact(got.at)
        if changed:  # delivered in the background: a slow webhook or a cancelled request loses nothing
            task = asyncio.ensure_future(self.notifier.notify(changed))
            self._notifying.add(task)
            task.add_done_callback(self._notifying.discard)
        return got

    def _recent(self) -> Collected | None:
        last = self.collector.last if self.collector else None
        return last if last is not None and time.time() - last.at < self.config.interval_s else None

    async def _fresh(self) -> Collected:
        """The last collection if recent, else one new one shared by every caller waiting for it."""
        if (last := self._recent()) is not None:
            return last
        async with self._fresh_lock:
            if (last := self._recent()) is not None:
                return last
            return await self.collect_once()

    # -- RPC surface -------------------------------------------------------------------------------
    @rpc("monitor:metrics:read", scope="any", feature="prometheus")
    async def scrape(self, caller: Principal) -> str:
        """Every service's metrics in one Prometheus exposition (text format 0.0.4)."""
        return (await self._fresh()).text

    @rpc("monitor:metrics:read", scope="any", feature="prometheus")
    async def targets(self, caller: Principal) -> dict[str, Any]:
        """Each service's last metrics read: up, seconds, and why it failed."""
        got = await self._fresh()
        now = time.monotonic()
        pushed = {n: self.metrics_inbox.fresh(n, now) for n in got.up}
        return {"at": got.at, "took_s": got.took_s, "series": got.series,
                "targets": [{"service": n, "up": got.up[n], "seconds": round(got.seconds[n], 6),
                             "error": got.errors.get(n), "pushed": pushed[n] is not None,
                             # the pushing process's CPU over its last push (render, send, reply)
                             "push_cpu_s": round(p.cpu_s, 6) if (p := pushed[n]) is not None else None}
                            for n in got.up],
                "dropped": dict(self.collector.merger.dropped_total) if self.collector else {}}

    @rpc("monitor:metrics:read", scope="any", feature="prometheus")
    async def query(self, caller: Principal, expr: str, at: float | None = None) -> dict[str, Any]:
        """A PromQL instant query over the kept history (Prometheus's ``/api/v1/query`` answer)."""
        ast = _expression(expr)
        t = _time(at, "at", _now())
        async with self._queries:
            return _vector_json(promql.Evaluator(self.store, max_samples=QUERY_SAMPLES)(ast, t), t)

    @rpc("monitor:metrics:read", scope="any", feature="prometheus")
    async def query_range(self, caller: Principal, expr: str, start: float, end: float,
                          step: float) -> dict[str, Any]:
        """A PromQL range query: the expression at every ``step`` from ``start`` to ``end``."""
        ast = _expression(expr)
        t0, t1 = _time(start, "start", 0.0), _time(end, "end", 0.0)
        if isinstance(step, bool) or not isinstance(step, int | float) or not math.isfinite(step) or step <= 0:
            raise BadRequest("step must be a positive number of seconds", field="step")
        if t1 < t0:
            raise BadRequest("end is before start", field="end")
        if (t1 - t0) / step > MAX_RANGE_POINTS:
            raise BadRequest(f"more than {MAX_RANGE_POINTS} points: raise step", field="step")
        if ast.type not in ("vector", "scalar"):
            raise InvalidQuery(f"a range query needs an instant vector or a scalar, not a {ast.type}")
        ev = promql.Evaluator(self.store, max_samples=QUERY_SAMPLES)  # one budget for all the steps
        series: dict[tuple[tuple[str, str], ...], list[list[Any]]] = {}
        n = int((t1 - t0) // step)
        async with self._queries:
            for i in range(n + 1):
                t = t0 + i * step
                result = ev(ast, t)
                rows = [((), result)] if isinstance(result, float) else result
                for labels, v in rows:
                    series.setdefault(labels, []).append([t, promql_value(v)])
                await asyncio.sleep(0)  # a long range lets collection and other calls in between steps
        return {"resultType": "matrix",
                "result": [{"metric": dict(k), "values": v} for k, v in series.items()]}

    @rpc("monitor:alerts:read", scope="any", feature="alerting")
    async def alerts(self, caller: Principal) -> list[dict[str, Any]]:
        """Pending and firing alerts, and those resolved in the last 15 minutes."""
        out = [{**a.as_dict(), "value": promql_value(a.value), "group": g.group.name}
               for g in self.groups for st in g.states for a in st.alerts.values()]
        return sorted(out, key=lambda a: (a["state"] != "firing", a["state"] != "pending", -a["active_at"]))

    @rpc("monitor:alerts:read", scope="any", feature="alerting")
    async def rules(self, caller: Principal) -> list[dict[str, Any]]:
        """The rule groups and each rule's last evaluation: health, error, series returned."""
        return [{"name": g.group.name, "interval_s": g.group.interval_s,
                 "evaluated_at": self.evaluated_at.get(g.group.name),
                 "rules": [{"name": st.rule.name, "type": "recording" if hasattr(st.rule, "record") else "alerting",
                            "expr": st.rule.expr, "health": "err" if st.error else "ok", "error": st.error,
                            "last_eval": st.last_eval, "samples": st.samples,
                            "alerts": sum(1 for a in st.alerts.values() if a.state != "inactive")}
                           for st in g.states]} for g in self.groups]

    @rpc("monitor:metrics:read", scope="any", feature="prometheus")
    async def prometheus_config(self, caller: Principal) -> str:
        """A prometheus.yml that scrapes this Aria through its gateway (the token is read from a
        file the operator writes: `aria token > aria.token`) and loads Aria's rules."""
        url = self.settings.gateway_url.rstrip("/")
        scheme, _, host = url.partition("://")
        config = {
            "global": {"scrape_interval": f"{max(1, round(self.config.interval_s))}s",
                       "evaluation_interval": "30s"},
            "rule_files": [str(BUILTIN_RULES), *self.config.rule_files],
            "scrape_configs": [{
                "job_name": "aria", "scheme": scheme or "http", "metrics_path": "/v1/monitor/metrics",
                "authorization": {"type": "Bearer", "credentials_file": "aria.token"},
                "honor_labels": True, "static_configs": [{"targets": [host]}],
            }],
        }
        return yaml.safe_dump(config, sort_keys=False)


def _now() -> float:
    return time.time()
