"""The PromQL subset against hand-computed values: rate over resets, aggregation, comparisons."""

from __future__ import annotations

import math

import pytest

from aria_actors.monitor.errors import InvalidQuery
from aria_actors.monitor.promql import Evaluator, parse, parse_duration
from aria_actors.monitor.series import SeriesStore


def _store(series: dict[str, list[float | None]], step: float = 60.0) -> SeriesStore:
    """Each series as 'name{a="b"}' with one value per step from t=0 (None: no sample)."""
    store = SeriesStore()
    for text, values in series.items():
        sel = parse(text)
        labels = {"__name__": sel.name, **{m.name: m.value for m in sel.matchers}}
        for i, v in enumerate(values):
            if v is not None:
                store.add(labels, i * step, v)
    return store


def _values(result: object) -> dict[tuple[tuple[str, str], ...], float]:
    assert isinstance(result, list)
    return {k: v for k, v in result}


def test_rate_and_increase_over_a_counter_reset() -> None:
    ev = Evaluator(_store({'c{job="a"}': [0, 10, 20, 5, 15, 25]}))
    # 25 - 0 plus 20 lost at the reset = 45 over the 300 s the samples span exactly.
    assert _values(ev("rate(c[5m])", 300)) == {(("job", "a"),): pytest.approx(0.15)}
    assert _values(ev("increase(c[5m])", 300)) == {(("job", "a"),): pytest.approx(45.0)}
    # Over [60, 240]: 10,20,5,15 -> (15 - 10) + 20 lost at the reset = 25; the samples span the
    # whole range, so no extrapolation at either end.
    assert _values(ev("increase(c[3m])", 240))[(("job", "a"),)] == pytest.approx(25.0)


def test_rate_extrapolates_like_prometheus() -> None:
    # Samples at 30, 90, 150, 210, 270 (value 60 per minute); the range [0, 300] is 30 s wider on
    # each side, within 1.1 x the 60 s spacing, so the 240 s span is extrapolated to 300 s, but
    # not below zero: the counter would reach 0 at 30 - 60 * (60 / 60) = -30, so 30 s is kept.
    store = SeriesStore()
    for i, t in enumerate((30, 90, 150, 210, 270)):
        store.add({"__name__": "c"}, t, 60.0 * (i + 1))
    ev = Evaluator(store)
    assert _values(ev("increase(c[5m])", 300))[()] == pytest.approx(240 * 300 / 240)
    assert _values(ev("rate(c[5m])", 300))[()] == pytest.approx(1.0)


def test_sum_by_without_avg_max_min_count() -> None:
    ev = Evaluator(_store({'m{svc="a",code="200"}': [1], 'm{svc="a",code="500"}': [3], 'm{svc="b",code="200"}': [10]}))
    assert _values(ev("sum by (svc) (m)", 0)) == {(("svc", "a"),): 4.0, (("svc", "b"),): 10.0}
    assert _values(ev("sum without (code) (m)", 0)) == {(("svc", "a"),): 4.0, (("svc", "b"),): 10.0}
    assert _values(ev("avg(m) by (code)", 0)) == {(("code", "200"),): 5.5, (("code", "500"),): 3.0}
    assert _values(ev("max(m)", 0)) == {(): 10.0}
    assert _values(ev("min(m)", 0)) == {(): 1.0}
    assert _values(ev("count by (svc) (m)", 0)) == {(("svc", "a"),): 2.0, (("svc", "b"),): 1.0}


def test_matchers_equal_not_equal_regex() -> None:
    ev = Evaluator(_store({'m{svc="a",code="200"}': [1], 'm{svc="a",code="500"}': [3], 'm{svc="b",code="503"}': [10]}))
    assert sorted(_values(ev('m{code=~"5.."}', 0)).values()) == [3.0, 10.0]
    assert sorted(_values(ev('m{code!~"5.*"}', 0)).values()) == [1.0]
    assert sorted(_values(ev('m{svc!="a"}', 0)).values()) == [10.0]
    assert sorted(_values(ev('m{code=~"5"}', 0)).values()) == []  # anchored, like Prometheus
    assert sorted(_values(ev('{__name__="m",svc="a"}', 0)).values()) == [1.0, 3.0]


def test_comparisons_filter_keep_the_name_and_bool_returns_zero_or_one() -> None:
    ev = Evaluator(_store({'up{job="a"}': [1], 'up{job="b"}': [0]}))
    assert _values(ev("up == 0", 0)) == {(("__name__", "up"), ("job", "b")): 0.0}
    assert _values(ev("up != 0", 0)) == {(("__name__", "up"), ("job", "a")): 1.0}
    assert _values(ev("0 < up", 0)) == {(("__name__", "up"), ("job", "a")): 1.0}
    assert _values(ev("up >= bool 1", 0)) == {(("job", "a"),): 1.0, (("job", "b"),): 0.0}
    assert _values(ev("up * 100 + 1", 0)) == {(("job", "a"),): 101.0, (("job", "b"),): 1.0}
    assert _values(ev("-up", 0)) == {(("job", "a"),): -1.0, (("job", "b"),): -0.0}
    assert ev("2 ^ 3 ^ 2", 0) == 512.0 and ev("1 > bool 2", 0) == 0.0


def test_vector_ratio_matches_one_to_one_and_set_operators() -> None:
    ev = Evaluator(_store({'err{svc="a"}': [1], 'err{svc="b"}': [0], 'all{svc="a"}': [10], 'all{svc="b"}': [5],
                           'all{svc="c"}': [5]}))
    assert _values(ev("err / all > 0.05", 0)) == {(("svc", "a"),): pytest.approx(0.1)}
    assert _values(ev("all and err", 0)) == {(("__name__", "all"), ("svc", "a")): 10.0,
                                            (("__name__", "all"), ("svc", "b")): 5.0}
    assert _values(ev("all unless err", 0)) == {(("__name__", "all"), ("svc", "c")): 5.0}
    assert len(ev("err or all", 0)) == 3  # type: ignore[arg-type]
    with pytest.raises(InvalidQuery, match="many-to-many"):
        ev("err / on() all", 0)


def test_over_time_functions_absent_and_lookback() -> None:
    ev = Evaluator(_store({'g{q="x"}': [1, 5, 3, 7, None, None, None, None, None, None]}))
    assert _values(ev("avg_over_time(g[3m])", 180)) == {(("q", "x"),): 4.0}
    assert _values(ev("max_over_time(g[2m])", 180)) == {(("q", "x"),): 7.0}
    assert _values(ev("min_over_time(g[2m])", 180)) == {(("q", "x"),): 3.0}
    assert _values(ev('absent(g{q="x"})', 180)) == {}
    assert _values(ev('absent(nothing{job="j",env=~"p.*"})', 180)) == {(("job", "j"),): 1.0}
    assert _values(ev("g", 180 + 300)) == {(("__name__", "g"), ("q", "x")): 7.0}  # 5 minutes of lookback
    assert _values(ev("g", 180 + 301)) == {}
    assert _values(ev("g offset 1m", 180)) == {(("__name__", "g"), ("q", "x")): 3.0}


def test_stale_marker_ends_a_series_before_the_lookback() -> None:
    store = SeriesStore()
    store.ingest([({"__name__": "up", "job": "a"}, 1.0), ({"__name__": "up", "job": "b"}, 1.0)], 0, source="s")
    store.ingest([({"__name__": "up", "job": "a"}, 1.0)], 15, source="s")
    assert [dict(k)["job"] for k, _ in Evaluator(store)("up", 20)] == ["a"]  # type: ignore[union-attr]


@pytest.mark.parametrize(("expr", "col", "why"), [
    ("sum(rate(x[5m])", 16, "expected ')'"),
    ("rate(x)", 6, "range vector"),
    ("x[5q]", 3, "duration"),
    ("predict_linear(x[5m], 60)", 1, "not supported"),
    ("topk(3, x)", 1, "not supported"),
    ("x[5m:1m]", 5, "subqueries"),
    ("1 > 2", 3, "bool"),
    ('x{a=~"("}', 6, "regular expression"),
    ("a / on(x) group_left b", 11, "group_left"),
    ("x @ 100", 3, "@"),
    ("x $", 3, "unexpected character"),
    ("", 1, "empty"),
])
def test_bad_expressions_name_the_column(expr: str, col: int, why: str) -> None:
    with pytest.raises(InvalidQuery) as err:
        parse(expr)
    assert err.value.fields["column"] == col, err.value.message
    assert why in err.value.message


def test_durations() -> None:
    assert parse_duration("1h30m") == 5400 and parse_duration("90s") == 90 and parse_duration("0") == 0
    assert parse_duration("250ms") == 0.25
    for bad in ("5", "5q", "m5", "", "1m1h"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_agrees_with_promql_parser_on_what_parses() -> None:
    promql_parser = pytest.importorskip("promql_parser")
    good = ['sum by (a) (rate(x{b=~"c.*"}[5m])) / ignoring(d) sum by (a) (rate(y[5m])) > 0.05', "up == 0",
            'absent(up{job="a"})', "avg_over_time(x[1h] offset 5m) < bool 3", "-x + 2 * y ^ 2",
            "max without (i) (x) and on(j) z", "clamp_min(x, 0)"]
    for text in good:
        parse(text)
        promql_parser.parse(text)
    for text in ("sum(rate(x[5m])", "rate(x)", "x[5q]", "1 +", 'x{a="b"'):
        with pytest.raises(InvalidQuery):
            parse(text)
        with pytest.raises(ValueError):
            promql_parser.parse(text)
    assert math.isnan(Evaluator(SeriesStore())("0 / 0", 0))  # type: ignore[arg-type]
