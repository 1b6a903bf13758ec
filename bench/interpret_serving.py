"""aria_interpret served through the gateway of a real `aria up`, against the same work in-process.

1. Recommendation scoring: a DIN version trained on MovieLens-100k as an aria_queue job
   (``POST /v1/interpret/train``, stored in aria_storage, promoted: Ray Serve replicas), then
   ``POST /v1/interpret/recommend`` for one user and 100 candidates with the user's history given
   in the request, against the same artifact (fetched from aria_storage) scored directly in this
   process with ``DinScorer.score`` and ranked, one torch thread both sides. Sequential requests,
   interleaved rounds, p50/p99. Goal: p99 ratio <= 2 and aria p99 <= 20 ms.
2. Embedding throughput through the service: ``POST /v1/interpret/embed`` of the 1,000
   descriptions of bench/interpret_text.py, against sentence-transformers' ``encode`` called
   directly (that bench's embed line with the service as the aria side). Goal: ratio >= 0.9.

Prints ``name: aria X, peer Y, ratio Z`` lines and what differs. Asserts nothing about time.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse
import random
import shutil
import statistics
import subprocess
import time
import uuid
from collections.abc import Sequence
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.aria_up import ARIA, aria_env


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _wait_served(aria: Any, version: str, job_id: int, timeout_s: float = 1200) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = aria.interpret.training_status(job_id)
        if status["state"] in ("discarded", "cancelled"):
            sys.exit(f"training failed: {status}")
        if status["registered"] and aria.interpret.serving_status()["served"] == version:
            return status
        time.sleep(1)
    sys.exit("training did not finish in time")


def bench_scoring(aria: Any, url: str, token: str, args: argparse.Namespace) -> None:
    import httpx
    import torch

    from aria_actors.interpret.din.artifact import DinScorer

    torch.set_num_threads(1)
    version = f"bench-{uuid.uuid4().hex[:6]}"
    t0 = time.perf_counter()
    # Two epochs: the latency does not depend on how long the version trained (bench/interpret_din.py
    # measures quality); the model's shapes are the default ones.
    job = aria.interpret.start_training(version, "movielens-100k", {"seed": 0, "epochs": 2}, True)
    status = _wait_served(aria, version, int(job["job_id"]), args.train_timeout)
    row = status["registered"]
    print(f"# trained {version} in the queue and promoted: {time.perf_counter() - t0:.1f} s; test "
          f"auc {row['metrics']['test']['auc']:.4f} gauc {row['metrics']['test']['gauc']:.4f}")
    blob = aria.storage.get(row["asset"], row["asset_version"])
    scorer = DinScorer.from_bytes(blob)

    rng = random.Random(0)
    items = [t for t in scorer.items.tokens if t != scorer.items.tokens[0]]  # every known item but padding
    requests = []
    for i in range(20):
        user = f"bench-user-{i}"  # the history is in the request: the id only names the caller's user
        history = rng.sample(items, 50)
        candidates = rng.sample(items, 100)
        requests.append((user, history, candidates))

    def direct(user: str, history: list[str], candidates: list[str]) -> list[str]:
        scores = scorer.score(history, candidates)["scores"]
        return [candidates[i] for i in sorted(range(len(candidates)), key=lambda i: -scores[i])]

    samples: dict[str, list[float]] = {"aria": [], "peer": []}
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=60) as http:
        def served(user: str, history: list[str], candidates: list[str]) -> list[str]:
            r = http.post("/v1/interpret/recommend", json={"user": user, "candidates": candidates,
                                                           "history": history})
            r.raise_for_status()
            body = r.json()
            assert body["version"] == version, body["version"]
            return [x["item"] for x in body["items"]]

        for req in requests:  # warm both; the same ranking both ways
            assert served(*req) == direct(*req), "not the same work"
        per_round = max(1, args.requests // args.rounds)
        for _ in range(args.rounds):
            for side, fn in (("aria", served), ("peer", direct)):
                for i in range(per_round):
                    t1 = time.perf_counter()
                    fn(*requests[i % len(requests)])
                    samples[side].append((time.perf_counter() - t1) * 1000)
    print(f"# {len(samples['aria'])} sequential requests per side: 100 candidates, history 50, one torch thread")
    print("# differs: aria adds HTTP, bearer check, the gateway, the interpret actor, the Serve replica hop "
          "and request batching; the peer calls DinScorer.score on the same artifact in this process")
    for name, p in (("serving_p50", 50), ("serving_p99", 99)):
        a, b = pct(samples["aria"], p), pct(samples["peer"], p)
        goal = "goal: ratio <= 2, aria p99 <= 20 ms" if p == 99 else "context"
        print(f"{name}: aria {a:.2f} ms, peer {b:.2f} ms, ratio {a / b:.2f} ({goal})")
    print(f"# means: aria {statistics.mean(samples['aria']):.2f} ms, peer {statistics.mean(samples['peer']):.2f} ms")


def bench_embed_service(url: str, token: str, argv: Sequence[str]) -> None:
    import importlib.util

    import httpx

    spec = importlib.util.spec_from_file_location("interpret_text", _HERE / "interpret_text.py")
    interpret_text = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["interpret_text"] = interpret_text
    spec.loader.exec_module(interpret_text)  # type: ignore[union-attr]

    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=600) as http:
        def embed(texts: list[str]) -> list[list[float]]:
            r = http.post("/v1/interpret/embed", json={"texts": texts})
            r.raise_for_status()
            return r.json()["vectors"]

        print("# embed through the gateway: POST /v1/interpret/embed (the service's process, one torch thread)")
        interpret_text.run([*argv, "--only", "embed"], embed_fn=embed)


def run(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="scoring requests per side")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--train-timeout", type=float, default=2400)
    parser.add_argument("--serving", choices=("auto", "serve", "local"), default="auto",
                        help="ARIA_INTERPRET_SERVING of the aria up (local: scored in the interpret actor)")
    parser.add_argument("--only", default="scoring,embed")
    args, rest = parser.parse_known_args(argv)
    only = set(args.only.split(","))

    from aria_actors.sdk import AriaClient

    home = Path(f"/tmp/aria-bench-int-{uuid.uuid4().hex[:8]}")
    env = aria_env(home)
    env["ARIA_INTERPRET_SERVE_BATCH_WAIT_S"] = "0"
    env["ARIA_INTERPRET_SERVING"] = args.serving
    url = f"http://127.0.0.1:{env['ARIA_PORT']}"
    try:
        up = subprocess.run([ARIA, "up", "--detach"], env=env, capture_output=True, text=True)
        if up.returncode != 0:
            sys.exit(f"aria up failed:\n{up.stdout}\n{up.stderr}")
        token = subprocess.run([ARIA, "token"], env=env, capture_output=True, text=True, check=True).stdout.strip()
        with AriaClient(url, token=token, timeout=600) as aria:
            if "scoring" in only:
                bench_scoring(aria, url, token, args)
            if "embed" in only:
                bench_embed_service(url, token, rest)
    finally:
        subprocess.run([ARIA, "down"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    run()
