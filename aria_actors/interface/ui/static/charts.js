// Small live charts for the dashboard, drawn as inline SVG with DOM APIs (no markup strings, no
// library), and a reader of the few Prometheus series they plot from the gateway's /metrics.

const NS = "http://www.w3.org/2000/svg";
const W = 320;
const H = 120;
const PAD = { left: 34, right: 8, top: 8, bottom: 16 };

function svg(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

// Prometheus text exposition: {name: [{labels: {...}, value}]} for the metric names asked for.
export function parseProm(text, names) {
  const wanted = new Set(names);
  const out = Object.fromEntries(names.map((n) => [n, []]));
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || !wanted.has(m[1])) continue;
    const labels = {};
    for (const pair of (m[3] || "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    const value = Number(m[4]);
    if (Number.isFinite(value)) out[m[1]].push({ labels, value });
  }
  return out;
}

function nice(v) {
  if (v >= 100) return String(Math.round(v));
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

// A line chart of the last `points` values of each series; push() adds one value per series.
export class LineChart {
  constructor(container, series, { points = 60, label = "" } = {}) {
    this.container = container;
    this.series = series; // [{name, cls}]
    this.points = points;
    this.label = label;
    this.data = series.map(() => []);
    this.draw();
  }

  push(values) {
    values.forEach((v, i) => {
      const list = this.data[i];
      list.push(Number.isFinite(v) ? v : 0);
      if (list.length > this.points) list.shift();
    });
    this.draw();
  }

  draw() {
    const max = Math.max(1e-9, ...this.data.flat());
    const top = max <= 1e-9 ? 1 : max * 1.15;
    const x = (i) => PAD.left + (i * (W - PAD.left - PAD.right)) / Math.max(1, this.points - 1);
    const y = (v) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "img" });
    root.append(svg("line", { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: "axis" }));
    root.append(svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, class: "axis" }));
    const maxLabel = svg("text", { x: PAD.left - 4, y: PAD.top + 8, class: "tick", "text-anchor": "end" });
    maxLabel.textContent = nice(top);
    const zero = svg("text", { x: PAD.left - 4, y: H - PAD.bottom, class: "tick", "text-anchor": "end" });
    zero.textContent = "0";
    root.append(maxLabel, zero);
    const words = [];
    this.series.forEach((s, i) => {
      const list = this.data[i];
      const offset = this.points - list.length;
      if (list.length) {
        const pts = list.map((v, j) => `${x(offset + j).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
        root.append(svg("polyline", { points: pts, class: `line ${s.cls || ""}`, fill: "none" }));
      }
      const last = list.length ? list[list.length - 1] : 0;
      words.push(`${s.name} ${nice(last)}`);
    });
    const legend = svg("text", { x: PAD.left + 4, y: H - 2, class: "legend" });
    legend.textContent = words.join(" · ");
    root.append(legend);
    root.setAttribute("aria-label", `${this.label}: ${words.join(", ")}`);
    const title = svg("title");
    title.textContent = `${this.label}: ${words.join(", ")}`;
    root.prepend(title);
    this.container.replaceChildren(root);
    this.container.dataset.points = String(Math.max(0, ...this.data.map((d) => d.length)));
    this.container.dataset.last = words.join(", ");
  }
}
