"""A PromQL subset for service alerts and recording rules: parser and evaluator.

    text ─► tokens ─► recursive descent (types checked) ─► AST ─► evaluate(ast, store, t) ─► vector | scalar

Supported: instant selectors with ``=``, ``!=``, ``=~``, ``!~`` matchers and ``offset``; range
selectors (``x[5m]``); ``rate``, ``irate``, ``increase``, ``delta``, ``avg|min|max|sum|count|
last_over_time``, ``absent``, ``absent_over_time``, ``abs``, ``ceil``, ``floor``, ``clamp_min``,
``clamp_max``, ``time``, ``vector``, ``scalar``, ``histogram_quantile`` (classic ``le`` buckets);
``sum|avg|max|min|count`` with ``by``/``without``; arithmetic (``+ - * / % ^``), comparisons
(filtering, or ``bool``) and ``and|or|unless``, between scalars, a vector and a scalar, or two
vectors matched one-to-one (``on``/``ignoring``).

Guarantees and caveats:
- The parser is our own (recursive descent) rather than PyPI's ``promql-parser`` (Rust, full
  grammar): its errors carry no position, and a full grammar would accept expressions this
  evaluator cannot run, which a rule file must refuse when loaded, not at its first evaluation.
  Every :class:`InvalidQuery` names the column; anything outside the subset (subqueries, ``@``,
  ``group_left``, ``topk``, ``predict_linear``…) is refused by name at parse time.
- Semantics follow Prometheus 2.x (the Debian ``promtool`` 2.42 is the oracle in the tests):
  ranges include both ends, instant selection looks back 5 minutes and honours stale markers,
  ``rate``/``increase`` extrapolate and correct counter resets exactly as ``extrapolatedRate``,
  functions and arithmetic drop ``__name__``, filtering comparisons keep it.
- ``histogram_quantile`` is Prometheus's ``bucketQuantile`` (its main branch since 2024: buckets
  coalesced by bound, float noise below 1e-12 relative ignored, then made monotonic; linear
  interpolation inside the bucket, 0 as the lowest bucket's lower bound when that bound is
  positive, the second-highest bound when the rank falls in ``+Inf``; NaN without a ``+Inf``
  bucket, with fewer than two buckets or no observations). Series whose ``le`` is not a float
  are skipped.
- Many-to-many or duplicate matches in vector-vector arithmetic raise :class:`InvalidQuery` at
  evaluation, as Prometheus fails the query.
"""

from __future__ import annotations

import math
import operator
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aria_actors.monitor.errors import InvalidQuery
from aria_actors.monitor.series import NAME, Labels, Point, SeriesStore

LOOKBACK_S = 300.0
Vector = list[tuple[Labels, float]]

_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?\Z")


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus duration (``90s``, ``1h30m``, ``0``); ValueError otherwise."""
    if text == "0":
        return 0.0
    m = _DURATION.match(text)
    if not text or m is None:
        raise ValueError(f"bad duration {text!r} (like 30s, 5m, 1h30m; units ms s m h d w y)")
    return float(sum(int(g) * u for g, u in zip(m.groups(), (31536000, 604800, 86400, 3600, 60, 1, 0.001),
                                                 strict=True) if g))


# -- tokens ------------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<dur>\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*(?![\w.]))
  | (?P<num>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>==|!=|<=|>=|=~|!~|[-+*/%^<>=(){}\[\],@])
""", re.VERBOSE)
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
             "unless"}
AGGREGATIONS = ("sum", "avg", "max", "min", "count")
_UNSUPPORTED_AGG = {"topk", "bottomk", "quantile", "stddev", "stdvar", "count_values", "group", "limitk"}


@dataclass(slots=True)
class _Tok:
    kind: str
    text: str
    pos: int  # 0-based offset


def _tokens(text: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise InvalidQuery(f"col {pos + 1}: unexpected character {text[pos]!r}", column=pos + 1)
        if m.lastgroup != "ws":
            out.append(_Tok(m.lastgroup or "", m.group(), pos))
        pos = m.end()
    out.append(_Tok("eof", "", len(text)))
    return out


# -- AST ---------------------------------------------------------------------------------------
@dataclass(slots=True, frozen=True)
class Matcher:
    name: str
    op: str  # = != =~ !~
    value: str

    def compile(self) -> Callable[[str], bool]:
        if self.op in ("=~", "!~"):
            rx = re.compile(f"(?:{self.value})")  # anchored like Prometheus: fullmatch
            return (lambda v: rx.fullmatch(v) is not None) if self.op == "=~" else (lambda v: rx.fullmatch(v) is None)
        return (lambda v: v == self.value) if self.op == "=" else (lambda v: v != self.value)


@dataclass(slots=True, frozen=True)
class Number:
    value: float
    type = "scalar"


@dataclass(slots=True, frozen=True)
class String:
    value: str
    type = "string"


@dataclass(slots=True, frozen=True)
class Selector:
    name: str | None
    matchers: tuple[Matcher, ...]
    range_s: float | None = None
    offset_s: float = 0.0

    @property
    def type(self) -> str:
        return "vector" if self.range_s is None else "matrix"

    def test(self) -> Callable[[dict[str, str]], bool]:
        checks = [(m.name, m.compile()) for m in self.matchers]
        return lambda labels: all(check(labels.get(name, "")) for name, check in checks)


@dataclass(slots=True, frozen=True)
class Call:
    func: str
    args: tuple[Any, ...]
    type: str


@dataclass(slots=True, frozen=True)
class Aggregate:
    op: str
    expr: Any
    labels: tuple[str, ...] | None  # None: no grouping clause
    without: bool = False
    type = "vector"


@dataclass(slots=True, frozen=True)
class Binary:
    op: str
    lhs: Any
    rhs: Any
    bool_: bool = False
    on: bool = False  # True: match on ``matching``; False: ignoring ``matching``
    matching: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        return "vector" if "vector" in (self.lhs.type, self.rhs.type) else "scalar"


@dataclass(slots=True, frozen=True)
class Negate:
    expr: Any

    @property
    def type(self) -> str:
        return self.expr.type


Expr = Number | String | Selector | Call | Aggregate | Binary | Negate

# name -> (argument types, return type)
FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    **{f: (("matrix",), "vector") for f in ("rate", "irate", "increase", "delta", "avg_over_time",
                                              "min_over_time", "max_over_time", "sum_over_time",
                                              "count_over_time", "last_over_time", "absent_over_time")},
    **{f: (("vector",), "vector") for f in ("abs", "ceil", "floor", "absent")},
    "clamp_min": (("vector", "scalar"), "vector"),
    "clamp_max": (("vector", "scalar"), "vector"),
    "histogram_quantile": (("scalar", "vector"), "vector"),
    "time": ((), "scalar"),
    "vector": (("scalar",), "vector"),
    "scalar": (("vector",), "scalar"),
}
_PRECEDENCE = [("or",), ("and", "unless"), ("==", "!=", "<=", "<", ">=", ">"), ("+", "-"), ("*", "/", "%")]
COMPARISONS = frozenset({"==", "!=", "<=", "<", ">=", ">"})
SET_OPS = frozenset({"and", "or", "unless"})


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def fail(self, message: str, tok: _Tok | None = None) -> InvalidQuery:
        tok = tok or self.peek()
        return InvalidQuery(f"col {tok.pos + 1}: {message}", column=tok.pos + 1, expr=self.text)

    def peek(self, ahead: int = 0) -> _Tok:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def next(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def is_(self, text: str) -> bool:
        tok = self.peek()
        return tok.kind in ("op", "ident") and tok.text == text

    def expect(self, text: str, what: str = "") -> _Tok:
        if not self.is_(text):
            found = self.peek().text or "end of input"
            raise self.fail(f"expected {text!r}{' ' + what if what else ''}, found {found!r}")
        return self.next()

    def parse(self) -> Expr:
        if self.peek().kind == "eof":
            raise self.fail("empty expression")
        expr = self.binary(0)
        if self.peek().kind != "eof":
            raise self.fail(f"unexpected {self.peek().text!r}")
        return expr

    def binary(self, level: int) -> Expr:
        if level == len(_PRECEDENCE):
            return self.power()
        lhs = self.binary(level + 1)
        while self.peek().kind in ("op", "ident") and self.peek().text in _PRECEDENCE[level]:
            tok = self.next()
            bool_, on, matching = self.modifiers(tok)
            rhs = self.binary(level + 1)
            lhs = self.combine(tok, lhs, rhs, bool_, on, matching)
        return lhs

    def power(self) -> Expr:
        lhs = self.unary()
        if self.is_("^"):
            tok = self.next()
            bool_, on, matching = self.modifiers(tok)
            rhs = self.power()  # right-associative
            return self.combine(tok, lhs, rhs, bool_, on, matching)
        return lhs

    def modifiers(self, op: _Tok) -> tuple[bool, bool, tuple[str, ...]]:
        bool_ = False
        if self.is_("bool"):
            if op.text not in COMPARISONS:
                raise self.fail("bool is only allowed after a comparison")
            self.next()
            bool_ = True
        on, matching = False, ()
        if self.is_("on") or self.is_("ignoring"):
            on = self.next().text == "on"
            matching = self.label_list()
        if self.is_("group_left") or self.is_("group_right"):
            raise self.fail(f"{self.peek().text} (many-to-one matching) is not supported by aria_monitor")
        return bool_, on, matching

    def combine(self, tok: _Tok, lhs: Expr, rhs: Expr, bool_: bool, on: bool, matching: tuple[str, ...]) -> Binary:
        for side in (lhs, rhs):
            if side.type not in ("scalar", "vector"):
                raise self.fail(f"operator {tok.text!r} needs scalars or instant vectors, got a {side.type}", tok)
        if tok.text in SET_OPS and (lhs.type != "vector" or rhs.type != "vector"):
            raise self.fail(f"{tok.text!r} is only defined between two instant vectors", tok)
        if tok.text in COMPARISONS and lhs.type == rhs.type == "scalar" and not bool_:
            raise self.fail("comparisons between scalars must use the bool modifier", tok)
        if (matching or on) and not (lhs.type == rhs.type == "vector"):
            raise self.fail("on/ignoring only apply between two instant vectors", tok)
        return Binary(tok.text, lhs, rhs, bool_, on, matching)

    def unary(self) -> Expr:
        if self.is_("-") or self.is_("+"):
            sign = self.next().text
            expr = self.unary()
            if expr.type not in ("scalar", "vector"):
                raise self.fail(f"unary {sign} needs a scalar or an instant vector")
            if sign == "+":
                return expr
            return Number(-expr.value) if isinstance(expr, Number) else Negate(expr)
        return self.postfix(self.primary())

    def postfix(self, expr: Expr) -> Expr:
        if self.is_("["):
            tok = self.next()
            if not isinstance(expr, Selector) or expr.range_s is not None or expr.offset_s:
                raise self.fail("a range [..] only follows a vector selector", tok)
            dur = self.next()
            if dur.kind != "dur":
                raise self.fail(f"expected a duration like 5m, found {dur.text!r}", dur)
            if self.peek().text.startswith(":"):
                raise self.fail("subqueries are not supported by aria_monitor")
            self.expect("]")
            expr = Selector(expr.name, expr.matchers, parse_duration(dur.text))
        if self.is_("offset"):
            tok = self.next()
            if not isinstance(expr, Selector):
                raise self.fail("offset only follows a selector", tok)
            neg = self.is_("-")
            if neg:
                self.next()
            dur = self.next()
            if dur.kind != "dur":
                raise self.fail(f"expected a duration after offset, found {dur.text!r}", dur)
            expr = Selector(expr.name, expr.matchers, expr.range_s, -parse_duration(dur.text) if neg
                            else parse_duration(dur.text))
        if self.is_("@"):
            raise self.fail("the @ modifier is not supported by aria_monitor")
        return expr

    def primary(self) -> Expr:
        tok = self.peek()
        if tok.kind == "num":
            self.next()
            return Number(float(int(tok.text, 16)) if tok.text[:2].lower() == "0x" else float(tok.text))
        if tok.kind == "dur":
            raise self.fail(f"a duration ({tok.text}) is only allowed in [..] or after offset")
        if tok.kind == "str":
            self.next()
            return String(_unquote(tok.text))
        if self.is_("("):
            self.next()
            expr = self.binary(0)
            self.expect(")", "to close the parenthesis")
            return expr
        if self.is_("{"):
            return self.selector(None)
        if tok.kind == "ident":
            name = tok.text
            if name.lower() in ("inf", "nan"):
                self.next()
                return Number(math.inf if name.lower() == "inf" else math.nan)
            if name in AGGREGATIONS:
                return self.aggregate()
            if name in _UNSUPPORTED_AGG:
                raise self.fail(f"aggregation {name!r} is not supported by aria_monitor "
                                f"(supported: {', '.join(AGGREGATIONS)})")
            if name in _KEYWORDS:
                raise self.fail(f"unexpected keyword {name!r}")
            if self.peek(1).text == "(" and self.peek(1).kind == "op":
                return self.call()
            self.next()
            return self.selector(name)
        raise self.fail(f"unexpected {tok.text or 'end of input'!r}")

    def selector(self, name: str | None) -> Selector:
        matchers: list[Matcher] = []
        start = self.peek()
        if self.is_("{"):
            self.next()
            while not self.is_("}"):
                label = self.next()
                if label.kind != "ident":
                    raise self.fail(f"expected a label name, found {label.text or 'end of input'!r}", label)
                op = self.next()
                if op.text not in ("=", "!=", "=~", "!~"):
                    raise self.fail(f"expected one of = != =~ !~ after {label.text}, found {op.text!r}", op)
                value = self.next()
                if value.kind != "str":
                    raise self.fail(f"expected a quoted string, found {value.text or 'end of input'!r}", value)
                text = _unquote(value.text)
                if op.text in ("=~", "!~"):
                    try:
                        re.compile(text)
                    except re.error as exc:
                        raise self.fail(f"bad regular expression {text!r}: {exc}", value) from None
                    risky = _risky_regex(text)
                    if risky:
                        raise self.fail(f"regular expression refused: {risky}", value)
                if label.text == NAME and op.text == "=":
                    if name is not None:
                        raise self.fail("metric name given twice", label)
                    name = text
                else:
                    matchers.append(Matcher(label.text, op.text, text))
                if not self.is_("}"):
                    self.expect(",", "between matchers")
            self.next()
        if name is None and not any(m.compile()("") is False for m in matchers):
            raise self.fail("a selector needs a metric name or a matcher that does not match the empty string",
                            start)
        return Selector(name, tuple(matchers))

    def label_list(self) -> tuple[str, ...]:
        self.expect("(")
        out: list[str] = []
        while not self.is_(")"):
            tok = self.next()
            if tok.kind != "ident":
                raise self.fail(f"expected a label name, found {tok.text or 'end of input'!r}", tok)
            out.append(tok.text)
            if not self.is_(")"):
                self.expect(",", "between label names")
        self.next()
        return tuple(out)

    def aggregate(self) -> Aggregate:
        op = self.next().text
        labels: tuple[str, ...] | None = None
        without = False
        if self.is_("by") or self.is_("without"):
            without = self.next().text == "without"
            labels = self.label_list()
        start = self.expect("(")
        if self.is_(")"):
            raise self.fail(f"{op}() needs an expression")
        expr = self.binary(0)
        if self.is_(","):
            raise self.fail(f"{op}() takes one argument")
        self.expect(")", f"to close {op}(")
        if expr.type != "vector":
            raise self.fail(f"{op}() needs an instant vector, got a {expr.type}", start)
        if labels is None and (self.is_("by") or self.is_("without")):
            without = self.next().text == "without"
            labels = self.label_list()
        return Aggregate(op, expr, labels, without)

    def call(self) -> Call:
        tok = self.next()
        spec = FUNCTIONS.get(tok.text)
        if spec is None:
            raise self.fail(f"function {tok.text!r} is not supported by aria_monitor "
                            f"(supported: {', '.join(sorted(FUNCTIONS))})", tok)
        types, ret = spec
        self.expect("(")
        args: list[Expr] = []
        while not self.is_(")"):
            at = self.peek()
            arg = self.binary(0)
            if len(args) < len(types) and arg.type != types[len(args)]:
                raise self.fail(f"{tok.text}() argument {len(args) + 1} must be of type "
                                f"{TYPE_NAMES[types[len(args)]]}, got {TYPE_NAMES.get(arg.type, arg.type)}", at)
            args.append(arg)
            if not self.is_(")"):
                self.expect(",", "between arguments")
        self.next()
        if len(args) != len(types):
            raise self.fail(f"{tok.text}() takes {len(types)} argument(s), got {len(args)}", tok)
        return Call(tok.text, tuple(args), ret)


TYPE_NAMES = {"vector": "instant vector", "matrix": "range vector", "scalar": "scalar", "string": "string"}


def _unquote(text: str) -> str:
    if text[0] == "`":
        return text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}.get(m.group(1), m.group(1)), text[1:-1])


MAX_REGEX_CHARS = 256
_QUANTIFIER = re.compile(r"[*+]|\{\d*,\d*\}|\{\d{2,}\}")


def _risky_regex(text: str) -> str | None:
    """Why ``text`` may backtrack for ever in Python's ``re`` (Prometheus uses RE2, which cannot):
    too long, or a quantified group that holds a quantifier itself (``(a+)+``, ``(.*x)*``).
    Conservative: it refuses some safe patterns, never lets a nested quantifier through."""
    if len(text) > MAX_REGEX_CHARS:
        return f"longer than {MAX_REGEX_CHARS} characters"
    stack: list[bool] = []  # per open group: does it hold a quantifier
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # a class: skip to its end (a quantifier inside is a literal)
            j = i + 1
            if j < n and text[j] == "^":
                j += 1
            if j < n and text[j] == "]":
                j += 1
            while j < n and text[j] != "]":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            quantified = _QUANTIFIER.match(text, i)
            if quantified and stack:
                stack[-1] = True
            continue
        if c == "(":
            stack.append(False)
        elif c == ")" and stack:
            inner = stack.pop()
            if _QUANTIFIER.match(text, i + 1):
                if inner:
                    return "a repeated group holds a repetition (nested quantifiers)"
                if stack:
                    stack[-1] = True
            elif inner and stack:
                stack[-1] = True
        elif _QUANTIFIER.match(text, i) and stack:
            stack[-1] = True
        i += 1
    return None


def parse(text: str) -> Expr:
    """The AST of ``text``; raises :class:`InvalidQuery` naming the column."""
    if not isinstance(text, str):
        raise InvalidQuery("an expression must be a string")
    try:
        return _Parser(text).parse()
    except RecursionError:
        raise InvalidQuery("the expression is nested too deeply") from None


# -- evaluation --------------------------------------------------------------------------------
_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "^": lambda a, b: _pow(a, b),
    "/": lambda a, b: _div(a, b), "%": lambda a, b: math.fmod(a, b) if b else math.nan,
}
_CMP: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def _div(a: float, b: float) -> float:
    if b == 0:
        return math.nan if a == 0 or a != a else math.copysign(math.inf, a) * math.copysign(1, b)
    return a / b


def _pow(a: float, b: float) -> float:
    try:
        return float(a**b)
    except (OverflowError, ZeroDivisionError):
        return math.inf
    except (ValueError, TypeError):
        return math.nan


def _drop_name(labels: Labels) -> Labels:
    return tuple(p for p in labels if p[0] != NAME)


def _extrapolated(points: list[Point], start: float, end: float, is_counter: bool, is_rate: bool) -> float | None:
    """Prometheus's ``extrapolatedRate``: the change over [start, end] from the points inside it."""
    if len(points) < 2:
        return None
    result = points[-1][1] - points[0][1]
    if is_counter:
        prev = points[0][1]
        for _, v in points[1:]:
            if v < prev:
                result += prev
            prev = v
    sampled = points[-1][0] - points[0][0]
    to_start, to_end = points[0][0] - start, end - points[-1][0]
    average = sampled / (len(points) - 1)
    if is_counter and result > 0 and points[0][1] >= 0:
        to_zero = sampled * (points[0][1] / result)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    interval = sampled + (to_start if to_start < threshold else average / 2)
    interval += to_end if to_end < threshold else average / 2
    factor = interval / sampled  # in this order, so results match Prometheus to the last bit
    if is_rate:
        factor /= end - start
    return result * factor


def _over_time(func: str, points: list[Point]) -> float | None:
    values = [v for _, v in points]
    if func == "irate":
        if len(points) < 2:
            return None
        (t0, v0), (t1, v1) = points[-2], points[-1]
        return (v1 if v1 < v0 else v1 - v0) / (t1 - t0)
    if func == "avg_over_time":
        return sum(values) / len(values)
    if func == "min_over_time":
        return min(values)
    if func == "max_over_time":
        return max(values)
    if func == "sum_over_time":
        return sum(values)
    if func == "count_over_time":
        return float(len(values))
    return values[-1]  # last_over_time


_KIND = {"avg_over_time": "avg", "min_over_time": "min", "max_over_time": "max"}
BUCKET_LABEL = "le"
SMALL_DELTA = 1e-12  # Prometheus's smallDeltaTolerance in bucketQuantile
_MIN_NORMAL = sys.float_info.min  # the smallest positive normal float64


def almost_equal(a: float, b: float, epsilon: float) -> bool:
    """Prometheus's ``almost.Equal``: ``a`` and ``b`` differ by less than ``epsilon`` relative to their sum."""
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum, diff = abs(a) + abs(b), abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < epsilon * _MIN_NORMAL
    return diff / min(abs_sum, sys.float_info.max) < epsilon


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """The ``q`` quantile of classic histogram buckets ``(upper bound, cumulative count)``, as
    Prometheus's ``bucketQuantile`` computes it (the module docstring lists the edge cases)."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets, key=lambda b: b[0])
    if not ordered or ordered[-1][0] != math.inf:
        return math.nan
    bounds: list[float] = []
    counts: list[float] = []
    for bound, count in ordered:  # coalesce buckets with the same bound
        if bounds and bounds[-1] == bound:
            counts[-1] += count
        else:
            bounds.append(bound)
            counts.append(count)
    prev = counts[0]
    for i in range(1, len(counts)):  # ignore float noise either way, then remove any decrease
        curr = counts[i]
        if curr == prev:
            continue
        if almost_equal(prev, curr, SMALL_DELTA) or curr < prev:
            counts[i] = prev  # prev stays: the envelope is measured from the last accepted count
            continue
        prev = curr
    if len(counts) < 2:
        return math.nan
    observations = counts[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    lo, hi = 0, len(counts) - 1  # Go's sort.Search over every bucket but +Inf
    while lo < hi:
        mid = (lo + hi) >> 1
        if not counts[mid] >= rank:
            lo = mid + 1
        else:
            hi = mid
    if lo == len(counts) - 1:
        return bounds[-2]
    if lo == 0 and bounds[0] <= 0:
        return bounds[0]
    start, count = 0.0, counts[lo]
    if lo > 0:
        start = bounds[lo - 1]
        count -= counts[lo - 1]
        rank -= counts[lo - 1]
    return start + (bounds[lo] - start) * _div(rank, count)  # IEEE: 0/0 is NaN, as in Go


def parse_bound(text: str | None) -> float | None:
    """An ``le`` label's bound as Go's ``strconv.ParseFloat`` reads it; None when it is not one."""
    if not text or text != text.strip() or "_" in text:
        return None
    try:
        if text.lstrip("+-")[:2].lower() == "0x":
            return float.fromhex(text)
        return float(text)
    except ValueError:
        return None


class Evaluator:
    """Evaluates parsed expressions over a :class:`SeriesStore` at a time ``t`` (seconds)."""

    def __init__(self, store: SeriesStore, lookback_s: float = LOOKBACK_S, max_samples: int | None = None) -> None:
        self.store, self.lookback_s = store, lookback_s
        # Samples this evaluator may still read (None: no limit, for configured rules); a query
        # from a request gets a budget, so one request cannot hold the loop for minutes.
        self.samples_left = max_samples

    def _spend(self, n: int) -> None:
        if self.samples_left is not None:
            self.samples_left -= n
            if self.samples_left < 0:
                raise InvalidQuery("the query reads too many samples: narrow its selectors, range or steps")

    def __call__(self, expr: Expr | str, t: float) -> Vector | float:
        try:
            return self.eval(parse(expr) if isinstance(expr, str) else expr, t)
        except RecursionError:
            raise InvalidQuery("the expression is nested too deeply") from None

    def eval(self, e: Expr, t: float) -> Any:
        if isinstance(e, Number):
            return e.value
        if isinstance(e, String):
            return e.value
        if isinstance(e, Selector):
            if e.range_s is not None:
                raise InvalidQuery("a range vector cannot be the result of an expression")
            found = self.store.instant(e.name, e.test(), t - e.offset_s, self.lookback_s)
            self._spend(len(found))
            return found
        if isinstance(e, Negate):
            v = self.eval(e.expr, t)
            return -v if isinstance(v, float) else [(_drop_name(k), -x) for k, x in v]
        if isinstance(e, Call):
            return self.call(e, t)
        if isinstance(e, Aggregate):
            return self.aggregate(e, t)
        return self.binary(e, t)

    def matrix(self, sel: Selector, t: float, kind: str) -> list[tuple[Labels, list[Point]]]:
        end = t - sel.offset_s
        found = self.store.range(sel.name, sel.test(), end - (sel.range_s or 0.0), end, kind)
        self._spend(sum(len(points) for _, points in found))
        return found

    def call(self, e: Call, t: float) -> Any:
        f = e.func
        if f == "time":
            return float(t)
        if f == "vector":
            return [((), self.eval(e.args[0], t))]
        if f == "scalar":
            v = self.eval(e.args[0], t)
            return v[0][1] if len(v) == 1 else math.nan
        if f in ("absent", "absent_over_time"):
            arg = e.args[0]
            present = self.matrix(arg, t, "last") if f == "absent_over_time" else self.eval(arg, t)
            if present:
                return []
            labels = tuple(sorted((m.name, m.value) for m in arg.matchers if m.op == "=")) \
                if isinstance(arg, Selector) else ()
            return [(labels, 1.0)]
        if f in ("abs", "ceil", "floor"):
            fn = {"abs": abs, "ceil": math.ceil, "floor": math.floor}[f]
            return [(_drop_name(k), float(fn(v)) if math.isfinite(v) else v) for k, v in self.eval(e.args[0], t)]
        if f == "histogram_quantile":
            return self.histogram_quantile(self.eval(e.args[0], t), self.eval(e.args[1], t))
        if f in ("clamp_min", "clamp_max"):
            bound = self.eval(e.args[1], t)
            pick = max if f == "clamp_min" else min
            return [(_drop_name(k), pick(v, bound)) for k, v in self.eval(e.args[0], t)]
        sel: Selector = e.args[0]
        out: Vector = []
        counter = f in ("rate", "increase", "irate")
        for labels, points in self.matrix(sel, t, "last" if f in ("rate", "increase", "delta", "irate")
                                          else _KIND.get(f, "avg")):
            end = t - sel.offset_s
            if f in ("rate", "increase", "delta"):
                value = _extrapolated(points, end - (sel.range_s or 0.0), end, counter, f == "rate")
            else:
                value = _over_time(f, points)
            if value is not None:
                out.append((labels if f == "last_over_time" else _drop_name(labels), value))
        return out

    @staticmethod
    def histogram_quantile(q: float, vector: Vector) -> Vector:
        """One quantile per group of buckets that differ only in ``le`` (``__name__`` dropped)."""
        groups: dict[Labels, list[tuple[float, float]]] = {}
        for labels, v in vector:
            bound = parse_bound(dict(labels).get(BUCKET_LABEL))
            if bound is None:
                continue
            key = tuple(p for p in labels if p[0] not in (NAME, BUCKET_LABEL))
            groups.setdefault(key, []).append((bound, v))
        return [(k, bucket_quantile(q, b)) for k, b in groups.items()]

    def aggregate(self, e: Aggregate, t: float) -> Vector:
        groups: dict[Labels, list[float]] = {}
        wanted = set(e.labels or ())
        for labels, v in self.eval(e.expr, t):
            if e.labels is None:
                key: Labels = ()
            elif e.without:
                key = tuple(p for p in labels if p[0] not in wanted and p[0] != NAME)
            else:
                key = tuple(p for p in labels if p[0] in wanted)
            groups.setdefault(key, []).append(v)
        fn: Callable[[list[float]], float] = {
            "sum": lambda xs: float(sum(xs)), "avg": lambda xs: sum(xs) / len(xs), "count": lambda xs: float(len(xs)),
            "max": lambda xs: _nan_max(xs, max), "min": lambda xs: _nan_max(xs, min),
        }[e.op]
        return [(k, fn(vs)) for k, vs in groups.items()]

    def binary(self, e: Binary, t: float) -> Any:
        lhs, rhs = self.eval(e.lhs, t), self.eval(e.rhs, t)
        op = e.op
        cmp = op in COMPARISONS
        if isinstance(lhs, float) and isinstance(rhs, float):
            return float(_CMP[op](lhs, rhs)) if cmp else _ARITH[op](lhs, rhs)
        if isinstance(lhs, float) or isinstance(rhs, float):
            out: Vector = []
            vec_left = not isinstance(lhs, float)
            vec, scalar = (lhs, rhs) if vec_left else (rhs, lhs)
            for labels, v in vec:
                a, b = (v, scalar) if vec_left else (scalar, v)
                if cmp:
                    ok = _CMP[op](a, b)
                    if e.bool_:
                        out.append((_drop_name(labels), float(ok)))
                    elif ok:
                        out.append((labels, v))
                else:
                    out.append((_drop_name(labels), _ARITH[op](a, b)))
            return out
        return self.vector_binary(e, lhs, rhs)

    def signature(self, e: Binary, labels: Labels) -> Labels:
        if e.on:
            return tuple(p for p in labels if p[0] in e.matching)
        return tuple(p for p in labels if p[0] != NAME and p[0] not in e.matching)

    def vector_binary(self, e: Binary, lhs: Vector, rhs: Vector) -> Vector:
        if e.op in SET_OPS:
            right = {self.signature(e, k) for k, _ in rhs}
            if e.op == "and":
                return [(k, v) for k, v in lhs if self.signature(e, k) in right]
            if e.op == "unless":
                return [(k, v) for k, v in lhs if self.signature(e, k) not in right]
            left = {self.signature(e, k) for k, _ in lhs}
            return lhs + [(k, v) for k, v in rhs if self.signature(e, k) not in left]
        by_sig: dict[Labels, float] = {}
        for k, v in rhs:
            sig = self.signature(e, k)
            if sig in by_sig:
                raise InvalidQuery(f"found duplicate series for the match group {dict(sig)} on the right-hand side "
                                   f"of {e.op!r}: many-to-many matching is not allowed")
            by_sig[sig] = v
        out: Vector = []
        seen: set[Labels] = set()
        cmp = e.op in COMPARISONS
        for k, v in lhs:
            sig = self.signature(e, k)
            if sig not in by_sig:
                continue
            if sig in seen:
                raise InvalidQuery(f"found duplicate series for the match group {dict(sig)} on the left-hand side "
                                   f"of {e.op!r}: many-to-many matching is not allowed")
            seen.add(sig)
            r = by_sig[sig]
            labels = k if cmp and not e.bool_ else _drop_name(k)
            if e.on:
                labels = tuple(p for p in labels if p[0] in e.matching)
            elif e.matching:
                labels = tuple(p for p in labels if p[0] not in e.matching)
            if cmp:
                ok = _CMP[e.op](v, r)
                if e.bool_:
                    out.append((labels, float(ok)))
                elif ok:
                    out.append((labels, v))
            else:
                out.append((labels, _ARITH[e.op](v, r)))
        return out


def _nan_max(xs: list[float], pick: Callable[..., float]) -> float:
    real = [x for x in xs if x == x]
    return pick(real) if real else math.nan
