"""Prometheus text exposition (format 0.0.4): parse scrapes and merge many into one.

Every Ray actor is its own process, so each service (and each Serve replica) renders its own
exposition; aria_monitor gathers them and serves one scrape::

    aria_queue    ──text──┐
    aria_storage  ──text──┼─► parse ─► label service="…"[, replica="…"] ─► cap per family ─► one text
    gateway r1/r2 ──text──┘                                                     │
                                                 aria_monitor_series_dropped_total{family}

Guarantees and caveats:
- Parsing is our own (one regular expression per line): ``prometheus_client.parser`` is pure
  Python character scanning, several times slower on the same input (``bench/monitor.py``
  measures both), and its errors do not say which line failed. Ours raise
  :class:`MalformedExposition` naming the source, line number and the line.
- Checked: metric and label names, quoting and escapes, duplicate label names, values (floats,
  ``+Inf``, ``-Inf``, ``NaN``), integer timestamps, one TYPE per family before its samples, and
  sample names that fit their family's type (``_bucket``/``_sum``/``_count`` for histograms…).
- Merging keeps one HELP and one TYPE per family (the first source's); a later source that
  declares another type for the family is an error of that source. Samples keep their source's
  order, families the order they were first seen.
- The source label is added like Prometheus with ``honor_labels: false``: a sample that already
  has a ``service`` label keeps it as ``exported_service``.
- The cardinality cap counts series per family and per source (a histogram's ``le`` and a
  summary's ``quantile`` do not make new series), so one source's explosion cannot push another
  source's series out. Series past the cap are dropped whole, in the source's order, and counted
  in ``aria_monitor_series_dropped_total{family}`` (cumulative over the merger's life, like any
  counter); never dropped silently.
- With ``strict=False`` a malformed source is left out of the merge and counted in
  ``aria_monitor_scrape_errors_total{service}``; its error is in :attr:`Merged.errors`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from aria_actors.monitor.errors import MalformedExposition

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TYPES = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})
# Which sample names belong to a family of each type (the family name plus one of these).
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("", "_total", "_created"),
    "gauge": ("",),
    "untyped": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}
_SERIES_LABELS = {"histogram": "le", "summary": "quantile"}  # labels that do not make new series

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
# Greedy braces: a label value may hold '}', the value and timestamp after the last one cannot.
_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)[ \t]*(?:\{(.*)\})?[ \t]*[ \t](\S+)(?:[ \t]+(-?\d+))?[ \t]*\Z")
_PAIR = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(,|\Z)')
_PLAIN_PAIR = r'[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"'
_PAIRS_PLAIN = re.compile(rf"(?:{_PLAIN_PAIR}(?:,{_PLAIN_PAIR})*,?)?\Z")  # the common case: no spaces, no escapes
_PAIR_PLAIN = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"')
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}
_SPECIAL = {"+Inf": math.inf, "Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}

Labels = tuple[tuple[str, str], ...]


class Sample(NamedTuple):
    name: str
    labels: Labels
    value: float
    timestamp_ms: int | None = None


@dataclass(slots=True)
class Family:
    name: str
    type: str = "untyped"
    help: str = ""
    samples: list[Sample] = field(default_factory=list)
    # Each sample's label block and value text as written, so a merge re-emits them unparsed.
    raw: list[tuple[str, str]] = field(default_factory=list, repr=False, compare=False)

    def series_key(self, labels: Labels) -> Labels:
        """The labels that name one series of this family (``le``/``quantile`` left out)."""
        skip = _SERIES_LABELS.get(self.type)
        return labels if skip is None else tuple(p for p in labels if p[0] != skip)


def _unescape(match: re.Match[str]) -> str:
    return _UNESCAPE.get(match.group(1), "\\" + match.group(1))


NAME_LABEL = "__name__"
FRAGMENTS_MAX = 4096  # sources a merger remembers the last fragment of; cleared whole when full
# the values the fast path reads (the rest, with +Inf/-Inf/NaN, go through the parser)
_FAST_VALUE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\Z|[+-]Inf\Z|NaN\Z")
_CACHE: dict[str, Labels] = {}
_CACHE_MAX = 100_000  # label blocks repeat across sources and scrapes; cleared whole when full


def _labels(text: str) -> Labels:
    hit = _CACHE.get(text)
    if hit is not None:
        return hit
    if _PAIRS_PLAIN.match(text):
        out = _PAIR_PLAIN.findall(text)
        names = {k for k, _ in out}
        if len(names) != len(out):
            raise ValueError(f"duplicate label name in {{{text}}}")
        labels = tuple(out)
    else:
        labels = _labels_slow(text)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[text] = labels
    return labels


def _labels_slow(text: str) -> Labels:
    out: list[tuple[str, str]] = []
    pos, end = 0, len(text)
    while pos < end:
        m = _PAIR.match(text, pos)
        if m is None:
            if text[pos:].strip():
                raise ValueError(f"bad label at {text[pos:pos + 40]!r}")
            break
        value = m.group(2)
        out.append((m.group(1), _ESCAPE.sub(_unescape, value) if "\\" in value else value))
        pos = m.end()
    names = [k for k, _ in out]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate label name in {{{text}}}")
    return tuple(out)


def _value(text: str) -> float:
    special = _SPECIAL.get(text)
    if special is not None:
        return special
    if "_" in text or text.lower().lstrip("+-") in ("inf", "infinity", "nan"):
        raise ValueError(f"bad value {text!r}")  # float() accepts these, Prometheus does not
    return float(text)


def _fast_value(text: str) -> float:
    special = _SPECIAL.get(text)
    if special is not None:
        return special
    if not _FAST_VALUE.match(text):
        raise ValueError(text)
    return float(text)


def parse(text: str | bytes, source: str = "") -> list[Family]:
    """The families of one exposition, in order. Raises :class:`MalformedExposition`."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="strict")
    families: list[Family] = []
    by_name: dict[str, Family] = {}
    current: Family | None = None
    allowed: tuple[str, ...] = ()
    where = f"{source}: " if source else ""
    for lineno, line in enumerate(text.split("\n"), 1):
        try:
            if not line or line.isspace():
                continue
            if line[0] == "#":
                parts = line.split(None, 3)
                if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
                    continue  # a plain comment
                kind, name = parts[1], parts[2]
                if not _NAME.match(name):
                    raise ValueError(f"bad metric name {name!r}")
                fam = by_name.get(name)
                if fam is None:
                    fam = by_name[name] = Family(name)
                    families.append(fam)
                elif fam is not current:
                    raise ValueError(f"{kind} for {name} after its samples or another family")
                if kind == "TYPE":
                    typ = parts[3].strip() if len(parts) > 3 else ""
                    if typ not in TYPES:
                        raise ValueError(f"unknown type {typ!r} (one of {sorted(TYPES)})")
                    if fam.samples or fam.type != "untyped":
                        raise ValueError(f"second TYPE for {name} or TYPE after its samples")
                    fam.type = typ
                else:
                    fam.help = parts[3] if len(parts) > 3 else ""
                current = fam
                allowed = tuple(name + s for s in _SUFFIXES[fam.type])
                continue
            m = _SAMPLE.match(line)
            if m is None:
                raise ValueError("not a sample: name{labels} value [timestamp]")
            name, raw, value, ts = m.groups()
            if current is None or name not in allowed:
                if name in by_name:
                    raise ValueError(f"samples of {name} are not together")
                current = by_name[name] = Family(name)
                families.append(current)
                allowed = (name,)
            current.samples.append(Sample(name, _labels(raw) if raw else (), _value(value),
                                          int(ts) if ts is not None else None))
            current.raw.append((raw or "", value if ts is None else f"{value} {ts}"))
        except (ValueError, UnicodeError) as exc:
            raise MalformedExposition(f"{where}line {lineno}: {exc}: {line[:200]!r}",
                                      source=source, line=lineno) from None
    return families


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def format_value(value: float) -> str:
    """A value as Prometheus writes it (``+Inf``, ``NaN``, shortest repr otherwise)."""
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def render_labels(labels: Labels) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}" if labels else ""


def render(families: Iterable[Family]) -> str:
    """Families back to text; the inverse of :func:`parse`."""
    out: list[str] = []
    for fam in families:
        if fam.help:
            out.append(f"# HELP {fam.name} {fam.help}")
        out.append(f"# TYPE {fam.name} {fam.type}")
        for s in fam.samples:
            ts = "" if s.timestamp_ms is None else f" {s.timestamp_ms}"
            out.append(f"{s.name}{render_labels(s.labels)} {format_value(s.value)}{ts}")
    return "\n".join(out) + "\n" if out else ""


@dataclass(slots=True)
class Scrape:
    """One source's exposition: ``source`` becomes the ``service`` label, ``replica`` (a Serve
    replica, a queue executor) the ``replica`` label when given."""

    source: str
    text: str | bytes
    replica: str | None = None


Keyed = tuple[str, Labels, float]  # (sample name, sorted labels with __name__, value): a series' point


@dataclass(slots=True)
class _Part:
    """One family's share of one source's text in a merge: each accepted sample's merged line
    up to its value, its ordinal among the source's sample lines and its series key."""

    name: str
    type: str
    help: str
    heads: list[str] = field(default_factory=list)
    ordinals: list[int] = field(default_factory=list)
    sample_names: list[str] = field(default_factory=list)  # each sample's name (__name__)
    keys: list[Labels] = field(default_factory=list)
    series: int = 0
    dropped: int = 0


@dataclass(slots=True)
class _Fragment:
    """What one source's text added to the last merge, with the lines it was read from: each
    sample line up to its last space, and the other lines whole."""

    lines: int
    sample_lines: list[int]
    heads: list[str]
    other_lines: list[int]
    others: list[str]
    parts: list[_Part]
    cacheable: bool


@dataclass(slots=True)
class Merged:
    text: str
    families: int
    series: int
    dropped: dict[str, int]  # this merge's dropped series per family
    errors: dict[str, str]  # source -> why it was left out (strict=False only)
    # each source's samples as the merged text carries them, keyed for a SeriesStore (so the
    # collector keeps the history without parsing the merged text again)
    samples: dict[str, list[Keyed]] = field(default_factory=dict)


class Merger:
    """Merges scrapes into one exposition; keeps the cumulative drop and error counters."""

    DROPPED = "aria_monitor_series_dropped_total"
    ERRORS = "aria_monitor_scrape_errors_total"

    def __init__(self, *, label: str = "service", replica_label: str = "replica", series_cap: int = 1000,
                 strict: bool = True) -> None:
        if not _LABEL_NAME.match(label) or not _LABEL_NAME.match(replica_label):
            raise ValueError(f"bad label name {label!r} or {replica_label!r}")
        if series_cap < 1:
            raise ValueError("series_cap must be at least 1")
        self.label, self.replica_label, self.series_cap, self.strict = label, replica_label, series_cap, strict
        self.dropped_total: dict[str, int] = {}
        self.errors_total: dict[str, int] = {}
        # each source's last fragment (Merger._fragment): reused while only its values change
        self._fragments: dict[tuple[str, str | None], _Fragment] = {}

    def _relabel(self, labels: Labels, own: Labels) -> Labels:
        if not labels:
            return own
        taken = {k for k, _ in own}
        if any(k in taken for k, _ in labels):
            labels = tuple(("exported_" + k if k in taken else k, v) for k, v in labels)
        return own + labels

    def merge(self, scrapes: Iterable[Scrape | tuple[str, str | bytes]]) -> Merged:
        merged: dict[str, tuple[Family, list[str]]] = {}
        series: dict[str, int] = {}
        dropped: dict[str, int] = {}
        errors: dict[str, str] = {}
        samples: dict[str, list[Keyed]] = {}
        if len(self._fragments) > FRAGMENTS_MAX:
            self._fragments.clear()
        for scrape in scrapes:
            if not isinstance(scrape, Scrape):
                scrape = Scrape(*scrape)
            name = scrape.source if scrape.replica is None else f"{scrape.source}/{scrape.replica}"
            try:
                text = scrape.text.decode("utf-8", errors="strict") if isinstance(scrape.text, bytes) else scrape.text
                frag, rests, values = self._fragment(scrape, name, text)
                for part in frag.parts:
                    have = merged.get(part.name)
                    if have is not None and have[0].type != part.type:
                        raise MalformedExposition(f"{name}: {part.name} is a {part.type} here, a {have[0].type} "
                                                  f"in an earlier source", source=name)
            except (MalformedExposition, UnicodeError) as exc:
                message = getattr(exc, "message", None) or f"{name}: {exc}"
                if self.strict:
                    raise exc if isinstance(exc, MalformedExposition) else MalformedExposition(message) from None
                errors[name] = message
                self.errors_total[name] = self.errors_total.get(name, 0) + 1
                continue
            mine = samples.setdefault(scrape.source, [])
            for part in frag.parts:
                entry = merged.get(part.name)
                if entry is None:
                    entry = merged[part.name] = (Family(part.name, part.type, part.help), [])
                    series[part.name] = 0
                elif not entry[0].help:
                    entry[0].help = part.help
                series[part.name] += part.series
                if part.dropped:
                    dropped[part.name] = dropped.get(part.name, 0) + part.dropped
                entry[1].extend([head + " " + rests[k] for head, k in zip(part.heads, part.ordinals, strict=True)])
                mine.extend([(part.sample_names[j], key, values[k])
                             for j, (key, k) in enumerate(zip(part.keys, part.ordinals, strict=True))])
        for fam_name, n in dropped.items():
            self.dropped_total[fam_name] = self.dropped_total.get(fam_name, 0) + n
        out: list[str] = []
        for fam, lines in merged.values():
            if fam.help:
                out.append(f"# HELP {fam.name} {fam.help}")
            out.append(f"# TYPE {fam.name} {fam.type}")
            out.extend(lines)
        text = ("\n".join(out) + "\n" if out else "") + self._own()
        return Merged(text, len(merged), sum(series.values()), dropped, errors, samples)

    def _fragment(self, scrape: Scrape, name: str, text: str) -> tuple[_Fragment, list[str], list[float]]:
        """What ``text`` adds to the merge, and each sample line's value text and value.

        The fast path: a source renders the same lines every time but for the values (its
        series come and go rarely), so when every line but the values is as last time, the
        last fragment holds and only the values are read: a split and a float per line instead
        of a parse, a relabel and a sort (bench/monitor_scrape.py)."""
        lines = text.split("\n")
        frag = self._fragments.get((scrape.source, scrape.replica))
        if frag is not None and frag.cacheable and len(lines) == frag.lines:
            parts = [lines[i].rpartition(" ") for i in frag.sample_lines]
            if [p[0] for p in parts] == frag.heads and [lines[i] for i in frag.other_lines] == frag.others:
                rests = [p[2] for p in parts]
                try:
                    return frag, rests, [_fast_value(r) for r in rests]
                except ValueError:
                    pass  # a malformed value: the slow path says where
        frag, rests, values = self._build(scrape, name, text, lines)
        self._fragments[(scrape.source, scrape.replica)] = frag
        return frag, rests, values

    def _build(self, scrape: Scrape, name: str, text: str,
               lines: list[str]) -> tuple[_Fragment, list[str], list[float]]:
        families = parse(text, name)
        own: Labels = ((self.label, scrape.source),)
        if scrape.replica is not None:
            own += ((self.replica_label, scrape.replica),)
        own_names = {k for k, _ in own}
        own_text = render_labels(own)[1:-1]
        sample_lines = [i for i, line in enumerate(lines) if line and not line.isspace() and line[0] != "#"]
        other_lines = [i for i, line in enumerate(lines) if not (line and not line.isspace() and line[0] != "#")]
        rests: list[str] = []
        values: list[float] = []
        heads: list[str] = []
        cacheable = True
        parts: list[_Part] = []
        k = 0
        for fam in families:
            part = _Part(fam.name, fam.type, fam.help)
            parts.append(part)
            skip = _SERIES_LABELS.get(fam.type)
            accepted: set[Labels] = set()
            rejected: set[Labels] = set()
            for s, (raw, rest) in zip(fam.samples, fam.raw, strict=True):
                ordinal, k = k, k + 1
                rests.append(rest)
                values.append(s.value)
                line = lines[sample_lines[ordinal]] if ordinal < len(sample_lines) else ""
                head, _, tail = line.rpartition(" ")
                heads.append(head)
                if tail != rest or not _FAST_VALUE.match(rest):  # a timestamp, or a value the fast path refuses
                    cacheable = False
                key = s.labels if skip is None else tuple(p for p in s.labels if p[0] != skip)
                if key not in accepted:
                    if key in rejected:
                        continue
                    if len(accepted) >= self.series_cap:
                        rejected.add(key)
                        continue
                    accepted.add(key)
                clash = bool(raw) and any(k2 in own_names for k2, _ in s.labels)
                if not raw:
                    part.heads.append(f"{s.name}{{{own_text}}}")
                    labels = own
                elif clash:
                    labels = self._relabel(s.labels, own)
                    part.heads.append(f"{s.name}{render_labels(labels)}")
                else:
                    part.heads.append(f"{s.name}{{{own_text},{raw}}}")
                    labels = own + s.labels
                part.ordinals.append(ordinal)
                part.sample_names.append(s.name)
                part.keys.append(tuple(sorted(((NAME_LABEL, s.name), *labels))))
            part.series, part.dropped = len(accepted), len(rejected)
        if k != len(sample_lines):
            cacheable = False  # lines the parser read differently from this split: never reuse
        frag = _Fragment(len(lines), sample_lines, heads, other_lines, [lines[i] for i in other_lines], parts,
                         cacheable)
        return frag, rests, values

    def _own(self) -> str:
        out = [f"# HELP {self.DROPPED} Series dropped by aria_monitor's label-cardinality cap, per family",
               f"# TYPE {self.DROPPED} counter"]
        out += [f'{self.DROPPED}{{family="{_escape(f)}"}} {n}.0' for f, n in sorted(self.dropped_total.items())]
        out += [f"# HELP {self.ERRORS} Scrapes left out of the merge because they were malformed, per source",
                f"# TYPE {self.ERRORS} counter"]
        out += [f'{self.ERRORS}{{{self.label}="{_escape(s)}"}} {n}.0' for s, n in sorted(self.errors_total.items())]
        return "\n".join(out) + "\n"


def merge(scrapes: Sequence[Scrape | tuple[str, str | bytes]], *, series_cap: int = 1000) -> str:
    """One merge with a fresh merger (strict): the text only."""
    return Merger(series_cap=series_cap).merge(scrapes).text
