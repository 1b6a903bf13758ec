"""What tracing costs a gateway request: tracing on against off, in one run, and the OTel SDK's own
cost per span beside Aria's.

    python bench/tracing.py [--requests 3000] [--rounds 60]

Two measures of the same app: over HTTP (uvicorn in a child process on a loopback port, one
keep-alive connection, its service call crossing to a second child process over HTTP as a Ray call
crosses to an actor, tracing switched on and off in both between rounds by bench-only routes of
the bench's own apps: what a client sees, the figure the 10 % limit applies to) and in-process (the
ASGI app called directly: the gateway's own time, where the spans weigh most).

The app is the real gateway app (``create_app``: every middleware, the route permission check,
the circuit breaker, the problem handlers) over a directory whose one service is reached through
a simulated Ray hop: the caller side opens the client span and hands ``traceparent`` on exactly as
``RayServiceClient.call`` does, the far side opens the serving span and one query span as
``ServiceHost.call`` and aria_data's pool do. So a traced request makes the four spans a real one
makes (request, call, serving, query), with no Ray and no network to hide their cost. Requests go
straight to the ASGI app; rounds alternate on and off so machine noise hits both alike.

Prints ``name: aria X, peer Y, ratio Z`` lines: ``tracing_request_p50`` / ``_p99`` (over HTTP;
aria: tracing on, peer: off, microseconds), ``tracing_inprocess_p50``, ``tracing_span_us`` (aria: one
span through runtime/tracing.py's helper, peer: the OTel SDK's own span, current and ended into a ring
the same way), and
``tracing_overhead_per_span_us``. Exits 1 when the p50 overhead is above 10 %.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # bench/queue.py shadows queue
sys.modules.pop("queue", None)

import argparse
import asyncio
import collections
import logging
import socket
import statistics
import subprocess
import time
from typing import Any

import httpx
import uvicorn
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aria_actors.coordinate.config import CoordinateSettings
from aria_actors.coordinate.gateway import create_app
from aria_actors.runtime import tracing
from aria_actors.runtime.http import ServiceRouter, transport
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.tracing_config import TracingSettings

ME = Principal.internal("bench")
SERVICE = "aria_bench"
PATH = "/v1/bench/echo/item-1"


class Hop:
    """A service client whose far side runs in this process (in-process measure), or in another
    process over HTTP (``--far``: the measure over HTTP, a real process boundary as Ray's), with the
    ``traceparent`` carried as a Ray call carries it."""

    name = SERVICE
    far_port: int | None = None
    far: httpx.AsyncClient | None = None

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with tracing.calling(SERVICE, method) as extra:
            if Hop.far_port is None:
                return await self._far_side(method, *extra)
            if Hop.far is None:  # made in the server's event loop, on its first request
                Hop.far = httpx.AsyncClient(base_url=f"http://127.0.0.1:{Hop.far_port}", timeout=30)
            r = await Hop.far.post(f"/{method}", headers={"traceparent": extra[0]} if extra else {})
            return r.json()

    async def _far_side(self, method: str, trace: str | None = None) -> Any:
        with tracing.serving(SERVICE, method, trace), tracing.query("SELECT 1", lambda _t: "bench.ping"):
            return {"ok": True}


class Directory:
    breakers: dict[str, Any] = {}

    async def status(self) -> dict[str, Any]:
        return {"phase": "up", "services": [], "counts": {}}

    async def service(self, name: str) -> dict[str, Any]:
        return {"name": name}

    def client(self, name: str) -> Any:
        return Hop() if name == SERVICE else None


def app(toggle: bool = False) -> Any:
    router = ServiceRouter(prefix="/v1/bench", tags=["bench"])

    @router.get("/echo/{item}")
    async def echo(item: str, request: Any) -> dict[str, Any]:
        return await transport(request, SERVICE).call("echo", ME)

    echo.__annotations__["request"] = __import__("fastapi").Request
    settings = CoordinateSettings(access_log=False, ratelimit_enabled=False)
    gateway = create_app(Directory(), require_auth=False, settings=settings)
    gateway.include_router(router)
    gateway.state.routes_changed()
    if toggle:  # the bench's own switch, in the child serving over HTTP
        @gateway.post("/bench/tracing/{state}")
        async def switch(state: str) -> dict[str, Any]:
            tracing_on(state == "on")
            return {"tracing": tracing.enabled()}
    return gateway


def serve(port: int, far: int) -> None:
    logging.disable(logging.WARNING)
    Hop.far_port = far
    uvicorn.run(app(toggle=True), host="127.0.0.1", port=port, log_level="error", access_log=False)


async def far_side(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The callee's process: ServiceHost.call's span and a query's, or the bench's switch."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path.startswith("/bench/tracing/"):
        tracing_on(path.endswith("/on"))
    else:
        trace = dict(scope["headers"]).get(b"traceparent", b"").decode() or None
        with tracing.serving(SERVICE, path.strip("/"), trace), tracing.query("SELECT 1", lambda _t: "bench.ping"):
            pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"ok": true}'})


def serve_far(port: int) -> None:
    logging.disable(logging.WARNING)
    uvicorn.run(far_side, host="127.0.0.1", port=port, log_level="error", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def over_http(requests: int, rounds: int) -> dict[str, list[float]]:
    port, far = free_port(), free_port()
    children = [subprocess.Popen([sys.executable, __file__, "--far", str(far)]),
                subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--far", str(far)])]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http, \
                httpx.Client(base_url=f"http://127.0.0.1:{far}", timeout=30) as callee:
            for _ in range(600):
                try:
                    http.post("/bench/tracing/off")
                    callee.post("/bench/tracing/off")
                    http.get(PATH).raise_for_status()
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            times: dict[str, list[float]] = {"on": [], "off": []}
            per_round = max(1, requests // rounds)
            for r in range(-1, rounds):  # round -1: warm-up
                for mode in (("on", "off") if r % 2 == 0 else ("off", "on")):
                    http.post(f"/bench/tracing/{mode}").raise_for_status()
                    callee.post(f"/bench/tracing/{mode}").raise_for_status()
                    got = []
                    for _ in range(per_round if r >= 0 else 200):
                        t0 = time.perf_counter()
                        resp = http.get(PATH)
                        got.append(time.perf_counter() - t0)
                        assert resp.status_code == 200 and (("x-trace-id" in resp.headers) == (mode == "on"))
                    if r >= 0:
                        times[mode] += got
            return times
    finally:
        for child in children:
            child.terminate()
            child.wait(10)


async def one(asgi: Any) -> float:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": PATH, "raw_path": PATH.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 1), "server": ("bench", 80)}
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    t0 = time.perf_counter()
    await asyncio.wait_for(asgi(scope, receive, send), 10)  # a task, as each request is under a server
    took = time.perf_counter() - t0
    assert status == [200], status
    return took


def tracing_on(on: bool) -> None:
    tracing.shutdown()
    if on:
        tracing.setup(TracingSettings(enabled=True, sample_ratio=1.0, ring_size=4096), "aria_coordinate")


class _Keep:
    """An SDK span processor keeping each ended span in a bounded deque, as Aria's ring does."""

    def __init__(self) -> None:
        self.spans: collections.deque[Any] = collections.deque(maxlen=4096)

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def on_end(self, span: Any) -> None:
        self.spans.append(span)

    def _on_ending(self, span: Any) -> None:  # the SDK calls it on its processors (newer versions)
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def span_costs(n: int) -> tuple[float, float]:
    """Microseconds per span, current for its block and ended into a ring: a serving span through
    runtime/tracing.py, and the OTel SDK's own (TracerProvider, ParentBased ratio sampler, the same
    three attributes, start_as_current_span)."""
    tracing_on(True)
    t0 = time.perf_counter()
    for _ in range(n):
        with tracing.serving(SERVICE, "echo", None):
            pass
    aria = (time.perf_counter() - t0) / n * 1e6
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(1.0)))
    provider.add_span_processor(_Keep())  # type: ignore[arg-type]
    tracer = provider.get_tracer("bench")
    t0 = time.perf_counter()
    for _ in range(n):
        with tracer.start_as_current_span(f"{SERVICE}.echo", attributes={"aria.service": SERVICE,
                                                                         "rpc.method": "echo"}):
            pass
    sdk = (time.perf_counter() - t0) / n * 1e6
    return aria, sdk


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def run(requests: int, rounds: int) -> dict[str, list[float]]:
    asgi = app()
    times: dict[str, list[float]] = {"on": [], "off": []}
    per_round = max(1, requests // rounds)
    for mode in ("on", "off"):  # warm-up: imports, route caches, the SDK
        tracing_on(mode == "on")
        for _ in range(200):
            await one(asgi)
    for r in range(rounds):
        for mode in (("on", "off") if r % 2 == 0 else ("off", "on")):
            tracing_on(mode == "on")
            times[mode] += [await one(asgi) for _ in range(per_round)]
    tracing_on(True)
    before = tracing._ring._seq if tracing._ring else 0
    await one(asgi)
    spans_per_request = (tracing._ring._seq if tracing._ring else 0) - before
    times["spans"] = [float(spans_per_request)]
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per side")
    parser.add_argument("--rounds", type=int, default=60, help="on/off alternations (fine: load drifts cancel)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # a child: the gateway on this port
    parser.add_argument("--far", type=int, help=argparse.SUPPRESS)  # a child: the callee on this port
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.far)
        return 0
    if args.far:
        serve_far(args.far)
        return 0
    logging.disable(logging.WARNING)
    http_times = over_http(args.requests, args.rounds)
    times = asyncio.run(run(args.requests, args.rounds))
    on50, off50 = statistics.median(http_times["on"]) * 1e6, statistics.median(http_times["off"]) * 1e6
    on99, off99 = pct(http_times["on"], 0.99) * 1e6, pct(http_times["off"], 0.99) * 1e6
    in50, inoff50 = statistics.median(times["on"]) * 1e6, statistics.median(times["off"]) * 1e6
    spans = int(times["spans"][0])
    aria_span, bare_span = span_costs(20_000)
    tracing.shutdown()
    overhead = on50 / off50 - 1.0
    print(f"tracing_request_p50: aria {on50:.1f}, peer {off50:.1f}, ratio {on50 / off50:.3f}  "
          f"(us over HTTP; tracing on vs off, {len(http_times['on'])} requests each, {spans} spans a request)")
    print(f"tracing_request_p99: aria {on99:.1f}, peer {off99:.1f}, ratio {on99 / off99:.3f}  (us over HTTP)")
    print(f"tracing_inprocess_p50: aria {in50:.1f}, peer {inoff50:.1f}, ratio {in50 / inoff50:.3f}  "
          f"(us, the ASGI app called directly)")
    print(f"tracing_span_us: aria {aria_span:.2f}, peer {bare_span:.2f}, ratio {aria_span / bare_span:.3f}  "
          f"(aria: a serving span through runtime/tracing.py; peer: the OTel SDK's own span)")
    per_span = (in50 - inoff50) / spans if spans else float("nan")
    print(f"tracing_overhead_per_span_us: aria {per_span:.2f}, peer {bare_span:.2f}, "
          f"ratio {per_span / bare_span:.3f}  (p50 difference / spans a request, against the SDK's own)")
    print(f"tracing_p50_overhead: {overhead * 100:.1f} % over HTTP (limit 10 %), "
          f"{(in50 / inoff50 - 1) * 100:.1f} % in-process")
    return 0 if overhead <= 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
