"""aria_monitor's exposition parser and merger: parse, relabel, HELP/TYPE once, cardinality cap."""

from __future__ import annotations

import math
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from aria_actors.monitor.errors import MalformedExposition
from aria_actors.monitor.exposition import Merger, Scrape, parse, render
from aria_actors.runtime.errors import BadRequest

TEXT = """# HELP req_total Requests
# TYPE req_total counter
req_total{route="/a",code="200"} 3
req_total{route="/b \\"q\\" \\\\ x}",code="500"} 1.5e3 1700000000000
# TYPE lat histogram
lat_bucket{le="0.1"} 1
lat_bucket{le="+Inf"} 2
lat_sum 0.3
lat_count 2
# a comment
temp NaN
up +Inf
"""


def test_parse_families_types_labels_escapes_values() -> None:
    fams = {f.name: f for f in parse(TEXT)}
    assert [f.name for f in parse(TEXT)] == ["req_total", "lat", "temp", "up"]
    req = fams["req_total"]
    assert (req.type, req.help) == ("counter", "Requests")
    assert req.samples[0].labels == (("route", "/a"), ("code", "200"))
    assert req.samples[1].labels[0] == ("route", '/b "q" \\ x}')
    assert req.samples[1].value == 1500.0 and req.samples[1].timestamp_ms == 1700000000000
    assert fams["lat"].type == "histogram" and [s.name for s in fams["lat"].samples] == \
        ["lat_bucket", "lat_bucket", "lat_sum", "lat_count"]
    assert math.isnan(fams["temp"].samples[0].value) and fams["up"].samples[0].value == math.inf
    assert fams["temp"].type == "untyped"


@pytest.mark.parametrize(("text", "line", "why"), [
    ("a 1\nb{x=\"1\" 2\n", 2, "not a sample"),
    ("a 1\nb{x=1} 2\n", 2, "bad label"),
    ("a{x=\"1\",x=\"2\"} 1\n", 1, "duplicate label"),
    ("a 1\na_b one\n", 2, "could not convert"),
    ("a 1\n# TYPE b summery\n", 2, "unknown type"),
    ("# TYPE a counter\na 1\n# TYPE a counter\n", 3, "TYPE"),
    ("a 1\nb 2\na 3\n", 3, "not together"),
    ("a 1_000\n", 1, "bad value"),
    ("a 1 12.5\n", 1, "not a sample"),
])
def test_malformed_input_names_the_line(text: str, line: int, why: str) -> None:
    with pytest.raises(MalformedExposition) as err:
        parse(text, "aria_queue")
    assert isinstance(err.value, BadRequest)
    assert err.value.fields["line"] == line
    assert f"aria_queue: line {line}:" in err.value.message and why in err.value.message


def test_render_round_trips_through_prometheus_clients_parser() -> None:
    ours = parse(render(parse(TEXT)))
    assert [(f.name, f.type, f.samples) for f in ours] == [(f.name, f.type, f.samples) for f in parse(TEXT)]
    theirs = {s.name: s.value for f in text_string_to_metric_families(render(parse(TEXT))) for s in f.samples}
    assert theirs["lat_count"] == 2.0 and theirs["up"] == math.inf


def _service_text(calls: int) -> str:
    reg = CollectorRegistry()
    c = Counter("aria_rpc_calls", "RPC calls", ["method", "service"], registry=reg)
    c.labels("get", "inner").inc(calls)
    h = Histogram("aria_rpc_seconds", "RPC latency", ["method"], registry=reg, buckets=(0.1, 1))
    h.labels("get").observe(0.05)
    return generate_latest(reg).decode()


def test_merge_labels_sources_keeps_help_type_once_and_exports_clashing_labels() -> None:
    merged = Merger().merge([Scrape("aria_queue", _service_text(2)), Scrape("aria_storage", _service_text(5), "r1")])
    text = merged.text
    assert text.count("# TYPE aria_rpc_calls_total counter") == 1
    assert text.count("# HELP aria_rpc_seconds RPC latency") == 1
    assert 'aria_rpc_calls_total{service="aria_queue",method="get",exported_service="inner"} 2.0' in text
    assert 'aria_rpc_calls_total{service="aria_storage",replica="r1",method="get",exported_service="inner"} 5.0' \
        in text
    assert 'aria_rpc_seconds_bucket{service="aria_storage",replica="r1",le="0.1",method="get"} 1.0' in text
    fams = {f.name: f for f in text_string_to_metric_families(text)}  # the peer's parser reads it
    assert len([s for s in fams["aria_rpc_calls"].samples if s.name.endswith("_total")]) == 2
    assert merged.errors == {} and merged.dropped == {}


def test_cap_drops_whole_series_and_counts_them_cumulatively() -> None:
    lines = ["# TYPE h histogram"]
    for i in range(5):
        lines += [f'h_bucket{{id="{i}",le="1"}} 1', f'h_bucket{{id="{i}",le="+Inf"}} 1', f'h_sum{{id="{i}"}} 1',
                  f'h_count{{id="{i}"}} 1']
    lines.append("g 1")
    merger = Merger(series_cap=3)
    out = merger.merge([("a", "\n".join(lines)), ("b", "g 2\n")])
    kept = {f.name: f for f in parse(out.text)}
    assert {dict(s.labels)["id"] for s in kept["h"].samples} == {"0", "1", "2"}  # le does not make a series
    assert len(kept["h"].samples) == 12 and len(kept["g"].samples) == 2
    assert out.dropped == {"h": 2}
    assert 'aria_monitor_series_dropped_total{family="h"} 2.0' in out.text
    again = merger.merge([("a", "\n".join(lines))])
    assert again.dropped == {"h": 2}
    assert 'aria_monitor_series_dropped_total{family="h"} 4.0' in again.text


def test_same_labels_from_two_sources_are_two_series_and_the_cap_is_per_source() -> None:
    out = Merger(series_cap=2).merge([("a", "g 1\n"), ("b", "g 2\n"), ("c", "g 3\n")])
    assert out.dropped == {} and out.series == 3
    # one source's explosion is cut at its own cap and pushes no other source's series out
    many = "".join(f'g{{id="{i}"}} 1\n' for i in range(10))
    out = Merger(series_cap=2).merge([("a", many), ("b", "g 2\n"), ("c", 'g{id="1"} 3\n')])
    assert out.dropped == {"g": 8} and out.series == 4
    kept = {dict(s.labels)["service"] for f in parse(out.text) if f.name == "g" for s in f.samples}
    assert kept == {"a", "b", "c"}


def test_malformed_source_raises_when_strict_and_is_counted_otherwise() -> None:
    bad = "ok 1\nbroken{ 1\n"
    with pytest.raises(MalformedExposition, match="aria_data: line 2"):
        Merger().merge([("aria_queue", "x 1\n"), ("aria_data", bad)])
    merger = Merger(strict=False)
    out = merger.merge([("aria_queue", "x 1\n"), ("aria_data", bad)])
    assert "aria_data" in out.errors and 'x{service="aria_queue"} 1' in out.text and "ok{" not in out.text
    assert 'aria_monitor_scrape_errors_total{service="aria_data"} 1.0' in out.text


def test_type_conflict_between_sources_is_an_error_of_the_later_source() -> None:
    merger = Merger(strict=False)
    out = merger.merge([("a", "# TYPE m counter\nm_total 1\n"), ("b", "# TYPE m gauge\nm 2\n")])
    assert "a counter in an earlier source" in out.errors["b"]


# -- a source's fragment reused while only its values change (Merger._fragment) ----------------------
def _versions() -> list[str]:
    base = ('# HELP rpc_total Calls\n# TYPE rpc_total counter\nrpc_total{method="a",service="x"} {a}\n'
            'rpc_total{method="b"} {b}\n# TYPE lat histogram\nlat_bucket{le="0.1"} {a}\nlat_bucket{le="+Inf"} {b}\n'
            'lat_sum {c}\nlat_count {b}\n# TYPE g gauge\ng {c}\n')
    texts = [base.replace("{a}", a).replace("{b}", b).replace("{c}", c) for a, b, c in
             [("1", "2", "0.5"), ("3", "4", "1e-3"), ("3", "4", "NaN"), ("3", "+Inf", "-Inf"), ("5", "6", ".5")]]
    texts.append(texts[-1].replace('method="b"', 'method="c"'))      # a series replaced: same line count
    texts.append(texts[-1].replace("g .5", "g 7 1700000000000"))       # a timestamp: never the fast path
    texts.append(texts[-1].replace("g 7 1700000000000", "g 8 1700000000001"))
    texts.append(texts[-1].replace("g 8 1700000000001", "g 9"))
    texts.append(texts[-1] + 'rpc_total{method="d"} 1\n')              # a new line (and misplaced: malformed)
    texts.append(texts[-2].replace("lat_sum 0.5", "lat_sum 1_0").replace("lat_sum .5", "lat_sum 1_0"))
    texts.append(texts[-3].replace("g 9", "g inf"))                     # float() reads it, Prometheus does not
    texts.append(texts[-4])
    return texts


def _comparable(out: Any) -> tuple[Any, ...]:
    return (out.text.split("# HELP " + Merger.DROPPED)[0], out.series, out.dropped, out.samples, out.errors)


def test_a_reused_fragment_merges_exactly_as_a_fresh_parse() -> None:
    kept = Merger(strict=False, series_cap=3)
    for i, text in enumerate(_versions()):
        scrapes = [Scrape("aria_queue", text), Scrape("aria_storage", _versions()[0], "r1")]
        got, fresh = kept.merge(scrapes), Merger(strict=False, series_cap=3).merge(scrapes)
        assert _comparable(got) == _comparable(fresh), i
        if "1_0" in text or " inf" in text or text.endswith('rpc_total{method="d"} 1\n'):
            assert "aria_queue" in got.errors, i  # a malformed text is never read from the old fragment
        else:
            assert not got.errors, (i, got.errors)


def test_only_changed_values_take_the_fast_path() -> None:
    merger = Merger()
    texts = _versions()
    merger.merge([("aria_queue", texts[0])])
    frag = merger._fragments[("aria_queue", None)]
    merger.merge([("aria_queue", texts[1])])
    assert merger._fragments[("aria_queue", None)] is frag  # values only: the same fragment
    merger.merge([("aria_queue", texts[5])])
    assert merger._fragments[("aria_queue", None)] is not frag  # a series replaced: built again
    merger.merge([("aria_queue", texts[6])])
    assert not merger._fragments[("aria_queue", None)].cacheable  # timestamps are read by the parser each time
