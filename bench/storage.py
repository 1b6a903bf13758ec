"""storage-make: Aria vs casync chunking+hashing+compressing the same file into a store.

The input is ``--size`` bytes (default 1 GiB): the first half incompressible (random), the second
compressible text. Both tools use the same min/avg/max and write into an empty local store in
casync's layout; the bench checks that both indexes name the same chunks, then prints

    storage-make: aria X MB/s, peer Y MB/s, ratio Z
    storage-make-1-thread: aria X MB/s, peer Y MB/s, ratio Z

Aria hashes and compresses on ``default_workers()`` threads, casync on one: the first line says
how many each used, the second holds Aria to casync's one thread. It asserts nothing about time.
On a shared machine run it when the machine is quiet; ``--rounds``
alternates the two tools and keeps each one's best round.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time


def _write_input(path: str, size: int) -> None:
    rng = random.Random(42)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
             for _ in range(4000)]
    half = size // 2
    with open(path, "wb") as f:
        left = half
        while left:  # incompressible half
            n = min(left, 8 << 20)
            f.write(os.urandom(n))
            left -= n
        left = size - half
        line_no = 0
        while left:  # compressible half: log-like text
            block = b"".join(b"%08d %s\n" % (line_no + i, b" ".join(rng.choices(words, k=9)))
                             for i in range(20_000))
            line_no += 20_000
            block = block[:left]
            f.write(block)
            left -= len(block)


def _run_aria(src: str, store_dir: str, index_path: str, params: tuple[int, int, int],
              workers: int | None = None) -> float:
    from aria_actors.storage.backends.local import LocalStore
    from aria_actors.storage.chunker import NATIVE, ChunkerParams
    from aria_actors.storage.index import write_index
    from aria_actors.storage.make import make_index

    if not NATIVE:
        print("WARNING: native chunker not built; Aria runs the slow Python fallback", file=sys.stderr)
    t = time.perf_counter()
    index = make_index(src, LocalStore(store_dir), ChunkerParams(*params), workers=workers)
    write_index(index_path, index)
    return time.perf_counter() - t


def _run_casync(src: str, store_dir: str, index_path: str, params: tuple[int, int, int]) -> float:
    t = time.perf_counter()
    subprocess.run(["casync", "make", "--compression=zstd", "--digest=sha512-256",
                    "--chunk-size={}:{}:{}".format(*params), f"--store={store_dir}", index_path, src],
                   check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    # bench/ holds other benchmarks named like stdlib modules (queue.py), which would shadow them
    # for every later import: keep the script's own folder off the import path.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1 << 30, help="input bytes (default 1 GiB)")
    ap.add_argument("--dir", default=None, help="work directory (default: a temp dir on /var/tmp)")
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds; best of each")
    ap.add_argument("--chunk-size", default="16384:65536:262144", help="min:avg:max")
    args = ap.parse_args()
    params = tuple(int(x) for x in args.chunk_size.split(":"))
    if shutil.which("casync") is None:
        sys.exit("casync is not installed (apt-get install casync)")
    work = tempfile.mkdtemp(prefix="aria-bench-storage-", dir=args.dir or "/var/tmp")
    try:
        src = os.path.join(work, "input.bin")
        _write_input(src, args.size)
        with open(src, "rb") as f:  # same page-cache state for both tools
            while f.read(16 << 20):
                pass
        from aria_actors.storage.make import default_workers

        threads = default_workers()
        runs = {"casync": _run_casync, "aria": _run_aria,
                "aria-1": lambda *a: _run_aria(*a, workers=1)}
        best = dict.fromkeys(runs, float("inf"))
        for r in range(args.rounds):
            for name, fn in runs.items():
                store = os.path.join(work, f"store-{name}")
                shutil.rmtree(store, ignore_errors=True)
                subprocess.run(["sync"], check=False)
                best[name] = min(best[name], fn(src, store, os.path.join(work, f"{name}.caibx"),
                                                params))
            print(f"round {r + 1}: " + ", ".join(f"{n} {args.size / best[n] / 1e6:.1f} MB/s"
                                                 for n in runs), file=sys.stderr)
        with open(os.path.join(work, "aria.caibx"), "rb") as f:
            a = f.read()
        with open(os.path.join(work, "casync.caibx"), "rb") as f:
            c = f.read()
        # Same chunk table (the feature flags in the header may differ: casync adds its own).
        same = a[24:] == c[24:]
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        aria_mbs, peer_mbs = args.size / best["aria"] / 1e6, args.size / best["casync"] / 1e6
        one_mbs = args.size / best["aria-1"] / 1e6
        print(f"storage-make: aria {aria_mbs:.1f} MB/s, peer {peer_mbs:.1f} MB/s, "
              f"ratio {aria_mbs / peer_mbs:.2f} (aria {threads} threads, casync 1; size "
              f"{args.size / 2**20:.0f} MiB, identical chunk ids: {same}, aria max RSS {rss_mb:.0f} MB)")
        print(f"storage-make-1-thread: aria {one_mbs:.1f} MB/s, peer {peer_mbs:.1f} MB/s, "
              f"ratio {one_mbs / peer_mbs:.2f} (both one thread)")
        if not same:
            sys.exit("chunk ids differ between Aria and casync")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
