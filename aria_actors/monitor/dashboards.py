"""aria_monitor's dashboards: built-in panels over the metrics history, their rollups in PostgreSQL,
and the same dashboards as Grafana JSON.

    every dashboard_sample_s: each panel's PromQL at the last collection ─► Rollups (1 min, 1 h)
                              and PanelHistory (the recent range, in memory)
    every history_flush_s:    pending rollups ─► one batch upsert into aria_monitor.rollups
    dashboard(name, window)   each panel's series over [end - window, end]: from memory (the
                              in-memory history) for the recent range, from the rollups for older
    grafana(name)             a Grafana dashboard (timeseries panels, Prometheus targets)

Guarantees and caveats:
- What PostgreSQL keeps is each panel's series (a few per service), not every raw series: the
  history a dashboard draws, bounded by the panels, never by what services expose. Minute rows
  are kept ``history_minute_days``, hour rows ``history_hour_days``.
- Memory holds each panel's sampled values (:class:`PanelHistory`, ``retention_s`` and at most
  1024 samples per series). ``source`` ``auto`` draws from memory when the window lies inside
  what it holds, else from PostgreSQL (minute rows up to two days, hour rows beyond);
  ``memory``/``postgres`` force it. PostgreSQL unreachable: memory, with a ``note`` saying so.
- A window is a Prometheus duration (``15m``, ``6h``, ``7d``) or seconds, from one minute to the
  hour rollups' retention; at most ``MAX_POINTS`` points per series (the step grows with it).
- Expressions are fixed in code (no request text reaches PromQL); the Grafana targets are the
  same expressions with ``[1m]`` replaced by ``[$__rate_interval]``, for a Prometheus server that
  scrapes ``/v1/monitor/metrics`` (``prometheus_config``), where every series has ``service``.
- Unknown dashboard: 404 ``monitor-unknown-dashboard``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aria_actors.monitor import promql
from aria_actors.monitor.errors import UnknownDashboard
from aria_actors.monitor.rollup import Rollups, downsample, labels_key, resolution_for
from aria_actors.monitor.series import NAME, SeriesStore
from aria_actors.monitor.store import HistoryLink
from aria_actors.runtime.errors import BadRequest
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc

if TYPE_CHECKING:
    from aria_actors.monitor.collector import Collector
    from aria_actors.monitor.config import MonitorSettings

log = logging.getLogger("aria.monitor")
MAX_POINTS = 240
MIN_WINDOW_S = 60.0
SOURCES = ("auto", "memory", "postgres")
PANEL_SAMPLES = 200_000  # samples one panel's drawing may read from memory
ERRORS = 'outcome=~"internal|service-unavailable"'


@dataclass(frozen=True, slots=True)
class Panel:
    name: str
    title: str
    expr: str
    unit: str  # Grafana's unit id: reqps, s, bytes, short
    legend: tuple[str, ...] = ()  # the labels that name a line


@dataclass(frozen=True, slots=True)
class Dashboard:
    name: str
    title: str
    description: str
    panels: tuple[Panel, ...]


DASHBOARDS: dict[str, Dashboard] = {d.name: d for d in (
    Dashboard("overview", "Aria overview", "Services up, RPC calls, errors and p99 latency per service", (
        Panel("services_up", "Services up", "sum(aria_scrape_up)", "short"),
        Panel("rpc_rate", "RPC calls per second", "sum by (service) (rate(aria_rpc_calls_total[1m]))", "reqps",
              ("service",)),
        Panel("rpc_errors", "RPC errors per second (the server's)",
              f"sum by (service) (rate(aria_rpc_calls_total{{{ERRORS}}}[1m]))", "reqps", ("service",)),
        Panel("rpc_p99", "RPC latency p99",
              "histogram_quantile(0.99, sum by (le, service) (rate(aria_rpc_seconds_bucket[1m])))", "s",
              ("service",)),
        Panel("http_rate", "Gateway requests per second by status",
              'sum by (code) (rate(aria_http_requests_total{service="aria_coordinate"}[1m]))', "reqps", ("code",)),
    )),
    Dashboard("queue", "Aria queue", "aria_queue's jobs by state and queue, and their latency", (
        Panel("jobs_by_state", "Jobs by state", "sum by (state) (aria_queue_jobs)", "short", ("state",)),
        Panel("queued_by_queue", "Queued jobs by queue", 'sum by (queue) (aria_queue_jobs{state="queued"})', "short",
              ("queue",)),
        Panel("wait_p99", "Wait before start p99",
              "histogram_quantile(0.99, sum by (le, queue) (rate(aria_queue_wait_seconds_bucket[1m])))", "s",
              ("queue",)),
        Panel("execution_p99", "Execution p99",
              "histogram_quantile(0.99, sum by (le, queue) (rate(aria_queue_execution_seconds_bucket[1m])))", "s",
              ("queue",)),
    )),
    Dashboard("resources", "Aria resources", "CPU and resident memory per service", (
        Panel("cpu", "CPU (cores)", "sum by (service) (rate(process_cpu_seconds_total[1m]))", "short",
              ("service",)),
        Panel("memory", "Resident memory", "sum by (service) (process_resident_memory_bytes)", "bytes",
              ("service",)),
    )),
)}
PARSED: dict[tuple[str, str], promql.Expr] = {(d.name, p.name): promql.parse(p.expr)
                                              for d in DASHBOARDS.values() for p in d.panels}


def dashboard_of(name: Any) -> Dashboard:
    found = DASHBOARDS.get(name) if isinstance(name, str) else None
    if found is None:
        raise UnknownDashboard(f"no dashboard {str(name)[:80]!r}; dashboards are {', '.join(DASHBOARDS)}",
                               name=str(name)[:80])
    return found


def _series_labels(labels: Any) -> dict[str, str]:
    return {k: v for k, v in labels if k != NAME}


def _rows(result: Any) -> list[tuple[dict[str, str], float]]:
    if isinstance(result, float):
        return [({}, result)]
    return [(_series_labels(labels), v) for labels, v in result]


# -- sampling into rollups and the in-memory panel history ----------------------------------------
class PanelHistory:
    """Each panel series' sampled values, the recent range a dashboard draws from memory: bounded by
    ``retention_s`` and ``max_points`` per series (evaluating the panels' PromQL at every step of a
    window on request cost seconds; reading kept values costs nothing)."""

    def __init__(self, retention_s: float, max_points: int = 1024) -> None:
        self.retention_s, self.max_points = retention_s, max_points
        self.times: deque[float] = deque(maxlen=max_points)
        self.points: dict[str, dict[str, tuple[dict[str, str], deque[tuple[float, float]]]]] = {}

    def add(self, panel: str, key: str, labels: dict[str, str], t: float, v: float) -> None:
        series = self.points.setdefault(panel, {})
        got = series.get(key)
        if got is None:
            got = series[key] = (labels, deque(maxlen=self.max_points))
        got[1].append((t, v))

    def sampled(self, t: float) -> None:
        self.times.append(t)
        old = t - self.retention_s
        while self.times and self.times[0] < old:
            self.times.popleft()
        for panel in list(self.points.values()):
            for key, (_, pts) in list(panel.items()):
                while pts and pts[0][0] < old:
                    pts.popleft()
                if not pts:
                    del panel[key]

    @property
    def oldest(self) -> float | None:
        return self.times[0] if self.times else None

    def series(self, panel: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        out = []
        for _, (labels, pts) in sorted(self.points.get(panel, {}).items()):
            kept = downsample([(t, v) for t, v in pts if start <= t <= end], step)
            if kept:
                out.append({"labels": labels, "points": [[t, v] for t, v in kept]})
        return out


def sample(store: SeriesStore, at: float, rollups: Rollups, memory: PanelHistory | None = None) -> int:
    """Every panel's value at ``at`` into the rollups (and the in-memory history); returns the points added."""
    n = 0
    for (dash, panel), ast in PARSED.items():
        try:
            result = promql.Evaluator(store, max_samples=PANEL_SAMPLES)(ast, at)
        except Exception as exc:  # one panel's fault must not cost the others their history
            log.warning("panel %s/%s not sampled: %s", dash, panel, exc)
            continue
        for labels, v in _rows(result):
            if math.isfinite(v):
                key = labels_key(labels)
                rollups.add(f"{dash}/{panel}", key, at, v)
                if memory is not None:
                    memory.add(f"{dash}/{panel}", key, labels, at, v)
                n += 1
    if memory is not None:
        memory.sampled(at)
    return n


# -- arguments ---------------------------------------------------------------------------------------
def check_window(window: Any, max_s: float) -> float:
    """Seconds of a window given as a Prometheus duration (``15m``) or a number of seconds."""
    seconds: float | None = None
    if isinstance(window, int | float) and not isinstance(window, bool):
        seconds = float(window)
    elif isinstance(window, str) and len(window) <= 32:
        try:
            seconds = float(window) if window.replace(".", "", 1).isdigit() else promql.parse_duration(window)
        except ValueError:
            seconds = None
    if seconds is None or not math.isfinite(seconds) or not MIN_WINDOW_S <= seconds <= max_s:
        raise BadRequest(f"window must be a duration (15m, 6h, 7d) or seconds from {MIN_WINDOW_S:g} to {max_s:g} "
                         f"(the hour rollups' retention)", field="window")
    return seconds


def check_source(source: Any) -> str:
    if source not in SOURCES:
        raise BadRequest(f"source must be one of {', '.join(SOURCES)}", field="source")
    return str(source)


def step_for(window_s: float, interval_s: float) -> float:
    return float(max(math.ceil(interval_s), math.ceil(window_s / MAX_POINTS)))


# -- drawing -------------------------------------------------------------------------------------------
def rows_to_series(rows: list[Any], step: float) -> list[dict[str, Any]]:
    """Rollup rows (labels, t, avg, ...) as series, averaged to ``step``."""
    by: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        by.setdefault(r["labels"], []).append((float(r["t"]), float(r["avg"])))
    return [{"labels": json.loads(k), "points": [[t, v] for t, v in downsample(pts, step)]}
            for k, pts in sorted(by.items())]


def _panel(p: Panel, series: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": p.name, "title": p.title, "unit": p.unit, "expr": p.expr, "legend": list(p.legend),
            "series": series}


def listing() -> list[dict[str, Any]]:
    return [{"name": d.name, "title": d.title, "description": d.description,
             "panels": [{"name": p.name, "title": p.title, "unit": p.unit, "expr": p.expr} for p in d.panels]}
            for d in DASHBOARDS.values()]


# -- Grafana -------------------------------------------------------------------------------------------
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def grafana_expr(expr: str) -> str:
    return expr.replace("[1m]", "[$__rate_interval]")


def grafana(dash: Dashboard) -> dict[str, Any]:
    """A Grafana dashboard model (what "Import dashboard" and file provisioning take)."""
    panels = []
    for i, p in enumerate(dash.panels):
        legend = " ".join("{{" + k + "}}" for k in p.legend) or p.title
        panels.append({
            "id": i + 1, "type": "timeseries", "title": p.title, "datasource": DATASOURCE,
            "gridPos": {"x": (i % 2) * 12, "y": (i // 2) * 8, "w": 12, "h": 8},
            "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "none"}},
            "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": grafana_expr(p.expr),
                         "legendFormat": legend, "range": True}],
        })
    return {
        "uid": f"aria-{dash.name}", "title": dash.title, "description": dash.description, "tags": ["aria"],
        "timezone": "utc", "schemaVersion": 39, "version": 1, "editable": True, "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "label": "Prometheus", "type": "datasource",
                                 "query": "prometheus", "current": {}, "hide": 0}]},
        "panels": panels,
    }


class Dashboards:
    """The mixin of :class:`~aria_actors.monitor.service.MonitorService` serving the dashboards."""

    store: SeriesStore
    collector: Collector | None
    config: MonitorSettings
    history: HistoryLink
    rollups: Rollups
    panel_history: PanelHistory
    sampled_at: float | None

    async def sample_panels(self) -> int:
        last = self.collector.last if self.collector is not None else None
        if last is None or last.at == self.sampled_at:
            return 0
        self.sampled_at = last.at
        return sample(self.store, last.at, self.rollups, self.panel_history)

    async def flush_rollups(self) -> None:
        store = self.history.store
        if store is None or not self.rollups:
            return
        rows = self.rollups.take()
        try:
            for i in range(0, len(rows), 5000):
                await store.merge_rollups(rows[i:i + 5000])
        except Exception as exc:  # a failed statement wrote nothing: the rest waits for the next flush
            self.rollups.put_back(rows[i:])
            self.history.failed(exc)
            return
        self.history.ok(len(rows))

    def dashboards_status(self) -> dict[str, Any]:
        return {"pending_rollups": len(self.rollups), "dropped_rollups": self.rollups.dropped}

    @rpc("monitor:metrics:read", scope="any", feature="dashboard")
    async def dashboards(self, caller: Principal) -> list[dict[str, Any]]:
        """The built-in dashboards and their panels (name, title, unit, PromQL)."""
        return listing()

    @rpc("monitor:metrics:read", scope="any", feature="dashboard")
    async def dashboard(self, caller: Principal, name: str, window: str = "1h", source: str = "auto") -> dict[str, Any]:
        """Each panel's series over the window: from memory for the recent range, PostgreSQL's rollups
        for older ones (``source`` says which answered)."""
        dash = dashboard_of(name)
        window_s = check_window(window, self.config.history_hour_days * 86400.0)
        want = check_source(source)
        last = self.collector.last if self.collector is not None else None
        end = last.at if last is not None else time.time()
        start = end - window_s
        step = step_for(window_s, self.config.dashboard_sample_s)
        oldest = self.panel_history.oldest
        in_memory = oldest is not None and start >= oldest - self.config.dashboard_sample_s
        use = want if want != "auto" else ("memory" if in_memory else "postgres")
        note = None
        out: dict[str, Any] = {"name": dash.name, "title": dash.title, "window_s": window_s, "start": start,
                               "end": end, "step_s": step, "resolution_s": None}
        if use == "postgres":
            store = self.history.store
            if store is None:
                note = f"PostgreSQL unavailable ({self.history.error}): drawn from memory"
                use = "memory"
            else:
                res = resolution_for(window_s)
                step = max(step, float(res))
                try:
                    panels = [_panel(p, rows_to_series(
                        await store.rollup_range(res, f"{dash.name}/{p.name}", start, end), step))
                        for p in dash.panels]
                except Exception as exc:  # memory it is, and health says why
                    self.history.failed(exc)
                    note = f"PostgreSQL unavailable ({self.history.error}): drawn from memory"
                    use = "memory"
                else:
                    out.update(step_s=step, resolution_s=res)
        if use == "memory":
            panels = [_panel(p, self.panel_history.series(f"{dash.name}/{p.name}", start, end, step))
                      for p in dash.panels]
        return {**out, "source": use, "note": note, "panels": panels}

    @rpc("monitor:metrics:read", scope="any", feature="dashboard")
    async def grafana_dashboard(self, caller: Principal, name: str) -> dict[str, Any]:
        """The dashboard as Grafana JSON (timeseries panels with PromQL targets on a Prometheus datasource)."""
        return grafana(dashboard_of(name))
