"""aria_security vs direct hvac on the same embedded OpenBao, in one run.

1. Secret read latency: ``await service.kv_get(OPS, path)`` (Aria's layer: path check, worker thread,
   typed errors, audit record) and the same through a LocalClient (pickled like a Ray call),
   against ``hvac.Client.secrets.kv.v2.read_secret_version`` with the same token, in interleaved
   rounds so machine noise hits both sides alike. Goal: aria / hvac <= 1.2.
2. JWT verifications per second: ``service.verify_token`` (parse, kid lookup, Ed25519 check,
   claim checks) against a bare ``cryptography`` Ed25519 verify of the same token (the floor).

Prints ``name: aria X, peer Y, ratio Z`` lines. Asserts nothing about time.
Run: ``.venv/bin/python bench/security.py [--reads 2000] [--verifies 20000]``
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/queue.py would shadow the standard
# library's queue (which urllib3, under hvac, imports).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse
import asyncio
import statistics
import tempfile
import time


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def main(reads: int, verifies: int, rounds: int) -> None:
    import hvac

    from aria_actors.runtime.local import LocalClient
    from aria_actors.runtime.principal import Principal
    from aria_actors.runtime.service import Deps
    from aria_actors.runtime.settings import AriaSettings
    from aria_actors.security.config import SecurityConfig
    from aria_actors.security.service import SecurityService
    from aria_actors.security.tokens import b64url_decode

    OPS = Principal.operator()  # the bench acts as the local operator (every call is authorized)
    with tempfile.TemporaryDirectory(prefix="aria-bench-security-") as home:
        service = SecurityService(AriaSettings(home=Path(home), openbao_url=""), SecurityConfig())
        t0 = time.perf_counter()
        await service.start(Deps())
        print(f"# embedded OpenBao initialised, unsealed and bootstrapped in {time.perf_counter() - t0:.2f} s")
        try:
            path = "services/aria_storage/bench"
            await service.kv_put(OPS, path, {"user": "bench", "password": "x" * 32})
            direct = hvac.Client(service._client.url, token=service._client.token)
            local = LocalClient(service)

            def hvac_read() -> dict:
                return direct.secrets.kv.v2.read_secret_version(
                    path, mount_point="secret", raise_on_deleted_version=True)["data"]["data"]

            samples: dict[str, list[float]] = {"hvac": [], "aria": [], "aria_local": []}
            per = max(1, reads // rounds)
            for _ in range(3):  # warm connections
                hvac_read()
                await service.kv_get(OPS, path)
            for _ in range(rounds):
                for _ in range(per):
                    t = time.perf_counter()
                    hvac_read()
                    samples["hvac"].append(time.perf_counter() - t)
                for _ in range(per):
                    t = time.perf_counter()
                    await service.kv_get(OPS, path)
                    samples["aria"].append(time.perf_counter() - t)
                for _ in range(per):
                    t = time.perf_counter()
                    await local.call("kv_get", OPS, path)
                    samples["aria_local"].append(time.perf_counter() - t)
            peer = statistics.median(samples["hvac"])
            for name in ("aria", "aria_local"):
                aria = statistics.median(samples[name])
                print(f"secret_read_p50_ms[{name}]: aria {aria * 1e3:.3f}, peer {peer * 1e3:.3f}, "
                      f"ratio {aria / peer:.2f}")
                a99, p99 = pct(samples[name], 99), pct(samples["hvac"], 99)
                print(f"secret_read_p99_ms[{name}]: aria {a99 * 1e3:.3f}, peer {p99 * 1e3:.3f}, "
                      f"ratio {a99 / p99:.2f}")

            token = await service.issue_token(OPS, "bench-user", {"roles": ["viewer"]}, 600)
            head_payload, _, sig = token.rpartition(".")
            key = service._verifier._keys[service._verifier.header(token)["kid"]]
            raw_sig, msg = b64url_decode(sig), head_payload.encode()
            t = time.perf_counter()
            for _ in range(verifies):
                await service.verify_token(OPS, token)
            aria_rate = verifies / (time.perf_counter() - t)
            t = time.perf_counter()
            for _ in range(verifies):
                key.verify(raw_sig, msg)
            peer_rate = verifies / (time.perf_counter() - t)
            print(f"jwt_verify_per_s: aria {aria_rate:.0f}, peer {peer_rate:.0f}, "
                  f"ratio {aria_rate / peer_rate:.2f}")
            t = time.perf_counter()
            n_issue = max(1, verifies // 100)
            for _ in range(n_issue):
                await service.issue_token(OPS, "bench-user", None, 60)
            print(f"# jwt_issue_per_s (transit sign round trip): {n_issue / (time.perf_counter() - t):.0f}")
        finally:
            await service.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--verifies", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.reads, args.verifies, args.rounds))
