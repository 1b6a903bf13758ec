"""Training checkpoints as blobs that deduplicate, in a directory or in aria_storage.

A checkpoint is four blobs, each serialised deterministically (same values -> same bytes)::

    model      tar (mtime 0, sorted) of save_pretrained's weight files (safetensors)
    optimizer  safetensors of the optimizer state (tensors by parameter index and key,
               param_groups as JSON metadata)
    assets     tar of everything else save_pretrained writes (config, generation config,
               tokenizer files)
    state      JSON: step, metrics, GRPO settings

Sinks::

    DirectoryCheckpoints(root)   <root>/step-NNNNNN/ (an HF model directory + optimizer + state),
                                 written beside as .step-NNNNNN.tmp-* then renamed (publish)
    StorageCheckpoints(client, run)
        put model / optimizer (/ assets, only when they changed) -> versions of
            shape/checkpoints/<run>/{model,optimizer,assets}
        read each new version's .caibx: which chunks the previous checkpoint did not hold
        put shape/checkpoints/<run>/manifest   <- the publish step: names the blob versions,
                                                  the state and the dedupe report

Guarantees and caveats
----------------------
- Write-then-publish: a crash before the manifest (or the rename) leaves the previous checkpoint
  as the newest one; blob versions without a manifest are never read (their chunks go at the
  storage service's next gc once their versions are deleted).
- Dedupe report per checkpoint: ``logical_bytes`` (model + optimizer + assets sizes),
  ``new_bytes`` (uncompressed size of the distinct chunks of this checkpoint that the previous
  checkpoint of the run did not reference; assets reused as they are count 0) and
  ``dedupe_ratio = logical_bytes / new_bytes`` (storage's ``stats()`` definition, per
  checkpoint). A chunk the store held from elsewhere (another run of the same base model)
  still counts as new here, so ``new_bytes`` is an upper bound of what the store wrote.
- Weights and optimizer moments change everywhere after an Adam step, so consecutive checkpoints
  of a full fine-tune share little beyond the assets; frozen parameters (``GRPOSettings.freeze``)
  produce identical bytes and share their chunks (measured in ``docs/shape.md``).
- The storage sink calls the service from synchronous training code: through ``loop`` (the loop
  owning the client, from another thread) or, without one, in a fresh ``asyncio.run`` per call.
  It calls as the ``caller`` it is given (a training job's enqueuer), so a run can write and read
  only what its enqueuer could.
- Blobs are built in memory (about twice the checkpoint while packing) and go up in parts of
  8 MiB when larger (the service's upload path); fine for small models, a multi-GB checkpoint
  wants a streamed pack (files straight to ``upload_part``), not built yet.
- Restoring from aria_storage materialises the checkpoint as a directory (``cache_dir``) on the
  caller's node, ``<cache_dir>/<run>/manifest-NNNNNN-<key>`` (``key``: the manifest's hash). That
  name is enough to make the same directory on any other node (:func:`fetch_trained`, what loading
  a trained model version does where the directory is missing): the manifest version it names,
  checked against ``key``, and each blob against the manifest's sha256. A checkpoint of the
  directory sink is a directory of one node and nothing else.
- A run trusts only what it wrote: the storage sink resumes from, and reads blobs of, manifest and
  blob versions whose ``owner`` (the subject that wrote the version, from aria_storage) is its
  ``caller`` or aria_shape itself (``svc:aria_shape``). The asset names of a run are not reserved
  (the first writer of a name owns it, and a ``user`` may write its own), so a version someone
  else put under ``shape/checkpoints/<run>/`` is skipped: :meth:`StorageCheckpoints.latest` is
  the newest trusted manifest (None, so the run starts fresh, when there is none), and
  :meth:`StorageCheckpoints.local` of an untrusted manifest, or of a manifest naming a blob
  outside its run or written by someone else, raises :class:`CheckpointNotTrusted`. Versions
  from before aria_storage recorded owners have none and are not trusted either.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aria_actors.runtime.principal import Principal
from aria_actors.shape.errors import CheckpointNotTrusted, ModelLoadError, TrainingConfigError
from aria_actors.storage.client import StorageClient
from aria_actors.storage.errors import AssetNotFound
from aria_actors.storage.index import decode

BLOBS = ("model", "optimizer", "assets")
# A published checkpoint fetched into a checkpoint root (StorageCheckpoints.local, fetch_trained).
FETCHED = re.compile(r"^(?P<run>[A-Za-z0-9][A-Za-z0-9._-]{0,127})/"
                     r"manifest-(?P<version>[0-9]{6})-(?P<key>[0-9a-f]{16})$")
WEIGHT_FILE = re.compile(r".*\.safetensors(\.index\.json)?$")
STATE_FILES = ("optimizer.safetensors", "trainer_state.json")
PART_BYTES = 8 << 20  # the storage service's upload part size
T = TypeVar("T")
SHAPE = Principal.internal("aria_shape")  # aria_shape acting for itself
SHAPE_SUBJECT = SHAPE.subject
log = logging.getLogger("aria.shape")


@dataclass
class Saved:
    """A published checkpoint: ``ref`` names it for :meth:`local` and error messages."""

    ref: str
    step: int
    report: dict[str, Any] = field(default_factory=dict)


# -- serialisation ---------------------------------------------------------------------------
def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), 0, 0o644
            tf.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def _untar(data: bytes, out: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tf:
        tf.extractall(out, filter="data")


def optimizer_bytes(state_dict: dict[str, Any]) -> bytes:
    """The optimizer state as safetensors (deterministic for equal values)."""
    import torch  # heavy: torch; checkpoints move as blobs without it, only optimizer state needs it
    from safetensors.torch import save

    tensors: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for idx, per_param in state_dict["state"].items():
        for key, value in per_param.items():
            name = f"state.{int(idx):06d}.{key}"
            if isinstance(value, torch.Tensor):
                tensors[name] = value.detach().cpu().contiguous()
            else:
                other[name] = value
    # One metadata key: safetensors writes its metadata map in hash order, so several keys could
    # come out in a different order each time and change the bytes.
    meta = {"aria": json.dumps({"param_groups": state_dict["param_groups"], "other": other},
                               sort_keys=True)}
    return save(tensors, metadata=meta)


def optimizer_state(data: bytes) -> dict[str, Any]:
    """Inverse of :func:`optimizer_bytes` (an ``Optimizer.load_state_dict`` argument)."""
    from safetensors.torch import load  # heavy: as in optimizer_bytes

    tensors = load(data)
    header_len = int.from_bytes(data[:8], "little")  # safetensors: u64 length, JSON header
    meta = json.loads(json.loads(data[8:8 + header_len])["__metadata__"]["aria"])
    state: dict[int, dict[str, Any]] = {}
    for name, value in [*tensors.items(), *meta["other"].items()]:
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = value
    groups = meta["param_groups"]
    for g in groups:  # JSON made tuples lists; Adam and friends unpack them either way
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
    return {"state": state, "param_groups": groups}


def pack(model: Any, tokenizer: Any, optimizer: Any, state: dict[str, Any], *,
         assets: bytes | None = None) -> dict[str, bytes]:
    """The blobs of a checkpoint (see the module docstring); ``assets`` reuses an assets blob
    (the one of the checkpoint a run resumed from: training changes neither config nor tokenizer,
    while a tokenizer loaded and saved again gains keys in its config and would not dedupe)."""
    with tempfile.TemporaryDirectory(prefix="aria-shape-pack-") as d:
        model.save_pretrained(d)
        if assets is None:
            tokenizer.save_pretrained(d)
        files = {p.name: p.read_bytes() for p in Path(d).iterdir() if p.is_file()}
    weights = {n: b for n, b in files.items() if WEIGHT_FILE.match(n)}
    if assets is None:
        assets = _tar({n: b for n, b in files.items() if n not in weights})
    return {"model": _tar(weights), "assets": assets,
            "optimizer": optimizer_bytes(optimizer.state_dict()),
            "state": json.dumps(state, sort_keys=True).encode()}


def write_dir(blobs: dict[str, bytes], path: str | Path, *, named_by_content: bool = False) -> Path:
    """Materialise blobs as a checkpoint directory (loadable by ``load_model``); atomic.

    ``named_by_content``: the name fixes the content (a fetched checkpoint), so a directory another
    process completed first is kept and this copy dropped, never removed under its readers."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        _untar(blobs["model"], tmp)
        _untar(blobs["assets"], tmp)
        (tmp / STATE_FILES[0]).write_bytes(blobs["optimizer"])
        (tmp / STATE_FILES[1]).write_bytes(blobs["state"])
        if named_by_content and out.exists():
            shutil.rmtree(tmp)
            return out
        if not named_by_content and out.exists():  # a re-run of the same step: the new one wins
            shutil.rmtree(out)
        try:
            os.replace(tmp, out)
        except OSError:
            if not (named_by_content and out.exists()):  # a racing fetch of the same name won
                raise
            shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_assets(path: str | Path) -> bytes:
    """The assets blob of a checkpoint directory written by :func:`write_dir` (same bytes)."""
    files = {p.name: p.read_bytes() for p in Path(path).iterdir()
             if p.is_file() and not WEIGHT_FILE.match(p.name) and p.name not in STATE_FILES}
    return _tar(files)


def read_state(path: str | Path) -> dict[str, Any]:
    return json.loads((Path(path) / "trainer_state.json").read_text())


def read_optimizer(path: str | Path) -> dict[str, Any]:
    return optimizer_state((Path(path) / "optimizer.safetensors").read_bytes())


# -- sinks ------------------------------------------------------------------------------------
class DirectoryCheckpoints:
    """Checkpoints as directories ``<root>/step-NNNNNN`` (no services needed)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def save(self, blobs: dict[str, bytes], step: int) -> Saved:
        return Saved(str(write_dir(blobs, self.root / f"step-{step:06d}")), step)

    def latest(self) -> str | None:
        if not self.root.is_dir():
            return None
        done = [p for p in self.root.glob("step-*") if (p / "trainer_state.json").is_file()]
        best = max(done, key=lambda p: read_state(p)["step"], default=None)
        return str(best) if best else None

    def local(self, ref: str) -> Path:
        return Path(ref)


class StorageCheckpoints:
    """Checkpoints of one run in aria_storage, read and written as ``caller`` (a training job's
    enqueuer: the job has that principal's rights on the store, no more)."""

    def __init__(self, client: StorageClient, run: str, *, caller: Principal,
                 loop: asyncio.AbstractEventLoop | None = None, cache_dir: str | Path | None = None,
                 prefix: str = "shape/checkpoints") -> None:
        if not run or "/" in run:
            raise TrainingConfigError(f"checkpoint run name {run!r} must be non-empty, without '/'",
                                      field="run")
        self.client, self.run, self.loop, self.caller = client, run, loop, caller
        self.base = f"{prefix}/{run}"
        self.cache = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "aria-shape-ckpt"
        self._previous: dict[str, Any] | None = None
        self._previous_ids: dict[str, set[str]] = {}  # chunk ids per blob of the previous checkpoint
        self.reports: list[dict[str, Any]] = []

    def _wait(self, coro: Coroutine[Any, Any, T]) -> T:
        """The result of a storage call, from synchronous training code."""
        if self.loop is None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(coro)
            # Called on a thread that runs an event loop (an actor loading a model): the call gets
            # a loop of its own on another thread, and this one waits.
            with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="aria-ckpt") as pool:
                return pool.submit(asyncio.run, coro).result()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            coro.close()
            raise RuntimeError("StorageCheckpoints blocks: call it from a thread, not its loop")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def _put(self, name: str, data: bytes, **options: Any) -> dict[str, Any]:
        if len(data) <= PART_BYTES:
            return self._wait(self.client.put(self.caller, name, data, **options))
        upload = self._wait(self.client.upload_begin(self.caller))
        try:
            for i in range(0, len(data), PART_BYTES):
                self._wait(self.client.upload_part(self.caller, upload, data[i:i + PART_BYTES]))
            return self._wait(self.client.upload_commit(self.caller, upload, name, **options))
        except BaseException:
            self._wait(self.client.upload_abort(self.caller, upload))
            raise

    def _chunks(self, name: str, version: int) -> dict[str, int]:
        index = decode(self._wait(self.client.index(self.caller, name, version)), f"{name}@{version}")
        return {c.hex: c.size for c in index.chunks}

    def _ref(self, version: int) -> str:
        return f"aria_storage:{self.base}/manifest@{version}"

    def trusted(self, owner: str | None) -> bool:
        """Whether a version written by ``owner`` may be read back into this run: the run's
        caller wrote it, or aria_shape itself (never a version without a recorded owner)."""
        return owner is not None and owner in (self.caller.subject, SHAPE_SUBJECT)

    def _check_owner(self, name: str, version: int) -> None:
        owner = self._wait(self.client.info(self.caller, name, version)).get("owner")
        if not self.trusted(owner):
            raise CheckpointNotTrusted(
                f"{name}@{version} was written by {owner!r}, not by this run's caller "
                f"{self.caller.subject!r}: a run reads back only checkpoints it wrote",
                name=name, version=version, owner=owner)

    def _newest_trusted(self) -> int | None:
        """The newest manifest version this run may resume from (see :meth:`trusted`), if any."""
        name = f"{self.base}/manifest"
        try:
            versions = self._wait(self.client.versions(self.caller, name))
        except AssetNotFound:
            return None
        mine = [int(v["version"]) for v in versions if self.trusted(v.get("owner"))]
        newest = max(mine, default=None)
        skipped = sorted({int(v["version"]) for v in versions} - set(mine))
        if skipped and (newest is None or skipped[-1] > newest):
            log.warning("checkpoint run %s: skipped manifest version(s) %s written by others than %r",
                        self.run, skipped, self.caller.subject)
        return newest

    def _manifest(self, version: int | None = None) -> dict[str, Any] | None:
        """A published manifest this run may trust (default the newest) with its ``ref``, or None.
        A given ``version`` written by someone else raises :class:`CheckpointNotTrusted`."""
        name = f"{self.base}/manifest"
        try:
            if version is None:
                version = self._newest_trusted()
                if version is None:
                    return None
            else:
                self._check_owner(name, version)
            body = json.loads(self._wait(self.client.get(self.caller, name, version)))
        except AssetNotFound:
            return None
        return {**body, "ref": self._ref(version)}

    def latest(self) -> str | None:
        """The newest checkpoint of the run that its caller (or aria_shape) published, or None."""
        manifest = self._manifest()
        if manifest is None:
            return None
        self._previous, self._previous_ids = manifest, {}
        return manifest["ref"]

    def save(self, blobs: dict[str, bytes], step: int) -> Saved:
        prev = self._previous if self._previous is not None else self._manifest()
        prev_ids: dict[str, set[str]] = {}
        for kind in BLOBS if prev else ():
            ref = prev["blobs"][kind]
            known = self._previous_ids.get(kind)
            prev_ids[kind] = known if known is not None else set(self._chunks(ref["name"], ref["version"]))
        before = set().union(*prev_ids.values())
        state = json.loads(blobs["state"])
        refs: dict[str, dict[str, Any]] = {}
        ids: dict[str, set[str]] = {}
        new_ids: set[str] = set()
        for kind in BLOBS:
            data = blobs[kind]
            digest = hashlib.sha256(data).hexdigest()
            name = f"{self.base}/{kind}"
            if prev and prev["blobs"][kind]["sha256"] == digest:
                refs[kind] = {**prev["blobs"][kind], "new_bytes": 0, "reused": True}
                ids[kind] = prev_ids[kind]
                continue
            info = self._put(name, data, metadata={"run": self.run, "step": step, "sha256": digest})
            chunks = self._chunks(name, info["version"])
            fresh = {cid: size for cid, size in chunks.items() if cid not in before and cid not in new_ids}
            new_ids.update(fresh)
            ids[kind] = set(chunks)
            refs[kind] = {"name": name, "version": info["version"], "size": len(data), "sha256": digest,
                          "chunks": len(chunks), "new_bytes": sum(fresh.values()), "reused": False}
        logical = sum(r["size"] for r in refs.values())
        new = sum(r["new_bytes"] for r in refs.values())
        report = {"step": step, "logical_bytes": logical, "new_bytes": new,
                  "shared_fraction": round(1 - new / logical, 4) if logical else 0.0,
                  # None when nothing was new (JSON has no infinity; job results are JSON)
                  "dedupe_ratio": round(logical / new, 4) if new else None,
                  "by_blob": {k: {"size": r["size"], "new_bytes": r["new_bytes"]} for k, r in refs.items()}}
        version = self._publish(step, state, refs, report)
        ref = self._ref(version)
        self._previous = {"ref": ref, "step": step, "state": state, "blobs": refs, "dedupe": report}
        self._previous_ids = ids
        self.reports.append(report)
        return Saved(ref, step, report)

    def _publish(self, step: int, state: dict[str, Any], refs: dict[str, Any],
                 report: dict[str, Any]) -> int:
        body = {"run": self.run, "step": step, "state": state, "blobs": refs, "dedupe": report}
        info = self._put(f"{self.base}/manifest", json.dumps(body, sort_keys=True).encode(),
                         content_type="application/json", metadata={"run": self.run, "step": step},
                         tags=["aria_shape-checkpoint"])
        return int(info["version"])

    def local(self, ref: str) -> Path:
        """The checkpoint ``ref`` as a local directory, fetched once into ``cache_dir`` (keyed by
        the manifest's hash, so a cache shared by several stores never mixes their runs up).
        :class:`CheckpointNotTrusted` if the manifest or one of its blobs was written by someone
        other than the run's caller (or aria_shape), or names a blob outside the run."""
        version = int(ref.rsplit("@", 1)[1])
        manifest = self._manifest(version)
        if manifest is None:
            raise AssetNotFound(f"no checkpoint {ref}", name=f"{self.base}/manifest")
        key = _manifest_key(manifest)
        out = self.cache / self.run / f"manifest-{version:06d}-{key}"
        if (out / "trainer_state.json").is_file():
            return out
        for kind, r in manifest["blobs"].items():  # the blobs this run wrote, nobody else's
            if kind not in BLOBS or r.get("name") != f"{self.base}/{kind}":
                raise CheckpointNotTrusted(f"{ref} names blob {r.get('name')!r} as its {kind!r}, outside "
                                           f"run {self.run!r}", name=f"{self.base}/manifest", version=version)
            self._check_owner(r["name"], int(r["version"]))
        blobs = {k: self._wait(self.client.get(self.caller, r["name"], r["version"]))
                 for k, r in manifest["blobs"].items()}
        blobs["state"] = json.dumps(manifest["state"], sort_keys=True).encode()
        return write_dir(blobs, out)

    def fetch(self, version: int, key: str) -> Path:
        """The published checkpoint ``<run>/manifest-<version>-<key>`` as the directory
        :meth:`local` made of it on the node that registered it, made again here: manifest
        ``version``, which must hash to ``key``, and the blobs it names, each checked against the
        manifest's sha256. Byte for byte what was registered, so whoever wrote it (a registered
        version is vouched for by its registration; aria_shape reads it back as itself)."""
        out = self.cache / self.run / f"manifest-{version:06d}-{key}"
        if (out / "trainer_state.json").is_file():
            return out
        name = f"{self.base}/manifest"
        body = json.loads(self._wait(self.client.get(self.caller, name, version)))
        if _manifest_key({**body, "ref": self._ref(version)}) != key:
            raise CheckpointNotTrusted(f"{name}@{version} does not hash to {key}: not the checkpoint "
                                       "that was registered", name=name, version=version)
        blobs: dict[str, bytes] = {}
        for kind, r in body["blobs"].items():
            if kind not in BLOBS or r.get("name") != f"{self.base}/{kind}":
                raise CheckpointNotTrusted(f"{name}@{version} names blob {r.get('name')!r} as its {kind!r}, "
                                           f"outside run {self.run!r}", name=name, version=version)
            data = self._wait(self.client.get(self.caller, r["name"], int(r["version"])))
            if hashlib.sha256(data).hexdigest() != r["sha256"]:
                raise CheckpointNotTrusted(f"{r['name']}@{r['version']} is not the blob {name}@{version} "
                                           "names (sha256 differs)", name=r["name"], version=r["version"])
            blobs[kind] = data
        blobs["state"] = json.dumps(body["state"], sort_keys=True).encode()
        return write_dir(blobs, out, named_by_content=True)


def _manifest_key(manifest: dict[str, Any]) -> str:
    """What names a fetched checkpoint's directory: the first 16 hex digits of its manifest's hash."""
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]


def trained_ref(path: str | Path) -> str | None:
    """``<run>/manifest-NNNNNN-<key>`` of a checkpoint directory that :meth:`StorageCheckpoints.local`
    made in some node's checkpoint root (``.../shape/checkpoints/<run>/manifest-...``), whatever
    that node's ``ARIA_HOME``; None for any other path."""
    parts = Path(path).parts
    if len(parts) < 4 or parts[-4:-2] != ("shape", "checkpoints"):
        return None
    ref = f"{parts[-2]}/{parts[-1]}"
    return ref if FETCHED.fullmatch(ref) else None


def fetch_trained(home: str | Path, path: str | Path, *, storage: StorageClient | None = None,
                  namespace: str | None = None, loop: asyncio.AbstractEventLoop | None = None) -> Path | None:
    """This node's directory of the checkpoint ``path`` of a model version trained through
    aria_storage (:func:`trained_ref`): ``<home>/shape/checkpoints/<run>/manifest-NNNNNN-<key>``,
    fetched with :meth:`StorageCheckpoints.fetch` when it is missing (trained on another node), as
    aria_shape, through ``storage`` (default: aria_storage in Aria's Ray ``namespace``, default
    this process's; ``loop``: the loop that owns ``storage``, as for the sink). None for any other
    path (an operator's directory, a directory-sink checkpoint: those are where they are, or
    nowhere)."""
    ref = trained_ref(path)
    if ref is None:
        return None
    root = Path(home) / "shape" / "checkpoints"  # job.checkpoint_root, which imports this module
    local = root / ref
    if (local / "config.json").is_file():
        return local
    if storage is None:
        storage = _ray_storage(namespace)
    found = FETCHED.fullmatch(ref)
    assert found is not None  # trained_ref matched it
    store = StorageCheckpoints(storage, found["run"], caller=SHAPE, cache_dir=root, loop=loop)
    log.info("fetching checkpoint %s from aria_storage onto this node", ref)
    return store.fetch(int(found["version"]), found["key"])


def _ray_storage(namespace: str | None) -> StorageClient:
    import ray  # ray: only a process of the cluster fetches, and only when a checkpoint is missing

    from aria_actors.runtime.rpc import bind
    from aria_actors.runtime.shell import RayServiceClient  # ray: as above

    if not ray.is_initialized():
        raise ModelLoadError("a trained checkpoint is missing on this node, and this process is not in "
                             "Aria's Ray cluster to fetch it from aria_storage")
    namespace = namespace or ray.get_runtime_context().namespace
    return bind(StorageClient, RayServiceClient("aria_storage", namespace))
