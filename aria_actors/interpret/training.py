"""DIN training as an aria_queue job, ``aria_interpret.train``, and its artifact in aria_storage.

::

    InterpretService.start_training(version, dataset, config) as the caller
        dataset "interactions": the tenant's feedback events -> a JSON snapshot put to
            aria_storage as interpret/datasets/<version> (as the caller)
        dataset "movielens-100k": the copy shipped in the recbole wheel
        -> enqueue aria_interpret.train {version, dataset, snapshot, config} as the caller
        -> aria_interpret.training_runs row (only recorded jobs become versions)
    queue worker actor -> train_job: read the data, train (din.train), serialise the model
        (din.artifact), put it to aria_storage as interpret/models/<version> (as the enqueuer)
        -> result {version, asset, asset_version, sha256, metrics, config}
    aria_interpret (its poll, or training_status) registers the version from the result row

Guarantees and caveats
----------------------
- The worker takes exactly :class:`TrainArgs` (unknown keys, bad ids or configs discard the job at
  once: no retry would do better) and no path: data come from the wheel or from aria_storage.
- The job runs as its enqueuer: the snapshot is read and the artifact written with the enqueuer's
  rights in aria_storage; a job without a recorded enqueuer is discarded.
- Training is deterministic for a seed (``config.seed``); a retried attempt trains again from the
  start (a run takes seconds to a minute on MovieLens-100k) and puts a new artifact version; the
  result names the version it wrote, with the sha256 of its bytes, which the service checks again
  when it loads the version.
- The worker never registers the version: aria_interpret does, from the result row of a job it
  recorded, so calls go along the dependency graph (interpret -> queue -> worker).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aria_actors.interpret.errors import InterpretError
from aria_actors.queue import dispatch
from aria_actors.queue.jobs import Discard
from aria_actors.queue.registry import worker
from aria_actors.runtime.errors import AriaError
from aria_actors.runtime.principal import Principal
from aria_actors.storage.client import StorageClient

WORKER = "aria_interpret.train"
VERSION = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
DATASETS = ("movielens-100k", "interactions")


def model_asset(version: str) -> str:
    return f"interpret/models/{version}"


def dataset_asset(version: str) -> str:
    return f"interpret/datasets/{version}"


class Snapshot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^interpret/datasets/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    version: int = Field(ge=1)


class TrainArgs(BaseModel):
    """The arguments of an ``aria_interpret.train`` job: what start_training builds, nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = Field(pattern=VERSION)
    dataset: Literal["movielens-100k", "interactions"] = "movielens-100k"
    snapshot: Snapshot | None = None
    config: dict[str, Any] = Field(default_factory=dict, max_length=64)


class TrainResult(BaseModel):
    """What a job's result must hold for the service to register it (it is read back from the
    queue's result row, so it is checked like any input)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    version: str = Field(pattern=VERSION)
    asset: str = Field(max_length=300)
    asset_version: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    metrics: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)


def din_config(config: dict[str, Any]) -> Any:
    """The DinConfig of ``config``; ValueError with the reason when it does not validate."""
    # heavy: torch; the service validates configs without loading it at import
    from aria_actors.interpret.din.train import DinConfig

    try:
        return DinConfig(**config)
    except (TypeError, ValueError, ValidationError) as exc:
        raise ValueError(f"invalid DIN config: {exc}") from None


def snapshot_bytes(rows: list[dict[str, Any]]) -> bytes:
    """Feedback events as the snapshot a job trains on: JSON lines of {user, item, ts, category}."""
    return "\n".join(json.dumps({"user": r["subject"], "item": r["object"], "ts": r["ts"].timestamp(),
                                 "category": r["category"] or "item"}) for r in rows).encode()


def _log_of(args: TrainArgs, data: bytes | None) -> Any:
    # heavy: the data loaders read pandas-free files but sit beside torch code; loaded in the worker
    from aria_actors.interpret.din import data as din_data

    if args.dataset == "movielens-100k":
        return din_data.load_movielens()
    rows = [json.loads(line) for line in (data or b"").decode().splitlines() if line.strip()]
    return din_data.InteractionLog.from_rows(rows)


def train_artifact(args: TrainArgs, data: bytes | None) -> tuple[bytes, dict[str, Any]]:
    """Train on ``args``' data; the artifact's bytes and its metrics. CPU-bound: run in a thread."""
    # heavy: torch, in the queue worker only
    from aria_actors.interpret.din.artifact import to_bytes
    from aria_actors.interpret.din.train import train_din

    config = din_config(args.config)
    trained = train_din(_log_of(args, data), config)
    return to_bytes(trained), dict(trained.metrics)


async def train_version(args_in: Any, caller: Principal | None, storage: Any = None) -> dict[str, Any]:
    """The run of one job; ``storage``: a StorageClient (default: the runtime's, in a queue worker)."""
    try:
        args = TrainArgs.model_validate(args_in)
        config = din_config(args.config)
    except (ValidationError, ValueError) as exc:
        raise Discard(f"aria_interpret.train takes only what POST /v1/interpret/train builds: {exc}") from None
    if caller is None:
        raise Discard("this job records no enqueuer, so it may not use aria_storage; enqueue it through "
                      "POST /v1/interpret/train")
    if args.dataset == "interactions" and args.snapshot is None:
        raise Discard("dataset 'interactions' needs the snapshot start_training stores")
    storage = storage or dispatch.typed_client(StorageClient)
    data = None
    if args.snapshot is not None:
        if args.snapshot.name != dataset_asset(args.version):
            raise Discard(f"the snapshot of {args.version!r} is {dataset_asset(args.version)!r}, nothing else")
        # Only a snapshot its enqueuer wrote: a job may not train on data someone else exported.
        info = await storage.info(caller, args.snapshot.name, args.snapshot.version)
        if info.get("owner") != caller.subject:
            raise Discard(f"snapshot {args.snapshot.name!r} was not written by this job's enqueuer")
        data = await storage.get(caller, args.snapshot.name, args.snapshot.version)
    try:
        blob, metrics = await asyncio.to_thread(train_artifact, args, data)
    except InterpretError as exc:
        if exc.status < 500:  # not enough data, a bad config: the same every attempt
            raise Discard(f"cannot train {args.version!r}: {exc.message}") from None
        raise
    stored = await storage.put(caller, model_asset(args.version), blob, content_type="application/x-aria-din",
                               metadata={"version": args.version, "dataset": args.dataset})
    return {"version": args.version, "asset": model_asset(args.version), "asset_version": int(stored["version"]),
            "sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob), "dataset": args.dataset,
            "metrics": metrics, "config": config.model_dump(mode="json") if hasattr(config, "model_dump")
            else dict(args.config)}


# Versions serve every tenant: enqueueing the worker needs the permission across tenants, as
# start_training does (a direct enqueue trains with its enqueuer's rights but is never registered).
@worker(queue="interpret-train", name=WORKER, max_attempts=3, timeout=3600.0, permission="interpret:model:train",
        scope="any")
async def train_job(job: Any) -> dict[str, Any]:
    """aria_queue worker: :func:`train_version` of the job's args, as the job's enqueuer."""
    try:
        return await train_version(job.args, job.caller)
    except AriaError as exc:
        if exc.status not in (401, 403):
            raise
        raise Discard(f"aria_storage refused the job's enqueuer: {exc.message}") from exc
