// The #/monitor view: aria_monitor's built-in dashboards (GET /v1/monitor/dashboards) and each
// panel's series over a chosen window (GET /v1/monitor/dashboards/{name}), drawn as inline SVG
// line charts with DOM APIs (no library, no markup strings, nothing loaded but the API's JSON).
// Needs monitor:metrics:read@any (operator, admin): anyone else sees the refusal as text.

import * as api from "./api.js";
import { el, setText } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const W = 480;
const H = 170;
const PAD = { left: 48, right: 8, top: 10, bottom: 30 };
const WINDOWS = ["15m", "1h", "6h", "1d", "7d", "30d"];
const REFRESH_MS = 15_000;
const COLOURS = 6; // .mon-line.s0 … s5 in app.css; further series reuse them

function svg(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

export function formatValue(v, unit) {
  if (!Number.isFinite(v)) return "-";
  if (unit === "bytes") return `${(v / 2 ** 20).toFixed(v >= 10 * 2 ** 20 ? 0 : 1)} MiB`;
  if (unit === "s") return `${(v * 1000).toFixed(v >= 0.1 ? 0 : 1)} ms`;
  if (Math.abs(v) >= 100) return String(Math.round(v));
  return v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
}

function clock(t, span) {
  const d = new Date(t * 1000);
  return span > 2 * 86400 ? d.toLocaleDateString() : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// One panel as an SVG chart: a polyline per series over [start, end], the value axis from 0 (or
// the lowest value when negative) to the highest, a legend with each series' last value.
export function timeChart(panel, start, end) {
  const series = panel.series.filter((s) => s.points.length);
  const values = series.flatMap((s) => s.points.map((p) => p[1]));
  const lo = Math.min(0, ...values);
  const hi = Math.max(lo + 1e-9, ...values) * 1.1;
  const x = (t) => PAD.left + ((t - start) / Math.max(1, end - start)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - ((v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart-svg mon-chart", role: "img" });
  root.append(svg("line", { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: "axis" }));
  root.append(svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, class: "axis" }));
  const ticks = [[hi, PAD.top + 8], [lo, H - PAD.bottom]];
  for (const [v, at] of ticks) {
    const t = svg("text", { x: PAD.left - 4, y: at, class: "tick", "text-anchor": "end" });
    t.textContent = formatValue(v, panel.unit);
    root.append(t);
  }
  for (const [t, anchor] of [[start, "start"], [end, "end"]]) {
    const label = svg("text", { x: x(t), y: H - PAD.bottom + 11, class: "tick", "text-anchor": anchor });
    label.textContent = clock(t, end - start);
    root.append(label);
  }
  const words = [];
  series.forEach((s, i) => {
    const pts = s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    root.append(svg("polyline", { points: pts, class: `line mon-line s${i % COLOURS}`, fill: "none" }));
    const name = panel.legend.map((k) => s.labels[k] || "").join(" ").trim() || panel.title;
    words.push(`${name} ${formatValue(s.points[s.points.length - 1][1], panel.unit)}`);
  });
  const legend = svg("text", { x: PAD.left, y: H - 4, class: "legend" });
  legend.textContent = words.length ? words.slice(0, 8).join(" · ") + (words.length > 8 ? " …" : "") : "no data";
  root.append(legend);
  const summary = `${panel.title}: ${words.join(", ") || "no data"}`;
  root.setAttribute("aria-label", summary);
  const title = svg("title");
  title.textContent = summary;
  root.prepend(title);
  return root;
}

export function monitorView(main, problemText) {
  const pick = el("select", { id: "monitor-dashboard" });
  const span = el("select", { id: "monitor-window" }, ...WINDOWS.map((w) => el("option", { value: w, text: w })));
  span.value = "1h";
  const status = el("p", { id: "monitor-status", class: "muted", role: "status" });
  const panels = el("div", { id: "monitor-panels", class: "mon-panels" });
  main.replaceChildren(el("section", { class: "card wide", "aria-labelledby": "monitor-title" },
    el("h1", { id: "monitor-title", text: "Monitor" }),
    el("p", { class: "controls" },
      el("label", { for: "monitor-dashboard", text: "Dashboard " }), pick, " ",
      el("label", { for: "monitor-window", text: "Window " }), span),
    status, panels));
  let timer = null;
  let gone = false;

  async function draw() {
    if (!pick.value) return;
    try {
      const got = await api.api("GET",
        `/v1/monitor/dashboards/${encodeURIComponent(pick.value)}?window=${encodeURIComponent(span.value)}`);
      if (gone) return;
      panels.replaceChildren(...got.panels.map((p) => el("figure", { class: "mon-panel", dataset: { panel: p.name } },
        el("figcaption", { text: p.title }), timeChart(p, got.start, got.end))));
      panels.dataset.source = got.source;
      setText(status, `${got.title}: every ${got.step_s} s from ${got.source === "postgres" ? "PostgreSQL's rollups" :
        "memory"}` + (got.note ? ` (${got.note})` : "") + `; updated ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      if (!gone) setText(status, problemText(err));
    }
  }

  async function load() {
    try {
      const dashboards = await api.api("GET", "/v1/monitor/dashboards");
      if (gone) return;
      pick.replaceChildren(...dashboards.map((d) => el("option", { value: d.name, text: d.title })));
      await draw();
      timer = setInterval(draw, REFRESH_MS);
    } catch (err) {
      if (!gone) setText(status, problemText(err));
    }
  }

  pick.addEventListener("change", draw);
  span.addEventListener("change", draw);
  load();
  return () => {
    gone = true;
    clearInterval(timer);
  };
}
