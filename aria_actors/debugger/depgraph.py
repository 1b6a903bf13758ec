"""The live service dependency graph, Ray-free: the supervisor's state drawn as nodes and edges.

    boot actor's status (every service: status, pid, node, layer, depends_on)
      ─► build(): nodes (status, up, pid, node, layer, kind, restarts), edges (depends_on, ``up``
         when the dependency is up), layers bottom to top
      ─► svg(): one column of boxes per layer, arrows from a service to what it depends on

Guarantees and caveats:
- The nodes are every registered service (a service the supervisor does not list is ``unknown``);
  the edges are the specs' ``depends_on`` (runtime/graph.py validates them at boot), not calls
  seen at run time. An edge is ``up`` when its dependency is up (ready, degraded or
  not_implemented: ``Status.is_up``), else ``down``; ``unknown`` with no status.
- Static SVG: rectangles, lines, text and a ``<title>`` per node and edge; no script, link or
  external reference (served with ``default-src 'none'`` like the flame graph). Names are
  XML-escaped; the size is bounded by the number of services.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from aria_actors.runtime.spec import ServiceSpec, Status

UNKNOWN = "unknown"
BOX_W, BOX_H = 170, 46
COL_GAP, ROW_GAP = 70, 18
PAD, TOP = 14, 34
COLOURS = {"ready": "#3a9d5d", "not_implemented": "#5b8def", "degraded": "#e0a030", "starting": "#9aa5b1",
           "pending": "#9aa5b1", "failed": "#d64545", "stopped": "#6b7785", UNKNOWN: "#6b7785"}


def _is_up(status: str) -> bool:
    try:
        return Status(status).is_up
    except ValueError:
        return False


def build(specs: Sequence[ServiceSpec], supervised: Mapping[str, Any]) -> dict[str, Any]:
    """Nodes and edges from the specs and the supervisor's ``status()`` answer."""
    live = {s.get("name"): s for s in supervised.get("services", []) if isinstance(s, Mapping)}
    names = {s.name for s in specs}
    nodes = []
    for spec in sorted(specs, key=lambda s: (s.layer, s.name)):
        got = live.get(spec.name, {})
        status = str(got.get("status") or UNKNOWN)
        nodes.append({"name": spec.name, "layer": spec.layer, "kind": spec.kind, "status": status,
                      "up": _is_up(status), "pid": got.get("pid"), "node_id": got.get("node"),
                      "restarts": got.get("restarts"), "uptime_s": got.get("uptime_s"),
                      "depends_on": [d for d in spec.depends_on if d in names],
                      "dependency_down": list(got.get("dependency_down") or [])})
    status_of = {n["name"]: n["status"] for n in nodes}
    edges = [{"from": n["name"], "to": d, "dependency_status": status_of[d],
              "state": "up" if _is_up(status_of[d]) else UNKNOWN if status_of[d] == UNKNOWN else "down"}
             for n in nodes for d in n["depends_on"]]
    layers = sorted({n["layer"] for n in nodes})
    return {"phase": supervised.get("phase"), "nodes": nodes, "edges": edges, "layers": layers,
            "counts": {s: sum(1 for n in nodes if n["status"] == s) for s in sorted(set(status_of.values()))}}


def _positions(nodes: Sequence[Mapping[str, Any]]) -> dict[str, tuple[float, float]]:
    """Top-left corner of every node's box: a column per layer, left to right, sorted by name."""
    layers = sorted({n["layer"] for n in nodes})
    col = {layer: i for i, layer in enumerate(layers)}
    rows: dict[int, int] = {}
    out = {}
    for n in sorted(nodes, key=lambda n: (n["layer"], n["name"])):
        row = rows.get(n["layer"], 0)
        rows[n["layer"]] = row + 1
        out[n["name"]] = (PAD + col[n["layer"]] * (BOX_W + COL_GAP), TOP + row * (BOX_H + ROW_GAP))
    return out


def svg(graph: Mapping[str, Any], title: str = "Aria services") -> str:
    """The graph as a standalone static SVG document."""
    nodes = graph["nodes"]
    pos = _positions(nodes)
    width = max((x for x, _ in pos.values()), default=PAD) + BOX_W + PAD
    height = max((y for _, y in pos.values()), default=TOP) + BOX_H + PAD + 18
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="12">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
             f'<rect width="100%" height="100%" fill="#ffffff"/>'
             f'<text x="{PAD}" y="20" font-size="15" font-weight="bold">{escape(title)}</text>',
             f'<text x="{PAD}" y="{height - 8:.0f}" fill="#555">arrows point to a dependency; '
             'dashed red: the dependency is not up</text>']
    for e in graph["edges"]:
        if e["from"] not in pos or e["to"] not in pos:
            continue
        (fx, fy), (tx, ty) = pos[e["from"]], pos[e["to"]]
        x1, y1 = fx, fy + BOX_H / 2
        x2, y2 = tx + BOX_W, ty + BOX_H / 2
        if tx >= fx:  # same layer (or a later one): from the box's right edge to the other's left
            x1, x2 = fx + BOX_W, tx
            if tx == fx:
                x1, x2 = fx + BOX_W - 10, tx + BOX_W - 10
        up = e["state"] == "up"
        style = 'stroke="#777"' if up else 'stroke="#d64545" stroke-dasharray="5,3"'
        parts.append(f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" {style} stroke-width="1.2" '
                     f'marker-end="url(#arrow)"><title>{escape(e["from"])} depends on {escape(e["to"])}: '
                     f'{escape(e["state"])}</title></line>')
    for n in nodes:
        x, y = pos[n["name"]]
        colour = COLOURS.get(n["status"], COLOURS[UNKNOWN])
        pid = "" if n["pid"] is None else f"pid {n['pid']}"
        tip = (f"{n['name']} (layer {n['layer']}, {n['kind']}): {n['status']}"
               + (f", {pid}" if pid else "") + (f", node {n['node_id']}" if n["node_id"] else ""))
        parts.append(f'<g><title>{escape(tip)}</title>'
                     f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{colour}" '
                     f'fill-opacity="0.18" stroke="{colour}" stroke-width="2"/>'
                     f'<text x="{x + 8:.0f}" y="{y + 18:.0f}" font-weight="bold">{escape(n["name"])}</text>'
                     f'<text x="{x + 8:.0f}" y="{y + 36:.0f}" fill="#333">{escape(n["status"])} '
                     f'{escape(pid)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
