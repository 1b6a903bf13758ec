"""The rate-limit middleware's cost: a trivial GET through a small FastAPI app, with and without it.

    python bench/ratelimit.py [--requests 2400] [--warmup 300]

Both sides are the same app (a dozen routes in three routers, the request hits a templated one)
served by uvicorn in its own subprocess, one keep-alive httpx connection each, requests sequential
and interleaved in rounds so machine noise hits both alike. Aria's side adds
``RateLimitMiddleware`` with the default settings' shape (a limit it never reaches, so every
request pays the admitted path: route match, caller key, window update, four headers); the peer
is bare FastAPI. Then the same in-process (httpx ASGITransport, no sockets), and the limiter
core's admissions per second.

Prints ``ratelimit_middleware_p50``/``_p99`` (uvicorn), ``ratelimit_inprocess_p50``/``_p99``
(``name: aria X ms, peer Y ms, ratio Z``) and ``ratelimit_core``. Asserts nothing about time.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/queue.py would shadow the standard
# library's queue.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse
import asyncio
import os
import statistics
import subprocess
import time

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fastapi import APIRouter, FastAPI

from aria_actors.coordinate.ratelimit import RateLimiter, RateLimitMiddleware, RateLimitRules
from tests.fixtures.ports import free_port

PATH = "/v1/things/abc123"
UNREACHED = "1000000000/60s"


def build(limited: bool) -> FastAPI:
    app = FastAPI()
    for name in ("things", "stuff", "other"):
        router = APIRouter(prefix=f"/v1/{name}")

        @router.get("/{item_id}")
        async def get_item(item_id: str) -> dict[str, str]:
            return {"id": item_id}

        @router.post("/{item_id}")
        async def post_item(item_id: str) -> dict[str, str]:
            return {"id": item_id}

        @router.get("/{item_id}/children")
        async def children(item_id: str) -> list[str]:
            return []

        @router.get("")
        async def listing() -> list[str]:
            return []

        app.include_router(router)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    if limited:
        rules = RateLimitRules(UNREACHED)  # with the built-in login/token rules and role table
        app.add_middleware(RateLimitMiddleware, limiter=RateLimiter(rules))
    return app


def serve(side: str, port: int) -> None:
    import uvicorn

    uvicorn.run(build(side == "aria"), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start(side: str) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", side, "--port", str(port)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"uvicorn ({side}) did not start on {url}")


def pct(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000 if q < 100 else max(samples) * 1000


def line(name: str, aria: list[float], peer: list[float], q: int) -> None:
    a, p = pct(aria, q), pct(peer, q)
    print(f"{name}_p{q}: aria {a:.3f} ms, peer {p:.3f} ms, ratio {a / p:.2f}")


def over_uvicorn(requests: int, warmup: int, rounds: int) -> None:
    import httpx

    procs = {side: start(side) for side in ("aria", "peer")}
    try:
        clients = {side: httpx.Client(base_url=url) for side, (_, url) in procs.items()}
        samples: dict[str, list[float]] = {"aria": [], "peer": []}
        for c in clients.values():
            for _ in range(warmup):
                c.get(PATH).raise_for_status()
        first = clients["aria"].get(PATH)
        assert "ratelimit-limit" in first.headers and "ratelimit-limit" not in clients["peer"].get(PATH).headers
        per_round = max(requests // rounds, 1)
        for r in range(rounds):
            for side in (("aria", "peer") if r % 2 == 0 else ("peer", "aria")):
                c = clients[side]
                for _ in range(per_round):
                    t0 = time.perf_counter()
                    resp = c.get(PATH)
                    samples[side].append(time.perf_counter() - t0)
                    if resp.status_code != 200:
                        raise SystemExit(f"{side}: {resp.status_code} {resp.text}")
        for c in clients.values():
            c.close()
    finally:
        for proc, _ in procs.values():
            proc.terminate()
            proc.wait(10)
    print(f"# uvicorn, one keep-alive connection a side, {len(samples['aria'])} requests a side after "
          f"{warmup} warm-up, {rounds} interleaved rounds")
    line("ratelimit_middleware", samples["aria"], samples["peer"], 50)
    line("ratelimit_middleware", samples["aria"], samples["peer"], 99)


async def in_process(requests: int, warmup: int, rounds: int) -> None:
    import httpx

    apps = {"aria": build(True), "peer": build(False)}
    clients = {side: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
               for side, app in apps.items()}
    samples: dict[str, list[float]] = {"aria": [], "peer": []}
    for c in clients.values():
        for _ in range(warmup):
            (await c.get(PATH)).raise_for_status()
    per_round = max(requests // rounds, 1)
    for r in range(rounds):
        for side in (("aria", "peer") if r % 2 == 0 else ("peer", "aria")):
            c = clients[side]
            for _ in range(per_round):
                t0 = time.perf_counter()
                await c.get(PATH)
                samples[side].append(time.perf_counter() - t0)
    for c in clients.values():
        await c.aclose()
    print(f"# in-process (httpx ASGITransport), {len(samples['aria'])} requests a side")
    line("ratelimit_inprocess", samples["aria"], samples["peer"], 50)
    line("ratelimit_inprocess", samples["aria"], samples["peer"], 99)


def core(hits: int) -> None:
    def run(rule: str, keys: int) -> float:
        lim = RateLimiter(RateLimitRules(rule, {}, {}))
        subjects = [f"sub:user{i}" for i in range(keys)]
        t0 = time.perf_counter()
        for i in range(hits):
            lim.hit(subjects[i % keys], (), "GET", "/v1/things/{item_id}")
        return hits / (time.perf_counter() - t0)

    bucketed, exact = run("600/60s", 1000), run("50/60s", 1000)
    print(f"ratelimit_core: {bucketed:,.0f} decisions/s (600/60s, bucketed), {exact:,.0f} decisions/s "
          f"(50/60s, exact log); 1,000 keys, one process")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2400)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--serve", choices=("aria", "peer"))
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    over_uvicorn(args.requests, args.warmup, args.rounds)
    asyncio.run(in_process(args.requests, args.warmup, args.rounds))
    core(300_000)


if __name__ == "__main__":
    main()
