"""aria_shape vs TRL and vs a direct ``generate()``, in one run, on the same tiny Qwen3.

1. GRPO step time: :class:`aria_actors.shape.training.policy.GRPORunner` (sample G completions per prompt,
   rewards, group advantages, loss, Adam step) against TRL's ``GRPOTrainer`` doing the same work
   (same model weights and config, prompts per step, G, completion length, learning rate, beta,
   loss ``dapo``, fp32 on CPU: TRL would otherwise autocast to bf16 on CPU). Aria's step runs
   right after each TRL step (from a TRL callback), so machine load hits both alike. Median over
   steps, the first steps of each side dropped as warm-up. Goal: aria / TRL <= 1.0.
2. Generation tokens/s: ``ShapeService.complete`` called through a LocalClient (arguments and
   results pickled as through Ray, the model call in a worker thread) against a direct
   ``model.generate`` of the same batch; both sample exactly ``--tokens`` new tokens per row.
   Interleaved rounds, medians. Goal: aria / direct >= 0.8.
3. Checkpoint dedupe: short GRPO runs (one checkpoint per step) through the real aria_storage
   service (embedded PostgreSQL, local chunk store), a full fine-tune and one with the embeddings
   and layer 0 frozen; prints the share of each checkpoint's bytes in chunks the previous
   checkpoint did not reference (``checkpoint_dedupe: ...``; no peer).
4. Served generation through Ray Serve (starts a local Ray; ``--no-serve`` skips it), for the tiny
   model and a 3M-parameter one: requests to the :mod:`aria_actors.shape.inference.backends.deployment` deployment
   (batched by ``@serve.batch``, model in an engine process) against the same prompts through a
   direct call on batches of ``--batch`` (the faster of HF ``model.generate`` and aria's
   ``generate()``), ``--tokens`` new tokens per prompt on both sides, one torch thread each.
   "burst": ``--batch`` requests at once, waiting for all; "sustained": ``2 * --batch`` clients
   each sending its next request when its last one returned. Serve runs as ``aria up`` runs it
   (``cli.localcluster.SERVE_ENV``: Serve's throughput-optimized mode).
5. The same loads through the shape service in a Ray actor and its Serve application (the path
   of the gateway's routes), with each request its own Serve request and with the service
   gathering concurrent requests into one (``inference_coalesce_s``), alternating round by round.

Prints ``name: aria X, peer Y, ratio Z`` lines. Asserts nothing about time.
Run: ``.venv/bin/python bench/shape.py [--steps 12] [--prompts 4] [--generations 8] [--length 16]
[--only grpo,generation,checkpoints,serve,service]``
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/queue.py would shadow the standard
# library's queue (which torch and datasets import).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse
import asyncio
import copy
import os
import statistics
import tempfile
import time
from typing import Any


def line(name: str, aria: float, peer: float, unit: str, higher_is_better: bool) -> None:
    ratio = aria / peer if peer else float("nan")
    goal = ">= 0.8" if higher_is_better else "<= 1.0"
    print(f"{name}: aria {aria:.4g} {unit}, peer {peer:.4g} {unit}, ratio {ratio:.3f} (goal {goal})")


def bench_grpo(model_dir: str, args: argparse.Namespace) -> None:
    import datasets
    import torch
    import trl
    from transformers import TrainerCallback

    from aria_actors.shape.characters.corpus import prompts
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.model import load_model
    from aria_actors.shape.training.policy import GRPORunner, GRPOSettings
    from aria_actors.shape.training.rewards import trait_coverage

    total = args.steps + args.warmup
    settings = GRPOSettings(num_generations=args.generations, max_completion_length=args.length,
                            learning_rate=1e-3, beta=args.beta, loss_type="dapo")
    # Aria's runner steps inside TRL's loop (on each step end), so both sides see the same load.
    ours = load_model(ShapeConfig(model_path=model_dir))
    runner = GRPORunner(ours.model, ours.tokenizer, settings)
    aria_times: list[float] = []

    def aria_step() -> None:
        t0 = time.perf_counter()
        runner.step(prompts(args.prompts, seed=len(aria_times)))
        aria_times.append(time.perf_counter() - t0)

    # TRL, same weights, same batch shape
    theirs = load_model(ShapeConfig(model_path=model_dir))
    rows = [p for i in range(total) for p in prompts(args.prompts, seed=i)]

    def reward(prompts: list[str], completions: list[str], **_: object) -> list[float]:
        return trait_coverage(prompts, completions)

    class Timer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self._t = 0.0

        def on_step_begin(self, *a: object, **k: object) -> None:
            self._t = time.perf_counter()

        def on_step_end(self, *a: object, **k: object) -> None:
            self.times.append(time.perf_counter() - self._t)
            aria_step()

    timer = Timer()
    with tempfile.TemporaryDirectory(prefix="aria-bench-shape-") as out:
        cfg = trl.GRPOConfig(
            output_dir=out, per_device_train_batch_size=args.prompts * args.generations,
            num_generations=args.generations, max_completion_length=args.length, learning_rate=1e-3,
            beta=args.beta, loss_type="dapo", temperature=1.0, max_steps=total, bf16=False,
            use_cpu=True, report_to="none", save_strategy="no", logging_strategy="no",
            disable_tqdm=True, dataloader_num_workers=0, seed=0, max_grad_norm=1.0,
        )
        trainer = trl.GRPOTrainer(model=theirs.model, reward_funcs=[reward], args=cfg,
                                  train_dataset=datasets.Dataset.from_dict({"prompt": rows}),
                                  processing_class=copy.deepcopy(theirs.tokenizer), callbacks=[timer])
        torch.set_num_threads(1)
        trainer.train()
    a = statistics.median(aria_times[args.warmup:])
    p = statistics.median(timer.times[args.warmup:])
    line(f"grpo_step_s (P={args.prompts} G={args.generations} L={args.length} beta={args.beta})",
         a, p, "s", higher_is_better=False)


async def bench_generation(model_dir: str, args: argparse.Namespace) -> None:

    from aria_actors.runtime.local import LocalClient
    from aria_actors.runtime.principal import Principal
    from aria_actors.runtime.settings import AriaSettings
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.service import ShapeService

    svc = ShapeService(AriaSettings(home=Path(tempfile.mkdtemp(prefix="aria-bench-shape-home-"))),
                       ShapeConfig(model_path=model_dir))
    from aria_actors.runtime.service import Deps

    await svc.start(Deps())
    await svc.wait_ready()
    client = LocalClient(svc)  # outside Ray: the service's in-process backend
    batch, direct, _ = direct_peers(model_dir, args.batch, args.tokens)  # peer: HF model.generate
    n_tokens = len(batch) * args.tokens

    aria_rates, direct_rates = [], []
    for r in range(args.rounds + 1):
        t0 = time.perf_counter()
        await client.call("complete", Principal.operator(), batch, max_new_tokens=args.tokens,
                          min_new_tokens=args.tokens, seed=r)
        t1 = time.perf_counter()
        direct()
        t2 = time.perf_counter()
        if r:  # round 0 warms both up
            aria_rates.append(n_tokens / (t1 - t0))
            direct_rates.append(n_tokens / (t2 - t1))
    await svc.stop()
    line(f"generation_tokens_per_s (batch={len(batch)} tokens={args.tokens})",
         statistics.median(aria_rates), statistics.median(direct_rates), "tok/s", higher_is_better=True)



def direct_peers(model_dir: str, batch_size: int, tokens: int) -> tuple[list[str], Any, Any]:
    """One batch of prompts and the two direct peers of served generation on it: HF
    ``model.generate`` and aria's KV-cached ``generate()``, both in this process."""
    import torch

    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.model import generate, load_model

    loaded = load_model(ShapeConfig(model_path=model_dir))
    tok = loaded.tokenizer
    batch = [f"Traits: {t}.\nDescription:" for t in ("brave", "kind", "shy", "wise")] * (batch_size // 4)

    def hf_batch() -> None:
        enc = tok(batch, return_tensors="pt", padding=True)
        with torch.no_grad():
            loaded.model.generate(**enc, max_new_tokens=tokens, min_new_tokens=tokens,
                                  do_sample=True, top_k=None, top_p=None, pad_token_id=tok.pad_token_id)

    def aria_batch() -> None:
        generate(loaded, batch, max_new_tokens=tokens, min_new_tokens=tokens)

    return batch, hf_batch, aria_batch


def timed(fn: Any, times: int = 1) -> float:
    t0 = time.perf_counter()
    for _ in range(times):
        fn()
    return time.perf_counter() - t0

def bench_serve(model_dir: str, args: argparse.Namespace, label: str = "tiny") -> None:
    """Tokens/s through the Serve deployment vs the same prompts through a direct generate() call.

    Both sides generate ``--tokens`` tokens for every prompt (min = max new tokens), in batches of
    ``--batch`` prompts, with one torch thread. The peer is the faster of HF ``model.generate`` and
    aria's own ``generate()`` (the KV-cached loop the replica runs), measured on the same batches.

    - burst: ``--batch`` requests sent at once, wait for all (round-trip latency bound: Serve's
      per-request cost is not hidden) vs one direct batch.
    - sustained: ``2 * --batch`` clients, each sending its next request when the last one returned,
      ``--rounds * --batch`` requests in all (a server under load: requests of the next batch
      arrive while the replica computes) vs ``--rounds`` direct batches back to back.
    """
    import ray
    from ray import serve

    from aria_actors.cli.localcluster import SERVE_ENV
    from aria_actors.shape.inference.backends.deployment import deploy

    os.environ.update(SERVE_ENV)  # Serve as Aria runs it (`aria up` starts Ray with SERVE_ENV)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        handle = deploy(model_dir, name="bench_shape", max_new_tokens=args.tokens,
                        min_new_tokens=args.tokens, max_batch_size=args.batch, batch_wait_timeout_s=0.05)
        batch, hf_batch, aria_batch = direct_peers(model_dir, args.batch, args.tokens)
        n_tokens = len(batch) * args.tokens

        burst: dict[str, list[float]] = {"serve": [], "hf": [], "aria": []}
        sustained: dict[str, list[float]] = {"serve": [], "hf": [], "aria": []}

        async def one_burst() -> float:
            t0 = time.perf_counter()
            await asyncio.gather(*[handle.complete.remote(p) for p in batch])
            return time.perf_counter() - t0

        async def under_load() -> float:
            todo = [batch[i % len(batch)] for i in range(args.rounds * len(batch))]

            async def client() -> None:
                while todo:
                    await handle.complete.remote(todo.pop())

            t0 = time.perf_counter()
            await asyncio.gather(*[client() for _ in range(2 * len(batch))])
            return time.perf_counter() - t0

        async def run_all() -> dict:  # one event loop for every round: the handle's router stays warm
            await one_burst()
            aria_batch()
            hf_batch()
            for _ in range(args.rounds):
                burst["serve"].append(n_tokens / await one_burst())
                burst["hf"].append(n_tokens / timed(hf_batch))
                burst["aria"].append(n_tokens / timed(aria_batch))
            for _ in range(3):
                total = n_tokens * args.rounds
                sustained["serve"].append(total / await under_load())
                sustained["hf"].append(total / timed(hf_batch, args.rounds))
                sustained["aria"].append(total / timed(aria_batch, args.rounds))

            return await handle.stats.remote()

        # One loop for the handle's whole life: with Serve's router on the caller's loop (Aria's
        # throughput-optimized Serve), a handle cannot be used once its loop has closed.
        stats = asyncio.run(run_all())
        model_label = f"{label} model, {stats['parameters'] / 1e6:.2f}M parameters"
        for kind, rates in (("burst", burst), ("sustained", sustained)):
            med = {k: statistics.median(v) for k, v in rates.items()}
            peer = max(("hf", "aria"), key=lambda k: med[k])
            clients = f"{len(batch)} requests at once" if kind == "burst" else \
                f"{2 * len(batch)} clients, {args.rounds * len(batch)} requests"
            line(f"serve_tokens_per_s_{kind} ({model_label}: {clients}, tokens={args.tokens}; peer: direct "
                 f"{'HF model.generate' if peer == 'hf' else 'aria generate()'} on batches of {len(batch)}, "
                 f"HF {med['hf']:.0f} / aria {med['aria']:.0f} tok/s)",
                 med["serve"], med[peer], "tok/s", higher_is_better=True)
        print(f"serve_replica ({label}): {stats['batches']} batches, mean batch {stats['mean_batch']:.1f}, "
              f"engine busy {1000 * stats['model_s'] / max(stats['batches'], 1):.0f} ms per batch "
              f"(direct aria batch: {1000 * n_tokens / statistics.median(burst['aria']):.0f} ms)")
        serve.delete("bench_shape")
    finally:
        ray.shutdown()


class _ServiceHost:
    """Body of a Ray actor holding a ShapeService that generates through its Serve application,
    as the runtime runs it: the path of the gateway's /v1/shape routes."""

    def __init__(self, home: str, config: dict) -> None:
        from pathlib import Path

        from aria_actors.runtime.settings import AriaSettings
        from aria_actors.shape.config import ShapeConfig
        from aria_actors.shape.service import ShapeService

        self.svc = ShapeService(AriaSettings(home=Path(home)), ShapeConfig(**config))

    async def start(self) -> dict:
        from aria_actors.runtime.service import Deps

        await self.svc.start(Deps())
        return (await self.svc.wait_ready()).details["inference"]

    def coalesce(self, seconds: float) -> None:
        backend = self.svc._inference()
        backend.config = backend.config.model_copy(update={"inference_coalesce_s": seconds})

    async def complete(self, prompt: str, tokens: int) -> str:
        from aria_actors.runtime.principal import Principal

        return (await self.svc.complete(Principal.operator(), [prompt], max_new_tokens=tokens,
                                        min_new_tokens=tokens))[0]

    async def stats(self) -> dict:
        return {**await self.svc._inference()._apps[self.svc._served_version].handle.stats.remote(),
                "actor_pid": os.getpid()}

    async def stop(self) -> None:
        await self.svc.stop()


def bench_serve_service(model_dir: str, args: argparse.Namespace) -> None:
    """Tokens/s through the shape service actor and its Serve application (what the gateway calls:
    one actor call per request), with and without the service gathering concurrent requests into
    one Serve request (``inference_coalesce_s``), vs the same prompts through a direct call.

    Same loads as :func:`bench_serve` (burst: ``--batch`` requests at once; sustained:
    ``2 * --batch`` clients), the two modes alternating round by round on one service.
    """
    import ray
    from ray import serve

    from aria_actors.cli.localcluster import SERVE_ENV

    os.environ.update(SERVE_ENV)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False, runtime_env={"env_vars": {"PYTHONPATH": str(_HERE.parent)}})
    home = tempfile.mkdtemp(prefix="aria-bench-shape-svc-")
    try:
        serve.start(proxy_location="Disabled")
        config = {"model_path": model_dir, "inference": "serve", "max_new_tokens": args.tokens,
                  "inference_max_batch_size": args.batch, "inference_batch_wait_s": 0.05}
        host = ray.remote(_ServiceHost).remote(home, config)
        ray.get(host.start.remote())
        batch, hf_batch, aria_batch = direct_peers(model_dir, args.batch, args.tokens)
        n_tokens = len(batch) * args.tokens

        async def one_burst() -> float:
            t0 = time.perf_counter()
            await asyncio.gather(*[host.complete.remote(p, args.tokens) for p in batch])
            return time.perf_counter() - t0

        async def under_load() -> float:
            todo = [batch[i % len(batch)] for i in range(args.rounds * len(batch))]

            async def client() -> None:
                while todo:
                    await host.complete.remote(todo.pop(), args.tokens)

            t0 = time.perf_counter()
            await asyncio.gather(*[client() for _ in range(2 * len(batch))])
            return time.perf_counter() - t0

        modes = {("per-request" if c == 0 else f"coalesced {1000 * c:g} ms"): c for c in args.coalesce}
        import psutil

        pids = ray.get(host.stats.remote())
        procs = {"driver": psutil.Process(), "actor": psutil.Process(pids["actor_pid"]),
                 "replica": psutil.Process(pids["pid"]), "engine": psutil.Process(pids["engine_pid"])}
        cpu_ms: dict[str, dict[str, float]] = {m: dict.fromkeys(procs, 0.0) for m in modes}
        requests: dict[str, int] = dict.fromkeys(modes, 0)

        def cpu() -> dict[str, float]:
            return {k: sum(p.cpu_times()[:2]) for k, p in procs.items()}
        burst: dict[str, list[float]] = {**{m: [] for m in modes}, "hf": [], "aria": []}
        sustained: dict[str, list[float]] = {**{m: [] for m in modes}, "hf": [], "aria": []}

        async def run_all() -> None:
            await one_burst()
            aria_batch()
            hf_batch()
            for _ in range(args.rounds):
                for mode, seconds in modes.items():
                    await host.coalesce.remote(seconds)
                    burst[mode].append(n_tokens / await one_burst())
                burst["hf"].append(n_tokens / timed(hf_batch))
                burst["aria"].append(n_tokens / timed(aria_batch))
            for _ in range(args.sustained_runs):
                total = n_tokens * args.rounds
                for mode, seconds in modes.items():
                    await host.coalesce.remote(seconds)
                    before = cpu()
                    sustained[mode].append(total / await under_load())
                    after = cpu()
                    requests[mode] += args.rounds * len(batch)
                    for k in procs:
                        cpu_ms[mode][k] += 1000 * (after[k] - before[k])
                sustained["hf"].append(total / timed(hf_batch, args.rounds))
                sustained["aria"].append(total / timed(aria_batch, args.rounds))

        asyncio.run(run_all())
        stats = ray.get(host.stats.remote())
        for kind, rates in (("burst", burst), ("sustained", sustained)):
            med = {k: statistics.median(v) for k, v in rates.items()}
            peer = max(("hf", "aria"), key=lambda k: med[k])
            clients = f"{len(batch)} requests at once" if kind == "burst" else \
                f"{2 * len(batch)} clients, {args.rounds * len(batch)} requests"
            for mode in modes:
                line(f"serve_service_tokens_per_s_{kind} (tiny model through the shape actor + its Serve app, "
                     f"{mode}: {clients}, tokens={args.tokens}; peer: direct "
                     f"{'HF model.generate' if peer == 'hf' else 'aria generate()'} on batches of {len(batch)}, "
                     f"HF {med['hf']:.0f} / aria {med['aria']:.0f} tok/s)",
                     med[mode], med[peer], "tok/s", higher_is_better=True)
        for mode in modes:
            per = {k: v / requests[mode] for k, v in cpu_ms[mode].items()}
            print(f"serve_service_cpu ({mode}, sustained runs, ms of CPU per request): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))
        print(f"serve_service_replica: {stats['batches']} batches, mean batch {stats['mean_batch']:.1f}, "
              f"engine busy {1000 * stats['model_s'] / max(stats['batches'], 1):.0f} ms per batch")
        ray.get(host.stop.remote())
    finally:
        ray.shutdown()
        import shutil

        shutil.rmtree(home, ignore_errors=True)


async def bench_checkpoints(model_dir: str, args: argparse.Namespace) -> None:
    """Dedupe of consecutive GRPO checkpoints in aria_storage (real service, embedded Postgres)."""
    import shutil
    import uuid

    import pgserver

    from aria_actors.runtime.local import LocalClient
    from aria_actors.runtime.service import Deps
    from aria_actors.runtime.settings import AriaSettings
    from aria_actors.shape.training.checkpoints import StorageCheckpoints
    from aria_actors.shape.training.job import run_training
    from aria_actors.storage.config import StorageConfig
    from aria_actors.storage.service import StorageService

    # pgserver chmods every parent of the data dir o+rx when run as root: keep it directly in /tmp.
    pgdata = f"/tmp/aria-bench-shape-pg-{uuid.uuid4().hex[:6]}"
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    work = Path(tempfile.mkdtemp(prefix="aria-bench-shape-ckpt-"))
    cfg = StorageConfig(store_url=str(work / "store"), database_url=server.get_uri())
    svc = StorageService(AriaSettings(home=work / "home"), cfg)
    await svc.start(Deps())
    try:
        from aria_actors.runtime.principal import Principal
        from aria_actors.runtime.rpc import bind
        from aria_actors.storage.client import StorageClient

        client = bind(StorageClient, LocalClient(svc))
        base = {"num_generations": args.generations, "max_completion_length": args.length,
                "learning_rate": 1e-3, "relabel": True}
        runs = {"full fine-tune": base,
                "embeddings+layer 0 frozen": {**base, "freeze": ["model.embed_tokens", "model.layers.0."]}}
        parts = []
        for label, settings in runs.items():
            sink = StorageCheckpoints(client, label.replace(" ", "_").replace("/", "_"),
                                      caller=Principal.operator(), loop=asyncio.get_running_loop(),
                                      cache_dir=work / "cache")
            out = await asyncio.to_thread(run_training, model_dir, steps=args.checkpoints,
                                          prompts_per_step=args.prompts, checkpoint_every=1,
                                          settings=settings, checkpoints=sink)
            later = out["dedupe"][1:]  # the first checkpoint of a run has nothing before it
            logical = sum(r["logical_bytes"] for r in later)
            new = sum(r["new_bytes"] for r in later)
            blob = {k: sum(r["by_blob"][k]["new_bytes"] for r in later) /
                    sum(r["by_blob"][k]["size"] for r in later) for k in later[0]["by_blob"]}
            parts.append(f"{label}: new chunks {100 * new / logical:.1f}% of {logical / len(later) / 1024:.0f} KiB "
                         f"per checkpoint, dedupe ratio {logical / new:.2f}x "
                         f"(new: model {100 * blob['model']:.0f}%, optimizer {100 * blob['optimizer']:.0f}%, "
                         f"assets {100 * blob['assets']:.0f}%)")
        print(f"checkpoint_dedupe (tiny Qwen3, {args.checkpoints} checkpoints, one per GRPO step, P={args.prompts} "
              f"G={args.generations} L={args.length}, chunks {cfg.chunk_min // 1024}K/{cfg.chunk_avg // 1024}K/"
              f"{cfg.chunk_max // 1024}K; new = uncompressed bytes of chunks the previous checkpoint did not "
              f"reference, ratio = logical / new): " + "; ".join(parts))
    finally:
        await svc.stop()
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--length", type=int, default=16)
    ap.add_argument("--beta", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--checkpoints", type=int, default=6, help="GRPO steps (one checkpoint each) for the dedupe line.")
    ap.add_argument("--coalesce", type=lambda v: [float(x) for x in v.split(",")], default=[0.0, 0.005],
                    help="inference_coalesce_s values the service part alternates (0: one Serve request each).")
    ap.add_argument("--sustained-runs", type=int, default=3, help="Sustained runs per mode of the service part.")
    ap.add_argument("--no-serve", action="store_true", help="Skip the Ray Serve line (starts a local Ray).")
    ap.add_argument("--only", default="",
                    help="Comma-separated parts to run: grpo,generation,serve,service,checkpoints.")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))

    import torch

    torch.set_num_threads(1)
    from aria_actors.shape.config import ShapeConfig
    from aria_actors.shape.model import build_tiny

    with tempfile.TemporaryDirectory(prefix="aria-bench-shape-model-") as d:
        model_dir = str(build_tiny(ShapeConfig(pretrain_steps=0), Path(d) / "tiny"))
        if not only or "grpo" in only:
            bench_grpo(model_dir, args)
        if not only or "generation" in only:
            asyncio.run(bench_generation(model_dir, args))
        if not only or "checkpoints" in only:
            asyncio.run(bench_checkpoints(model_dir, args))
        if (not only and not args.no_serve) or "serve" in only:
            bench_serve(model_dir, args)
            # Serve's cost is per request, the model's per token and row: a model with more work
            # per token shows how the ratio moves (both sides run the same model).
            small = ShapeConfig(pretrain_steps=0, hidden_size=256, num_layers=4, num_heads=8, num_kv_heads=4,
                                intermediate_size=768)
            bench_serve(str(build_tiny(small, Path(d) / "small")), args, "small")
        if (not only and not args.no_serve) or "service" in only:
            bench_serve_service(model_dir, args)


if __name__ == "__main__":
    main()
