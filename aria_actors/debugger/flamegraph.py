"""A flame graph as SVG from folded stacks (``root;child;leaf 12`` per line), Ray-free.

    folded lines ─► merge into a tree (root "all") ─► one rectangle per frame, its width the
    frame's share of the samples, the root at the bottom ─► SVG text

Guarantees and caveats:
- Static SVG: rectangles, text and a ``<title>`` per frame (the browser's tooltip: name, samples,
  percent). No script, no link, no external reference: it is served with a CSP of
  ``default-src 'none'`` and needs nothing else.
- Every name is XML-escaped and cleaned of characters XML cannot carry; a frame's label is cut
  to its rectangle (``..``); its title keeps the whole name.
- Frames narrower than ``min_px`` are left out (their samples still count in their parents), and
  at most ``max_frames`` are drawn: the size of the SVG is bounded whatever the profile.
- Colours are a hash of the frame's name (the same frame has the same colour in every graph):
  warm for most frames, blue for Aria's own (``aria_actors/``), so its code stands out.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

WIDTH = 1200
FRAME_H = 16
PAD = 10
TOP = 34          # room for the title
CHAR_PX = 7.0     # width of one character at font-size 12 (monospace)
OWN_CODE = "aria_actors/"


@dataclass
class Node:
    name: str
    value: int = 0
    children: dict[str, Node] = field(default_factory=dict)


MAX_STACK_FRAMES = 256  # frames kept per stack (a recursion can be thousands deep)
MAX_FRAME_CHARS = 300


def parse(folded: Iterable[str]) -> list[tuple[list[str], int]]:
    """``(frames root first, samples)`` of each well-formed line; others are skipped."""
    out = []
    for line in folded:
        stack, _, count = line.strip().rpartition(" ")
        if stack and count.isdigit() and int(count) > 0:
            frames = [f[:MAX_FRAME_CHARS] for f in stack.split(";") if f]
            if len(frames) > MAX_STACK_FRAMES:  # keep the root end: where the time is entered
                frames = [*frames[:MAX_STACK_FRAMES], "[deeper frames cut]"]
            out.append((frames, int(count)))
    return out


def tree(folded: Iterable[str]) -> Node:
    root = Node("all")
    for frames, n in parse(folded):
        root.value += n
        node = root
        for name in frames:
            node = node.children.setdefault(name, Node(name))
            node.value += n
    return root


def _depth(node: Node) -> int:
    """Levels below and including ``node``; iterative, so a deep stack is no RecursionError."""
    deepest, todo = 0, [(node, 1)]
    while todo:
        n, d = todo.pop()
        deepest = max(deepest, d)
        todo.extend((c, d + 1) for c in n.children.values())
    return deepest


def escape(text: str) -> str:
    """``text`` safe inside an XML element or a double-quoted attribute."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return (clean.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def colour(name: str) -> str:
    h = zlib.crc32(name.encode())
    a, b, c = (h & 0xFF) / 255, ((h >> 8) & 0xFF) / 255, ((h >> 16) & 0xFF) / 255
    if OWN_CODE in name:
        return f"rgb({int(80 + 60 * a)},{int(140 + 60 * b)},{int(205 + 50 * c)})"
    return f"rgb({int(205 + 50 * a)},{int(230 * b)},{int(55 * c)})"


def label(name: str, width_px: float) -> str:
    """The part of ``name`` that fits a rectangle ``width_px`` wide ('' when not even 3 chars)."""
    fits = int((width_px - 6) / CHAR_PX)
    if fits < 3:
        return ""
    return name if len(name) <= fits else name[:fits - 2] + ".."


def render(folded: Iterable[str], *, title: str = "CPU profile", width: int = WIDTH,
           min_px: float = 0.1, max_frames: int = 20_000) -> str:
    """The flame graph of ``folded`` as SVG text."""
    root = tree(folded)
    total = root.value
    depth = _depth(root)
    height = TOP + depth * FRAME_H + PAD
    span = width - 2 * PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="12">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8f8f0"/>',
        f'<text x="{width / 2:.1f}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]
    if total == 0:
        parts.append(f'<text x="{width / 2:.1f}" y="{TOP + 12}" text-anchor="middle">no samples</text>')
        parts.append("</svg>")
        return "\n".join(parts)
    drawn = 0
    todo: deque[tuple[Node, float, int]] = deque([(root, float(PAD), 0)])  # breadth first: the widest frames first
    while todo and drawn < max_frames:
        node, x, level = todo.popleft()
        w = span * node.value / total
        if w < min_px:
            continue
        y = height - PAD - (level + 1) * FRAME_H
        pct = 100.0 * node.value / total
        name = escape(node.name)
        text = label(node.name, w)
        parts.append(
            f'<g><title>{name} ({node.value} samples, {pct:.2f}%)</title>'
            f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{FRAME_H - 1}" fill="{colour(node.name)}" rx="2"/>'
            + (f'<text x="{x + 3:.2f}" y="{y + FRAME_H - 4}">{escape(text)}</text>' if text else "")
            + "</g>")
        drawn += 1
        offset = x
        for child in sorted(node.children.values(), key=lambda c: c.name):
            todo.append((child, offset, level + 1))
            offset += span * child.value / total
    parts.append("</svg>")
    return "\n".join(parts)
