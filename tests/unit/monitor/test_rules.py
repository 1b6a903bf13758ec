"""Rule files: validation errors, the alert lifecycle under a fake clock, recording, templates."""

from __future__ import annotations

import pytest

from aria_actors.monitor.errors import InvalidRule
from aria_actors.monitor.rules import RESOLVED_RETENTION_S, GroupEvaluator, RecordingRule, load_rules
from aria_actors.monitor.series import SeriesStore
from aria_actors.monitor.template import Template, TemplateError, go_float, humanize

RULES = """
groups:
  - name: svc
    interval: 30s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: ServiceDown
        expr: up == 0
        for: 2m
        labels:
          severity: critical
          owner: "team-{{ $labels.job }}"
        annotations:
          summary: "{{ $labels.job }} on {{ $labels.instance }} is down (value {{ $value }})"
"""


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def tick(self, seconds: float) -> float:
        self.t += seconds
        return self.t


def _scrape(store: SeriesStore, t: float, up: float) -> None:
    store.ingest([({"__name__": "up", "job": "aria_queue", "instance": "n1"}, up)], t, source="scrape")


def test_alert_lifecycle_for_two_minutes_pending_firing_resolved() -> None:
    (group,) = load_rules(RULES)
    store, clock = SeriesStore(), Clock()
    ev = GroupEvaluator(group, store)
    states: list[tuple[float, str]] = []
    values = [1, 1, 0, 0, 0, 0, 0, 0, 1, 1]  # down from t=60 to t=210 (30 s steps from t=0)
    for i, up in enumerate(values):
        t = clock.t if i == 0 else clock.tick(30)
        _scrape(store, t, up)
        active = ev.evaluate(t)
        states.append((t, active[0].state if active else "inactive"))
    assert states == [(0, "inactive"), (30, "inactive"), (60, "pending"), (90, "pending"), (120, "pending"),
                      (150, "pending"), (180, "firing"), (210, "firing"), (240, "inactive"), (270, "inactive")]
    (alert,) = ev.states[1].alerts.values()
    assert (alert.active_at, alert.fired_at, alert.resolved_at) == (60, 180, 240)
    assert dict(alert.labels) == {"alertname": "ServiceDown", "job": "aria_queue", "instance": "n1",
                                  "severity": "critical", "owner": "team-aria_queue"}
    assert alert.annotations == {"summary": "aria_queue on n1 is down (value 0)"}
    # ALERTS was written while active, and went stale at the resolution.
    assert [v for _, v in ev.evaluator('ALERTS{alertstate="firing"}', 210)] == [1.0]  # type: ignore[misc]
    assert ev.evaluator("ALERTS", 240) == []
    # The recording rule ran first at every step.
    assert [v for _, v in ev.evaluator("job:up:sum", 90)] == [0.0]  # type: ignore[misc]
    ev.evaluate(240 + RESOLVED_RETENTION_S + 1)
    assert ev.states[1].alerts == {}  # resolved alerts are kept 15 minutes, then forgotten


def test_pending_alert_that_recovers_is_dropped_and_restarts_its_clock() -> None:
    (group,) = load_rules(RULES)
    store = SeriesStore()
    ev = GroupEvaluator(group, store)
    for t, up in ((0, 0), (60, 1), (90, 0), (150, 0), (210, 0)):
        _scrape(store, t, up)
        ev.evaluate(t)
        if t == 60:
            assert ev.active() == []
    (alert,) = ev.active()
    assert alert.active_at == 90 and alert.state == "firing"  # 210 - 90 = 120 s held


def test_for_zero_fires_at_once_and_keep_firing_for_holds() -> None:
    (group,) = load_rules("""
groups:
  - name: g
    rules:
      - alert: Now
        expr: up == 0
        keep_firing_for: 1m
""")
    store = SeriesStore()
    ev = GroupEvaluator(group, store)
    _scrape(store, 0, 0)
    assert [a.state for a in ev.evaluate(0)] == ["firing"]
    _scrape(store, 30, 1)
    assert [a.state for a in ev.evaluate(30)] == ["firing"]  # held: last seen 30 s ago
    _scrape(store, 60, 1)
    assert ev.evaluate(60) == []


def test_defaults_and_recording_rule_shape() -> None:
    (group,) = load_rules("groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: vector(1)\n")
    assert group.interval_s == 60 and isinstance(group.rules[0], RecordingRule)
    store = SeriesStore()
    GroupEvaluator(group, store).evaluate(10)
    assert store.instant("a:b", None, 10) == [((("__name__", "a:b"),), 1.0)]


@pytest.mark.parametrize(("text", "where", "why"), [
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        fo: 1m\n",
     "rules.yml:6: groups[0].rules[0].fo", "unknown field"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5\n",
     "rules.yml:6: groups[0].rules[0].for", "bad duration"),
    ("groups:\n  - name: g\n    interval: 1x\n    rules: []\n", "rules.yml:3: groups[0].interval", "bad duration"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum(rate(x[5m])\n",
     "rules.yml:5: groups[0].rules[0].expr", "col 16: expected ')'"),
    ("groups:\n  - name: g\n    rules:\n      - record: a-b\n        expr: up\n",
     "rules.yml:4: groups[0].rules[0].record", "not a valid metric name"),
    ("groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        for: 1m\n",
     "rules.yml:6: groups[0].rules[0].for", "only alerting rules"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        record: b\n        expr: up\n",
     "rules.yml:4: groups[0].rules[0]", "exactly one of"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n", "rules.yml:4: groups[0].rules[0]", "missing 'expr'"),
    ("groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n", "rules.yml:4: groups[1].name", "used twice"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n"
     "          s: '{{ if .x }}'\n", "rules.yml:7: groups[0].rules[0].annotations.s", "unsupported function 'if'"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up[5m]\n",
     "rules.yml:5: groups[0].rules[0].expr", "range"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        expr: x\n",
     "rules.yml:6", "given twice"),
    ("groups: [\n", "rules.yml:2", "not valid YAML"),
    ("grups: []\n", "rules.yml:1: (top).grups", "unknown field"),
])
def test_rule_file_validation_errors_name_file_line_and_field(text: str, where: str, why: str) -> None:
    with pytest.raises(InvalidRule) as err:
        load_rules(text)
    assert err.value.message.startswith(where), err.value.message
    assert why in err.value.message


def test_templates_render_the_safe_subset() -> None:
    t = Template("{{ $labels.route }}: {{ $value | humanizePercentage }}, {{ printf \"%.2f\" $value }}, "
                 "{{- .Labels.x | toUpper -}} !")
    assert t.render({"route": "/v1/x", "x": "ab"}, 0.0909090909) == "/v1/x: 9.091%, 0.09,AB!"
    assert Template("{{ $labels.missing }}|{{ $value }}").render({}, 1e6) == "|1e+06"
    assert [go_float(v) for v in (123456.0, 0.5, 3.0, 1e-5, -2.25)] == ["123456", "0.5", "3", "1e-05", "-2.25"]
    assert humanize(1234567.0) == "1.235M" and humanize(0.0012) == "1.2m"
    for bad in ("{{ query \"up\" }}", "{{ $labels }}", "{{ $value ", "{{ range . }}"):
        with pytest.raises(TemplateError):
            Template(bad)
