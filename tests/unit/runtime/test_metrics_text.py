"""metrics_text renders the series prometheus_client renders for the same updates (less the
optional ``_created`` samples), escapes label values, and is thread-safe."""

from __future__ import annotations

import math
import threading

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aria_actors.runtime import metrics_text as mt

BUCKETS = (0.001, 0.01, 0.1, 1.0, 10.0)
ODD = 'a "quoted" \\ back\nslash'


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples if not s.name.endswith("_created")}


def _both() -> tuple[mt.Registry, prometheus_client.CollectorRegistry]:
    ours, theirs = mt.Registry(), prometheus_client.CollectorRegistry()
    for reg, lib in ((ours, mt), (theirs, prometheus_client)):
        calls = lib.Counter("aria_calls", "Calls", ["method", "outcome"], registry=reg)
        up = lib.Gauge("aria_up", "Up\nor down", ["service"], registry=reg)
        secs = lib.Histogram("aria_seconds", "Seconds", ["method"], buckets=BUCKETS, registry=reg)
        plain = lib.Histogram("aria_plain_seconds", "No labels", buckets=BUCKETS, registry=reg)
        for i, v in enumerate((0.0005, 0.001, 0.05, 0.1, 3.0, 99.0, 0.01)):
            calls.labels(f"m{i % 3}", "ok").inc()
            calls.labels(ODD, "bad-request").inc(2.5)
            secs.labels(f"m{i % 2}").observe(v)
            plain.observe(v)
        up.labels("aria_x").set(1)
        up.labels(ODD).set(-2.25)
        up.labels("inf").set(math.inf)
    return ours, theirs


def test_the_same_series_and_values_as_prometheus_client() -> None:
    ours, theirs = _both()
    text = ours.render()
    assert _samples(text) == _samples(prometheus_client.generate_latest(theirs).decode())
    assert "_created" not in text
    assert 'aria_seconds_bucket{le="0.001",method="m1"} 1.0' in text  # le: a value on a bound is in it
    assert '\\"quoted\\" \\\\ back\\nslash' in text
    assert "# HELP aria_up Up\\nor down" in text


def test_process_series_come_through_the_same_writer() -> None:
    reg = mt.Registry()
    prometheus_client.ProcessCollector(registry=reg)
    prometheus_client.Counter("aria_denials", "Denials", ["why"], registry=reg).labels("x").inc()
    text = reg.render()
    names = {s[0] for s in _samples(text)}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "aria_denials_total"} <= names
    # families named as generate_latest names them (a counter's with _total), no _created samples
    families = {f.name for f in text_string_to_metric_families(text)}
    assert "# TYPE process_cpu_seconds_total counter" in text and "# TYPE aria_denials_total counter" in text
    assert "process_cpu_seconds" in families and "_created" not in text


def test_updates_from_threads_are_all_counted() -> None:
    reg = mt.Registry()
    calls = mt.Counter("c", "c", ["k"], registry=reg)
    secs = mt.Histogram("h", "h", ["k"], buckets=BUCKETS, registry=reg)

    def work() -> None:
        for _ in range(5000):
            calls.labels("x").inc()
            secs.labels("x").observe(0.5)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = _samples(reg.render())
    assert got[("c_total", (("k", "x"),))] == 20000
    assert got[("h_count", (("k", "x"),))] == 20000


def test_misuse_is_refused() -> None:
    c = mt.Counter("c", "c", ["a", "b"])
    with pytest.raises(ValueError):
        c.labels("only one")
    with pytest.raises(ValueError):
        c.labels("x", "y").inc(-1)


@pytest.mark.parametrize(("value", "text"), [(1.0, "1.0"), (0.25, "0.25"), (1e20, "1e+20"), (-math.inf, "-Inf"),
                                              (math.nan, "NaN"), (3, "3.0")])
def test_values_are_written_as_prometheus_writes_them(value: float, text: str) -> None:
    assert mt.fmt(value) == text


def test_a_histogram_series_renders_again_only_when_observed() -> None:
    registry = mt.Registry()
    hist = mt.Histogram("lat_seconds", "Latency", ["method"], buckets=[0.1, 1.0], registry=registry)
    hist.labels("a").observe(0.05)
    hist.labels("b").observe(2.0)
    first = registry.render()
    child = hist.labels("a")
    cached = child.rendered
    assert registry.render() == first and child.rendered is cached  # nothing observed: reused
    hist.labels("a").observe(0.5)
    again = registry.render()
    assert 'lat_seconds_bucket{le="1.0",method="a"} 2.0' in again and 'lat_seconds_count{method="a"} 2.0' in again
    assert 'lat_seconds_sum{method="a"} 0.55' in again and child.rendered is not cached
