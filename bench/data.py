"""Simple-query throughput through Aria's pool (aria_data.pool.Database) vs bare asyncpg.

Both run on the same server in the same process, alternating rounds;
the ratio is the median of the per-pair ratios.
The server is ARIA_DATABASE_URL when set, else a throw-away embedded PostgreSQL under /tmp.

    .venv/bin/python bench/data.py [--queries 1000] [--concurrency 8] [--rounds 30]

Prints ``simple-query: aria X q/s, peer Y q/s, ratio Z`` (peer = asyncpg.create_pool).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import time
import uuid


async def _drive(fetchval, queries: int, concurrency: int) -> float:
    per_task = queries // concurrency

    async def worker() -> None:
        for i in range(per_task):
            await fetchval("SELECT $1::int + 1", i)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return per_task * concurrency / (time.perf_counter() - t0)


async def run(dsn: str, queries: int, concurrency: int, rounds: int) -> tuple[float, float, float]:
    import asyncpg

    from aria_actors.data.config import DataConfig
    from aria_actors.data.pool import Database

    size = concurrency
    aria = await Database.connect(dsn, DataConfig(pool_min_size=size, pool_max_size=size,
                                                  slow_query_ms=1000), name="bench")
    peer = await asyncpg.create_pool(dsn, min_size=size, max_size=size)
    try:
        await _drive(aria.fetchval, 200, concurrency)  # warm both (prepared statement caches)
        await _drive(peer.fetchval, 200, concurrency)
        a, p = [], []
        for r in range(rounds):  # alternate who goes first: load on a shared box drifts
            if r % 2:
                p.append(await _drive(peer.fetchval, queries, concurrency))
            a.append(await _drive(aria.fetchval, queries, concurrency))
            if not r % 2:
                p.append(await _drive(peer.fetchval, queries, concurrency))
        # Pairs run back to back see the same load; the median of their ratios resists the drift
        # of a shared machine better than a ratio of medians.
        ratio = statistics.median(x / y for x, y in zip(a, p, strict=True))
        return statistics.median(a), statistics.median(p), ratio
    finally:
        await aria.close()
        await peer.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    dsn = os.environ.get("ARIA_DATABASE_URL", "")
    server = base = None
    if not dsn:
        from aria_actors.data.embedded import EmbeddedPostgres

        base = f"/tmp/aria-bench-data-{uuid.uuid4().hex[:8]}"
        server = EmbeddedPostgres(base, fast_init=True)
        dsn = server.start()
    try:
        aria, peer, ratio = asyncio.run(run(dsn, args.queries, args.concurrency, args.rounds))
    finally:
        if server is not None:
            server.stop(mode="immediate")
            shutil.rmtree(base, ignore_errors=True)
    print(f"simple-query: aria {aria:.0f} q/s, peer {peer:.0f} q/s, ratio {ratio:.3f} "
          f"(median of {args.rounds} paired rounds, concurrency {args.concurrency})")


if __name__ == "__main__":
    main()
