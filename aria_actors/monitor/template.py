"""The small, safe subset of Prometheus's Go templates that alert labels and annotations use.

    "{{ $labels.service }} errors at {{ $value | humanizePercentage }}"
        ─► compile (refuses anything else) ─► render(labels, value)

Supported actions: ``$labels.NAME`` (also ``$labels.NAME`` as ``.Labels.NAME``), ``$value`` (also
``.Value``), piped (``|``) or called through ``humanize``, ``humanizePercentage``, ``toUpper``,
``toLower`` and ``printf "FORMAT" ARG``; ``{{-``/``-}}`` trim whitespace as in Go.

Guarantees and caveats:
- Written here because Go's ``text/template`` has no Python twin and Jinja2 would run a much larger
  language: nothing here loops, calls out or reads anything but the alert's labels and value.
- Anything else (``if``, ``range``, ``query``, variables, comments) is refused when the rule file
  is loaded, naming the action, so a bad template never surfaces at evaluation.
- ``$value`` prints as Go's ``%v`` of a float64 (``1e+06``, ``123456``, ``0.5``, ``3``); ``humanize`` and
  ``humanizePercentage`` as Prometheus's (``%.4g`` with SI prefixes); a missing label prints as the
  empty string (Go prints ``<no value>``; Prometheus alerts commonly rely on the empty string
  through ``$labels``, which is what Go gives for a map miss in that position).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

_ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.DOTALL)
_TERM = re.compile(r'\s*(?:(\$labels|\.Labels)\.([a-zA-Z_][a-zA-Z0-9_]*)|(\$value|\.Value)|"((?:[^"\\]|\\.)*)"'
                   r"|([a-zA-Z]+))\s*")
_PRINTF = re.compile(r"%([-+ #0]*)(\d*)(?:\.(\d+))?([vdfegsxq%])")


def go_float(v: float) -> str:
    """A float64 as Go's ``%v`` prints it (shortest digits; an exponent from 1e+06 up or below 1e-04)."""
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    sign, digits, exp = Decimal(repr(v)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    x = len(ds) + int(exp) - 1  # decimal exponent of the first digit
    if x < -4 or x >= 6:  # strconv's 'g' with the shortest precision decides with precision 6
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        out = f"{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    elif x >= len(ds) - 1:
        out = ds + "0" * (x - len(ds) + 1)
    elif x >= 0:
        out = ds[:x + 1] + "." + ds[x + 1:]
    else:
        out = "0." + "0" * (-x - 1) + ds
    return ("-" if sign else "") + out


def humanize(v: float) -> str:
    if v == 0 or not math.isfinite(v):
        return go_float(v)
    if abs(v) >= 1:
        prefixes = ["", "k", "M", "G", "T", "P", "E", "Z", "Y"]
        i = 0
        while abs(v) >= 1000 and i < len(prefixes) - 1:
            v /= 1000
            i += 1
        return _go_g4(v) + prefixes[i]
    prefixes = ["", "m", "u", "n", "p", "f", "a", "z", "y"]
    i = 0
    while abs(v) < 1 and i < len(prefixes) - 1:
        v *= 1000
        i += 1
    return _go_g4(v) + prefixes[i]


def _go_g4(v: float) -> str:
    out = f"{v:.4g}"
    return re.sub(r"e([+-])(\d)$", r"e\g<1>0\2", out)  # Go writes at least two exponent digits


def _printf(fmt: str, args: list[object]) -> str:
    it = iter(args)

    def one(m: re.Match[str]) -> str:
        flags, width, prec, verb = m.groups()
        if verb == "%":
            return "%"
        arg = next(it, None)
        if arg is None:
            return f"%!{verb}(MISSING)"
        if verb in "vs":
            text = go_float(arg) if isinstance(arg, float) else str(arg)
            return f"%{flags}{width}s" % text
        if verb == "q":
            return '"' + str(arg).replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(arg, str):
            try:
                arg = float(arg)
            except ValueError:
                return f"%!{verb}(string={arg})"
        if verb in "dx":
            return f"%{flags}{width}{verb}" % int(arg)  # type: ignore[call-overload]
        spec = f"%{flags}{width}{'.' + prec if prec is not None else ''}{verb}"
        return spec % arg

    return _PRINTF.sub(one, fmt)


FUNCS: dict[str, Callable[[object], str]] = {
    "humanize": lambda v: humanize(_num(v)),
    "humanizePercentage": lambda v: _go_g4(_num(v) * 100) + "%",
    "toUpper": lambda v: _str(v).upper(),
    "toLower": lambda v: _str(v).lower(),
}


def _num(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _str(v: object) -> str:
    return go_float(v) if isinstance(v, float) else str(v)


@dataclass(frozen=True, slots=True)
class _Term:
    kind: str  # label | value | string | func
    arg: str


class TemplateError(ValueError):
    """A template outside the supported subset; the message names the action."""


def _terms(action: str) -> list[list[_Term]]:
    stages: list[list[_Term]] = []
    for part in action.split("|"):
        pos, terms = 0, []
        while pos < len(part):
            m = _TERM.match(part, pos)
            if m is None or m.end() == pos:
                raise TemplateError(f"unsupported template action {{{{{action}}}}}")
            _, label, value, string, word = m.groups()
            if label is not None:
                terms.append(_Term("label", label))
            elif value is not None:
                terms.append(_Term("value", ""))
            elif string is not None:
                terms.append(_Term("string", re.sub(r"\\(.)", r"\1", string)))
            else:
                if word not in FUNCS and word != "printf":
                    raise TemplateError(f"unsupported function {word!r} in {{{{{action}}}}} "
                                        f"(supported: {', '.join(sorted([*FUNCS, 'printf']))})")
                terms.append(_Term("func", word))
            pos = m.end()
        if not terms:
            raise TemplateError(f"empty pipeline stage in {{{{{action}}}}}")
        if len(terms) > 1 and terms[0].kind != "func":
            raise TemplateError(f"only a function takes arguments, in {{{{{action}}}}}")
        if terms[0].kind == "func" and terms[0].arg != "printf" and len(terms) > (2 if not stages else 1):
            raise TemplateError(f"{terms[0].arg} takes one argument, in {{{{{action}}}}}")
        if stages and terms[0].kind != "func":
            raise TemplateError(f"only a function may follow '|', in {{{{{action}}}}}")
        stages.append(terms)
    return stages


class Template:
    """A compiled template; ``Template(text)`` raises :class:`TemplateError` outside the subset."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TemplateError("a template must be a string")
        self.text = text
        self.parts: list[str | list[list[_Term]]] = []
        pos = 0
        for m in _ACTION.finditer(text):
            literal = text[pos:m.start()]
            if m.group(1):
                literal = literal.rstrip()
            if self.parts and isinstance(self.parts[-1], str) and self.parts[-1] == "\0trim":
                self.parts.pop()
                literal = literal.lstrip()
            self.parts.append(literal)
            self.parts.append(_terms(m.group(2).strip()))
            if m.group(3):
                self.parts.append("\0trim")
            pos = m.end()
        if "{{" in text[pos:]:
            raise TemplateError(f"unclosed action in {text[pos:][:60]!r}")
        rest = text[pos:]
        if self.parts and self.parts[-1] == "\0trim":
            self.parts.pop()
            rest = rest.lstrip()
        self.parts.append(rest)

    def render(self, labels: Mapping[str, str], value: float) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            current: object = None
            for i, stage in enumerate(part):
                args = [self._arg(t, labels, value) for t in stage[1:]]
                if i > 0:
                    args.append(current)
                head = stage[0]
                if head.kind != "func":
                    current = self._arg(head, labels, value)
                elif head.arg == "printf":
                    current = _printf(str(args[0]) if args else "", args[1:])
                else:
                    current = FUNCS[head.arg](args[0] if args else "")
            out.append(_str(current) if current is not None else "")
        return "".join(out)

    @staticmethod
    def _arg(t: _Term, labels: Mapping[str, str], value: float) -> object:
        if t.kind == "label":
            return labels.get(t.arg, "")
        if t.kind == "value":
            return float(value)
        return t.arg
