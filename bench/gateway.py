"""An authorized request through Aria's gateway against a bare Ray Serve FastAPI endpoint, one run.

    python bench/gateway.py [--requests 400]

Both sides run on the same `aria up --detach` (private ports and ARIA_HOME), get the same bearer
token and do the same work per request: verify the token's Ed25519 signature against
aria_security's JWKS, call aria_engine's actor for ``list_domains`` as the token's principal, and
answer JSON. Aria's side is ``GET /v1/engine/domains`` (bearer check, route permission check,
circuit breaker, typed client, problem handlers, metrics middleware); the peer is one FastAPI
route deployed on the same Serve instance with none of those. Requests are sequential over one
keep-alive connection each, interleaved in rounds so machine noise hits both alike.

Prints ``gateway_p50`` and ``gateway_p99`` lines (``name: aria X, peer Y, ratio Z``).
Asserts nothing about time.

``--tracing``: the same Aria request with tracing on against off, in one run: the debug console
(enabled for this Aria only) switches tracing off and on in the gateway's and aria_engine's
processes between rounds (``runtime/tracing.py``'s ``shutdown`` / ``setup``), so both sides run on
the same processes, interleaved. Prints ``tracing_p50`` / ``tracing_p99`` (aria: on, peer: off) and
the OTel SDK's own cost of one span in the same run, beside Aria's.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/queue.py would shadow the standard
# library's queue (which urllib3 imports).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse
import json
import shutil
import statistics
import subprocess
import time
import uuid
from typing import Any

# At module level: FastAPI resolves the route's (string) annotations from the module's globals.
from fastapi import FastAPI, HTTPException, Request

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.aria_up import ARIA, aria_env, join_as_driver

PEER_ROUTE = "/bench-peer"


def peer_app(jwks: dict[str, Any], namespace: str) -> Any:
    """The bare endpoint: verify, call the engine actor, answer. Built inside the replica."""
    from ray import serve

    app = FastAPI()

    @serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0})
    @serve.ingress(app)
    class Peer:
        def __init__(self) -> None:
            import ray

            from aria_actors.security.tokens import JwtVerifier

            self.verifier = JwtVerifier(jwks, "aria", 5)
            self.engine = ray.get_actor("aria_engine", namespace=namespace)

        @app.get("/domains")
        async def domains(self, request: Request) -> Any:
            from aria_actors.runtime.principal import Principal

            # Named in the body so cloudpickle ships it: FastAPI resolves the annotation from it.
            assert isinstance(request, Request)
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer":
                raise HTTPException(401)
            claims = self.verifier.verify(token)
            return await self.engine.call.remote("list_domains", (Principal.from_claims(claims),), {})

    return Peer.bind()


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


TRACED = ("aria_coordinate", "aria_engine")  # the processes a GET /v1/engine/domains crosses


def tracing_on_off(url: str, token: str, args: argparse.Namespace) -> None:
    import httpx

    headers = {"authorization": f"Bearer {token}"}
    samples: dict[bool, list[float]] = {True: [], False: []}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        sessions = {}
        for name in TRACED:
            opened = http.post("/v1/debugger/console", json={"service": name})
            opened.raise_for_status()
            sessions[name] = opened.json()["session"]

        def switch(on: bool) -> None:
            code = ("from aria_actors.runtime import tracing\n" +
                    ("tracing.setup(settings, spec.name)" if on else "tracing.shutdown()") + "\ntracing.enabled()")
            for name, sid in sessions.items():
                got = http.post(f"/v1/debugger/console/{sid}/run", json={"source": code}).raise_for_status().json()
                assert got["result"] == str(on), (name, got)

        target = "/v1/engine/domains"
        for on in (True, False):  # warm both
            switch(on)
            for _ in range(20):
                http.get(target).raise_for_status()
        switch(True)
        assert "x-trace-id" in http.get(target).headers, "tracing did not come on"
        per_round = max(1, args.requests // args.rounds)
        for _ in range(args.rounds):
            for on in (True, False):
                switch(on)
                for _ in range(per_round):
                    t0 = time.perf_counter()
                    http.get(target).raise_for_status()
                    samples[on].append((time.perf_counter() - t0) * 1000)
        switch(True)
        for sid in sessions.values():
            http.delete(f"/v1/debugger/console/{sid}")
    print(f"# {len(samples[True])} sequential authorized GET {target} per side, same aria up, tracing switched "
          f"in {', '.join(TRACED)} between rounds (sample ratio 1.0: every request traced, 3 spans)")
    for name, p in (("tracing_p50", 50), ("tracing_p99", 99)):
        a, b = pct(samples[True], p), pct(samples[False], p)
        print(f"{name}: aria {a:.2f} ms, peer {b:.2f} ms, ratio {a / b:.3f} (aria: tracing on, peer: off; "
              "goal p50 <= 1.10)")
    sdk_us, ours_us = span_costs()
    print(f"span_cost: aria {ours_us:.2f} us, peer {sdk_us:.2f} us, ratio {ours_us / sdk_us:.2f} "
          "(one span made current and ended, in this process; peer: the OTel SDK's TracerProvider)")


def span_costs(n: int = 20000) -> tuple[float, float]:
    from opentelemetry.sdk.trace import TracerProvider

    from aria_actors.runtime import tracing
    from aria_actors.runtime.tracing_config import TracingSettings

    tracer = TracerProvider().get_tracer("bench")
    t0 = time.perf_counter()
    for _ in range(n):
        with tracer.start_as_current_span("call"):
            pass
    sdk = (time.perf_counter() - t0) / n * 1e6
    tracing.setup(TracingSettings(enabled=True), "bench")
    t0 = time.perf_counter()
    for _ in range(n):
        with tracing.request("GET"):
            pass
    ours = (time.perf_counter() - t0) / n * 1e6
    tracing.shutdown()
    return sdk, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="per side")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--tracing", action="store_true", help="tracing on against off (see the docstring)")
    args = parser.parse_args()

    import httpx

    home = Path(f"/tmp/aria-bench-gw-{uuid.uuid4().hex[:8]}")
    env = aria_env(home)
    if args.tracing:
        env.update({"ARIA_DEBUGGER_CONSOLE_ENABLED": "true", "ARIA_TRACING_ENABLED": "true"})
    url = f"http://127.0.0.1:{env['ARIA_PORT']}"
    try:
        up = subprocess.run([ARIA, "up", "--detach"], env=env, capture_output=True, text=True)
        if up.returncode != 0:
            sys.exit(f"aria up failed:\n{up.stdout}\n{up.stderr}")
        token = subprocess.run([ARIA, "token"], env=env, capture_output=True, text=True, check=True).stdout.strip()

        from ray import serve

        join_as_driver(env)
        if args.tracing:
            tracing_on_off(url, token, args)
            return
        jwks = httpx.get(f"{url}/v1/security/jwks").json()
        serve.run(peer_app(jwks, "aria"), name="bench_peer", route_prefix=PEER_ROUTE)

        headers = {"authorization": f"Bearer {token}"}
        sides = {"aria": f"{url}/v1/engine/domains", "peer": f"{url}{PEER_ROUTE}/domains"}
        samples: dict[str, list[float]] = {k: [] for k in sides}
        with httpx.Client(headers=headers, timeout=30) as http:
            for target in sides.values():  # warm both: JWKS cache, handles, connections
                for _ in range(20):
                    r = http.get(target)
                    r.raise_for_status()
            assert http.get(sides["aria"]).json() == http.get(sides["peer"]).json(), "not the same work"
            per_round = max(1, args.requests // args.rounds)
            for _ in range(args.rounds):
                for side, target in sides.items():
                    for _ in range(per_round):
                        t0 = time.perf_counter()
                        http.get(target).raise_for_status()
                        samples[side].append((time.perf_counter() - t0) * 1000)
        print(f"# {len(samples['aria'])} sequential authorized requests per side, same aria up, same token")
        print("# differs: aria adds the route permission check, breaker, typed client, problem and "
              "metrics middleware; both verify the JWT and call the engine actor (which checks again)")
        for name, p in (("gateway_p50", 50), ("gateway_p99", 99)):
            a, b = pct(samples["aria"], p), pct(samples["peer"], p)
            print(f"{name}: aria {a:.2f} ms, peer {b:.2f} ms, ratio {a / b:.2f} (goal <= 1.1, limit 1.2)")
        means = {k: statistics.mean(v) for k, v in samples.items()}
        print(f"# means: aria {means['aria']:.2f} ms, peer {means['peer']:.2f} ms")
        print(json.dumps({k: round(statistics.median(v), 3) for k, v in samples.items()}))
    finally:
        import ray

        if ray.is_initialized():  # leave the cluster before `aria down` stops it under us
            ray.shutdown()
        subprocess.run([ARIA, "down"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
