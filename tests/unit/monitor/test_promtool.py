"""The example rule file against promtool (Debian's ``prometheus`` package), and the same
``promtool test rules`` file replayed through aria_monitor's evaluator, which must agree."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from aria_actors.monitor import promql
from aria_actors.monitor.promql import Evaluator, parse_duration
from aria_actors.monitor.rules import GroupEvaluator, load_rule_file
from aria_actors.monitor.series import SeriesStore

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "aria_actors" / "monitor" / "rulefiles" / "aria.yaml"
TESTS = Path(__file__).resolve().parent / "promtool" / "aria_test.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install -y prometheus ships /usr/bin/promtool)")


@needs_promtool
def test_promtool_check_rules_accepts_the_example_rules() -> None:
    out = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 6 rules found" in out.stdout


@needs_promtool
def test_promtool_test_rules_passes() -> None:
    out = subprocess.run([PROMTOOL, "test", "rules", TESTS.name], capture_output=True, text=True, check=False,
                         cwd=TESTS.parent)
    assert out.returncode == 0, out.stdout + out.stderr


_STEP = re.compile(r"(-?\d+(?:\.\d+)?)(?:([+-])(\d+(?:\.\d+)?))?x(\d+)\Z")


def _expand(values: str) -> list[float | None]:
    """promtool's series notation: ``a``, ``a+bxn``, ``a-bxn``, ``axn``, ``_``, ``_xn``."""
    out: list[float | None] = []
    for tok in values.split():
        if tok == "_":
            out.append(None)
        elif tok.startswith("_x"):
            out += [None] * int(tok[2:])
        elif (m := _STEP.match(tok)) is not None:
            start, sign, step, n = m.groups()
            delta = float(step or 0) * (-1 if sign == "-" else 1)
            out += [float(start) + delta * i for i in range(int(n) + 1)]
        else:
            out.append(float(tok))
    return out


def _labels(series: str) -> dict[str, str]:
    sel = promql.parse(series)
    assert isinstance(sel, promql.Selector)
    return {"__name__": sel.name or "", **{m.name: m.value for m in sel.matchers}}


def test_aria_evaluator_matches_the_promtool_test_file() -> None:
    spec = yaml.safe_load(TESTS.read_text())
    groups = [g for f in spec["rule_files"] for g in load_rule_file((TESTS.parent / f).resolve())]
    every = parse_duration(spec.get("evaluation_interval", "1m"))
    checked = 0
    for case in spec["tests"]:
        step = parse_duration(case.get("interval", "1m"))
        store = SeriesStore()
        for s in case["input_series"]:
            for i, v in enumerate(_expand(s["values"])):
                if v is not None:
                    store.add(_labels(s["series"]), i * step, v)
        evaluators = [GroupEvaluator(g, store) for g in groups]
        checks: dict[float, list[dict]] = {}
        for a in case.get("alert_rule_test", []):
            checks.setdefault(parse_duration(a["eval_time"]), []).append(a)
        last = max([*checks, *(parse_duration(e["eval_time"]) for e in case.get("promql_expr_test", []))])
        t = 0.0
        while t <= last:
            for ev in evaluators:
                ev.evaluate(t)
            for want in checks.get(t, []):
                got = sorted(
                    (sorted((k, v) for k, v in a.labels if k != "alertname"), a.annotations)
                    for ev in evaluators for a in ev.active()
                    if a.state == "firing" and dict(a.labels)["alertname"] == want["alertname"])
                exp = sorted((sorted(e.get("exp_labels", {}).items()), e.get("exp_annotations", {}))
                             for e in want["exp_alerts"])
                assert got == exp, f"{want['alertname']} at {t}s"
                checked += 1
            t += every
        for e in case.get("promql_expr_test", []):
            result = Evaluator(store)(e["expr"], parse_duration(e["eval_time"]))
            got_samples = sorted((dict(k), v) for k, v in result)  # type: ignore[union-attr]
            exp_samples = sorted((_labels("x" + s["labels"]) | {"__name__": ""}, float(s["value"]))
                                 for s in e["exp_samples"])
            assert [({**k, "__name__": ""}, v) for k, v in got_samples] == exp_samples, e["expr"]  # exact, as promtool
            checked += 1
    assert checked == 8
