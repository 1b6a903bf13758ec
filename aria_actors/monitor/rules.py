"""Alerting and recording rules in Prometheus's rule-file format: load, validate, evaluate.

    rule file (YAML) ─► load_rules ─► [RuleGroup] ─► GroupEvaluator.evaluate(t)
                                                       ├─ recording: result ─► store (as a new series)
                                                       └─ alerting:  result ─► Alert state machine ─► ALERTS series

Alert states, exactly as Prometheus::

    inactive ──expr returns the series──► pending ──held `for`──► firing
        ▲                                  │ series gone             │ series gone (after keep_firing_for)
        └──────────── deleted ◄────────────┘                         ▼
                                                          inactive, resolved_at set (kept 15 min)

Guarantees and caveats:
- Validation refuses unknown fields, missing ``expr``, ``record`` with ``for``/``annotations``,
  bad durations, bad metric and label names, duplicate group names and templates outside
  :mod:`aria_actors.monitor.template`; expressions are parsed by :mod:`aria_actors.monitor.promql`.
  Every :class:`InvalidRule` names the file, the line and the field path
  (``groups[0].rules[2].for``), and for an expression the column inside it.
- ``for: 0`` fires on the first evaluation that returns the series (no pending state); a pending
  alert whose series disappears is dropped; a firing one is resolved and kept 15 minutes
  (``RESOLVED_RETENTION_S``) so notifiers can send the resolution; ``keep_firing_for`` holds a
  firing alert that long after its series last appeared.
- Alert labels are the result's labels without ``__name__``, then the rule's labels (templated),
  then ``alertname``; two results with the same final labels fail that rule's evaluation (as in
  Prometheus), recorded in :attr:`RuleState.error`, and leave its alerts as they were.
- Recording rules write at the evaluation time into the same store, so later rules of the group
  see them, as in Prometheus. Active alerts are written as ``ALERTS{alertname, alertstate, …} 1``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aria_actors.monitor import promql
from aria_actors.monitor.errors import InvalidQuery, InvalidRule
from aria_actors.monitor.series import NAME, Labels, SeriesStore
from aria_actors.monitor.template import Template, TemplateError

RESOLVED_RETENTION_S = 900.0
DEFAULT_INTERVAL_S = 60.0
GROUP_FIELDS = frozenset({"name", "interval", "limit", "rules", "query_offset"})
RULE_FIELDS = frozenset({"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"})
_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


# -- loading -----------------------------------------------------------------------------------
class _Map(dict[str, Any]):
    lines: dict[str, int]
    line: int


class _Seq(list[Any]):
    lines: list[int]
    line: int


def _plain(node: yaml.Node, where: str) -> Any:
    """YAML nodes to Python values that remember their lines; duplicate keys refused."""
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = _Map()
        out.line, out.lines = line, {}
        for k, v in node.value:
            key = _plain(k, where)
            if not isinstance(key, str):
                raise InvalidRule(f"{where}:{k.start_mark.line + 1}: keys must be strings, got {key!r}")
            if key in out:
                raise InvalidRule(f"{where}:{k.start_mark.line + 1}: field {key!r} given twice")
            out[key] = _plain(v, where)
            out.lines[key] = k.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = _Seq(_plain(v, where) for v in node.value)
        seq.line, seq.lines = line, [v.start_mark.line + 1 for v in node.value]
        return seq
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


@dataclass(frozen=True, slots=True)
class RecordingRule:
    record: str
    expr: str
    ast: Any
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.record


@dataclass(frozen=True, slots=True)
class AlertingRule:
    alert: str
    expr: str
    ast: Any
    for_s: float = 0.0
    keep_firing_for_s: float = 0.0
    labels: dict[str, Template] = field(default_factory=dict)
    annotations: dict[str, Template] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.alert


Rule = RecordingRule | AlertingRule


@dataclass(frozen=True, slots=True)
class RuleGroup:
    name: str
    interval_s: float
    rules: tuple[Rule, ...]
    limit: int = 0


class _Checker:
    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, line: int, path: str, message: str) -> InvalidRule:
        return InvalidRule(f"{self.filename}:{line}: {path}: {message}", file=self.filename, line=line, field=path)

    def mapping(self, value: Any, line: int, path: str, allowed: frozenset[str]) -> _Map:
        if not isinstance(value, _Map):
            raise self.fail(line, path, f"must be a mapping, got {type(value).__name__}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(value.lines[unknown[0]], f"{path}.{unknown[0]}",
                            f"unknown field (allowed: {', '.join(sorted(allowed))})")
        return value

    def duration(self, m: _Map, key: str, path: str) -> float | None:
        if key not in m:
            return None
        value = m[key]
        try:
            return promql.parse_duration(str(value)) if isinstance(value, str | int) else promql.parse_duration("")
        except ValueError as exc:
            raise self.fail(m.lines[key], f"{path}.{key}", str(exc)) from None

    def string_map(self, m: _Map, key: str, path: str, templated: bool) -> dict[str, Any]:
        if key not in m or m[key] is None:
            return {}
        value = m[key]
        if not isinstance(value, _Map):
            raise self.fail(m.lines[key], f"{path}.{key}", f"must be a mapping, got {type(value).__name__}")
        out: dict[str, Any] = {}
        for k, v in value.items():
            where = f"{path}.{key}.{k}"
            if not _LABEL.match(k) or (key == "labels" and k.startswith("__")):
                raise self.fail(value.lines[k], where, f"bad label name {k!r}")
            if not isinstance(v, str | int | float | bool):
                raise self.fail(value.lines[k], where, "must be a string")
            text = str(v).lower() if isinstance(v, bool) else str(v)
            if templated:
                try:
                    out[k] = Template(text)
                except TemplateError as exc:
                    raise self.fail(value.lines[k], where, str(exc)) from None
            else:
                if "{{" in text:
                    raise self.fail(value.lines[k], where, "recording rule labels are not templated")
                out[k] = text
        return out

    def rule(self, m: _Map, line: int, path: str) -> Rule:
        m = self.mapping(m, line, path, RULE_FIELDS)
        kinds = [k for k in ("record", "alert") if k in m]
        if len(kinds) != 1:
            raise self.fail(m.line, path, "a rule has exactly one of 'record' or 'alert'")
        kind = kinds[0]
        name = m[kind]
        if not isinstance(name, str) or not name:
            raise self.fail(m.lines[kind], f"{path}.{kind}", "must be a non-empty string")
        if kind == "record" and not _METRIC.match(name):
            raise self.fail(m.lines[kind], f"{path}.record", f"{name!r} is not a valid metric name")
        if "expr" not in m:
            raise self.fail(m.line, path, "missing 'expr'")
        expr = m["expr"]
        if isinstance(expr, int | float) and not isinstance(expr, bool):
            expr = str(expr)
        if not isinstance(expr, str) or not expr.strip():
            raise self.fail(m.lines["expr"], f"{path}.expr", "must be a non-empty PromQL expression")
        try:
            ast = promql.parse(expr)
        except InvalidQuery as exc:
            raise self.fail(m.lines["expr"], f"{path}.expr", exc.message) from None
        if ast.type not in ("vector", "scalar"):
            raise self.fail(m.lines["expr"], f"{path}.expr", "a rule's expression must return an instant vector "
                                                               f"or a scalar, not a {promql.TYPE_NAMES[ast.type]}")
        if kind == "record":
            for bad in ("for", "keep_firing_for", "annotations"):
                if bad in m:
                    raise self.fail(m.lines[bad], f"{path}.{bad}", "only alerting rules have this field")
            return RecordingRule(name, expr, ast, self.string_map(m, "labels", path, templated=False))
        return AlertingRule(name, expr, ast, self.duration(m, "for", path) or 0.0,
                            self.duration(m, "keep_firing_for", path) or 0.0,
                            self.string_map(m, "labels", path, templated=True),
                            self.string_map(m, "annotations", path, templated=True))

    def groups(self, doc: Any) -> list[RuleGroup]:
        if doc is None:
            return []
        top = self.mapping(doc, 1, "(top)", frozenset({"groups"}))
        groups = top.get("groups")
        if groups is None:
            return []
        if not isinstance(groups, _Seq):
            raise self.fail(top.lines["groups"], "groups", "must be a list")
        out: list[RuleGroup] = []
        names: set[str] = set()
        for i, g in enumerate(groups):
            path = f"groups[{i}]"
            g = self.mapping(g, groups.lines[i], path, GROUP_FIELDS)
            name = g.get("name")
            if not isinstance(name, str) or not name:
                raise self.fail(g.line, f"{path}.name", "a group needs a non-empty name")
            if name in names:
                raise self.fail(g.lines["name"], f"{path}.name", f"group name {name!r} is used twice")
            names.add(name)
            interval = self.duration(g, "interval", path)
            if interval is not None and interval <= 0:
                raise self.fail(g.lines["interval"], f"{path}.interval", "must be positive")
            limit = g.get("limit", 0)
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
                raise self.fail(g.lines.get("limit", g.line), f"{path}.limit", "must be a non-negative integer")
            rules = g.get("rules") or _Seq()
            if not isinstance(rules, _Seq):
                raise self.fail(g.lines["rules"], f"{path}.rules", "must be a list")
            out.append(RuleGroup(name, interval or DEFAULT_INTERVAL_S,
                                 tuple(self.rule(r, rules.lines[j], f"{path}.rules[{j}]") for j, r in enumerate(rules)),
                                 limit))
        return out


def load_rules(text: str, filename: str = "rules.yml") -> list[RuleGroup]:
    """The groups of one rule file's text; raises :class:`InvalidRule` naming file, line and field."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise InvalidRule(f"{filename}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}",
                          file=filename, line=line) from None
    return _Checker(filename).groups(_plain(node, filename) if node is not None else None)


def load_rule_file(path: str | Path) -> list[RuleGroup]:
    p = Path(path)
    return load_rules(p.read_text(encoding="utf-8"), str(p))


# -- evaluation --------------------------------------------------------------------------------
@dataclass(slots=True)
class Alert:
    labels: Labels  # sorted, alertname included
    annotations: dict[str, str]
    state: str  # pending | firing | inactive
    active_at: float
    value: float
    last_seen: float
    fired_at: float | None = None
    resolved_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"labels": dict(self.labels), "annotations": dict(self.annotations), "state": self.state,
                "active_at": self.active_at, "fired_at": self.fired_at, "resolved_at": self.resolved_at,
                "value": self.value}


@dataclass(slots=True)
class RuleState:
    rule: Rule
    alerts: dict[Labels, Alert] = field(default_factory=dict)
    error: str | None = None
    last_eval: float | None = None
    samples: int = 0


def _vector(result: Any) -> list[tuple[Labels, float]]:
    return [((), float(result))] if isinstance(result, float) else result


class GroupEvaluator:
    """Evaluates one group's rules in order at the times it is given (the caller schedules)."""

    def __init__(self, group: RuleGroup, store: SeriesStore) -> None:
        self.group, self.store = group, store
        self.evaluator = promql.Evaluator(store)
        self.states = [RuleState(r) for r in group.rules]

    def evaluate(self, t: float) -> list[Alert]:
        """Run every rule at ``t``; returns the pending and firing alerts after it."""
        for st in self.states:
            st.last_eval = t
            try:
                result = _vector(self.evaluator.eval(st.rule.ast, t))
                if self.group.limit and len(result) > self.group.limit:
                    raise InvalidQuery(f"{len(result)} series exceed the group's limit of {self.group.limit}")
                if isinstance(st.rule, RecordingRule):
                    self._record(st.rule, result, t)
                else:
                    self._alert(st, result, t)
                st.error, st.samples = None, len(result)
            except InvalidQuery as exc:
                st.error = exc.message
        return self.active()

    def active(self) -> list[Alert]:
        return [a for st in self.states for a in st.alerts.values() if a.state != "inactive"]

    def _record(self, rule: RecordingRule, result: list[tuple[Labels, float]], t: float) -> None:
        rows = []
        for labels, v in result:
            out = {k: x for k, x in labels if k != NAME}
            out.update(rule.labels)
            out[NAME] = rule.record
            rows.append((out, v))
        if len({tuple(sorted(r.items())) for r, _ in rows}) != len(rows):
            raise InvalidQuery("vector contains metrics with the same labelset after applying rule labels")
        self.store.ingest(rows, t, source=f"record:{self.group.name}/{rule.record}")

    def _alert(self, st: RuleState, result: list[tuple[Labels, float]], t: float) -> None:
        rule: AlertingRule = st.rule  # type: ignore[assignment]
        fresh: dict[Labels, tuple[dict[str, str], float]] = {}
        for labels, v in result:
            base = {k: x for k, x in labels if k != NAME}
            out = dict(base)
            for k, tmpl in rule.labels.items():
                out[k] = tmpl.render(base, v)
            out = {k: x for k, x in out.items() if x != ""}  # an empty label is no label
            out["alertname"] = rule.alert
            key = tuple(sorted(out.items()))
            if key in fresh:
                raise InvalidQuery("vector contains metrics with the same labelset after applying alert labels")
            annotations = {k: tmpl.render(base, v) for k, tmpl in rule.annotations.items()}
            fresh[key] = (annotations, v)
        for key, (annotations, v) in fresh.items():
            alert = st.alerts.get(key)
            if alert is not None and alert.state != "inactive":
                alert.value, alert.annotations, alert.last_seen = v, annotations, t
                continue
            st.alerts[key] = Alert(key, annotations, "pending", t, v, t)
        for key, alert in list(st.alerts.items()):
            if key not in fresh:
                if alert.state == "pending" or (alert.resolved_at is not None
                                                and t - alert.resolved_at > RESOLVED_RETENTION_S):
                    del st.alerts[key]
                    continue
                if alert.state == "firing":
                    if rule.keep_firing_for_s and t - alert.last_seen < rule.keep_firing_for_s:
                        continue
                    alert.state, alert.resolved_at = "inactive", t
                continue
            if alert.state == "pending" and t - alert.active_at >= rule.for_s:
                alert.state, alert.fired_at = "firing", t
        rows = [({**dict(a.labels), NAME: "ALERTS", "alertstate": a.state}, 1.0)
                for a in st.alerts.values() if a.state != "inactive"]
        self.store.ingest(rows, t, source=f"alert:{self.group.name}/{rule.alert}")


def evaluate_groups(groups: Iterable[RuleGroup], store: SeriesStore, times: Iterable[float]) -> list[GroupEvaluator]:
    """Evaluate ``groups`` at each of ``times`` (all groups at each time, in order); for tests and replays."""
    evaluators = [GroupEvaluator(g, store) for g in groups]
    for t in times:
        for ev in evaluators:
            ev.evaluate(t)
    return evaluators


def alerts_by_name(evaluators: Iterable[GroupEvaluator]) -> Mapping[str, list[Alert]]:
    out: dict[str, list[Alert]] = {}
    for ev in evaluators:
        for a in ev.active():
            out.setdefault(dict(a.labels)["alertname"], []).append(a)
    return out

