"""aria_storage: content-addressed asset store in the desync/casync format.

Assets are chunked (native buzhash chunker), chunks go to the store (deduplicated by id,
zstd-compressed, ``<4 hex>/<id>.cacnk``), and each version's ``.caibx`` index plus its metadata,
tags and content type go to Postgres (schema ``aria_storage``).

Put path::

    bytes/path -> make_index (threads) -> chunks in store -> version row (index) -> VersionInfo
                       \\-- chunk ids registered in-flight until the row commits (gc-safe)

Guarantees and caveats:
- A version is visible only after all of its chunks are stored; ``get`` verifies every chunk.
- ``gc`` treats every version row as live and the chunks of running puts as in flight, so it is
  safe against puts in this service; see ``maintenance`` for puts from other processes.
- Without a database (no ``ARIA_STORAGE_DATABASE_URL``/``ARIA_DATABASE_URL``) the chunk store
  works (make/extract/gc-less maintenance) but versions do not: health says DEGRADED.
- Uploads stream: ``upload_begin`` / ``upload_part`` / ``upload_commit`` append parts to a temporary
  file on the service's node, then chunk it like ``put(path=...)``; the HTTP API feeds parts of
  at most 8 MiB, so neither the gateway nor the service holds a whole asset in memory. Uploads
  not committed are lost when the actor restarts (the client retries).
- aria_security and aria_auth (declared dependencies) are not called yet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import pathlib
import time
from typing import TYPE_CHECKING, Any

from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.spec import Health, ServiceSpec, Status
from aria_actors.storage.config import StorageConfig

if TYPE_CHECKING:
    from aria_actors.runtime.settings import AriaSettings
    from aria_actors.storage.maintenance import InFlight
    from aria_actors.storage.repository import AssetRepository

FEATURES = (
    "cas",
    "s3",
    "sftp",
    "cdn",
    "desync-dedupe",
    "compression",
    "versions",
    "sync",
    "gc",
    "metadata-search",
    "lifecycle",
)

SPEC = ServiceSpec(
    name="aria_storage",
    layer=2,
    # aria_data is not in the seed's list, but asset versions live in Postgres "through aria_data".
    depends_on=('aria_security', 'aria_auth', 'aria_data'),
    kind="actor",
    num_cpus=0.0,
    capabilities=FEATURES,  # every seed feature is built and tested
    features=FEATURES,
    description="Content-addressed chunk store in the desync/casync format",
    entrypoint="aria_actors.storage.service:StorageService",
)

PROBE_CHUNK = "0" * 64  # never a real SHA512/256 id in practice; probed for reachability only


class StorageService(Service):
    SPEC = SPEC

    def __init__(self, settings: AriaSettings, config: StorageConfig | None = None) -> None:
        super().__init__(settings)
        self.config = config or StorageConfig()
        self.store: Any = None
        self.primary: Any = None  # the writable store (gc, verify, stats act on it)
        self.repo: AssetRepository | None = None
        self._pool: Any = None
        self._in_flight: InFlight | None = None
        self._started = False
        self.db_error = ""
        self._uploads: dict[str, str] = {}  # upload id -> temporary file

    # lifecycle ---------------------------------------------------------------------------------
    def store_url(self) -> str:
        return self.config.store_url or self.settings.storage_url or str(
            self.settings.home / "storage" / "store")

    def _open(self, url: str) -> Any:
        from aria_actors.storage.backends import open_store

        return open_store(url, **self.config.store_options(url))

    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        from aria_actors.storage.compose import CacheStore, RouterStore
        from aria_actors.storage.maintenance import InFlight

        self._in_flight = InFlight()
        # gc/verify/stats act on the main store itself; reads and writes go through the cache.
        self.primary = await asyncio.to_thread(self._open, self.store_url())
        primary = self.primary
        if self.config.cache_dir:
            primary = CacheStore(await asyncio.to_thread(self._open, self.config.cache_dir), primary)
        extras = [await asyncio.to_thread(self._open, u) for u in self.config.extra_stores]
        self.store = RouterStore([primary, *extras]) if extras else primary
        data = deps.get("aria_data")
        dsn = self.config.database_url.get_secret_value() or \
            self.settings.database_url.get_secret_value()
        if not dsn and data is not None:  # the embedded (or configured) database of aria_data
            dsn = await data.call("dsn")
        if dsn:
            import asyncpg

            from aria_actors.data.migrations import migrate_up
            from aria_actors.storage.repository import AssetRepository

            self._pool = await asyncpg.create_pool(dsn, min_size=1, max_size=self.config.pool_size)
            if data is not None:
                await data.call("migrate", "aria_storage")
            else:
                async with self._pool.acquire() as conn:
                    await migrate_up(conn, services=["aria_storage"])
            self.repo = AssetRepository(self._pool)
        else:
            self.db_error = "no database configured (ARIA_STORAGE_DATABASE_URL / ARIA_DATABASE_URL)"
        self._started = True

    async def health(self) -> Health:
        if not self._started:
            return Health(Status.STARTING, "not started")
        from aria_actors.storage import chunker

        details: dict[str, Any] = {"store": str(self.store), "native_chunker": chunker.NATIVE}
        try:
            t = time.perf_counter()
            await asyncio.to_thread(self.store.has_chunk, PROBE_CHUNK)
            details["store_probe_ms"] = round((time.perf_counter() - t) * 1000, 2)
        except Exception as exc:
            return Health(Status.FAILED, f"chunk store unreachable: {exc}", details)
        problems = []
        if self.repo is not None:
            try:
                details["versions"] = await self.repo.ping()
                details["pool_size"] = self._pool.get_size()
            except Exception as exc:
                problems.append(f"database unreachable: {exc}")
        else:
            problems.append(self.db_error)
        details["puts_in_flight_chunks"] = len(self._in_flight or ())
        if not chunker.NATIVE:
            problems.append(chunker.NATIVE_ERROR)
        if problems:
            return Health(Status.DEGRADED, "; ".join(problems), details)
        return Health(Status.READY, "store and database reachable", details)

    async def stop(self) -> None:
        self._started = False
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
            self.store = None
        self.repo = None

    # helpers ----------------------------------------------------------------------------------
    def _repo(self) -> AssetRepository:
        if self.repo is None:
            from aria_actors.runtime.errors import ServiceUnavailable

            raise ServiceUnavailable(f"asset versions need a database: {self.db_error}",
                                     service="aria_storage")
        return self.repo

    def _params(self) -> Any:
        from aria_actors.storage.chunker import ChunkerParams

        c = self.config
        return ChunkerParams(c.chunk_min, c.chunk_avg, c.chunk_max)

    def _make(self, source: Any, registered: list[str]) -> Any:
        from aria_actors.storage.make import make_index

        def on_chunk(cid: str) -> None:
            self._in_flight.add(cid)  # type: ignore[union-attr]
            registered.append(cid)

        return make_index(source, self.store, self._params(), workers=self.config.workers or None,
                          on_chunk=on_chunk)

    async def _index(self, name: str, version: int | None) -> tuple[Any, Any]:
        from aria_actors.storage.index import decode

        info = await self._repo().get(name, version)
        return info, decode(info.index_data or b"", f"{name}@{info.version}")

    # assets -----------------------------------------------------------------------------------
    async def put(self, name: str, data: bytes | None = None, *, path: str | None = None,
                  content_type: str = "application/octet-stream",
                  metadata: dict[str, Any] | None = None,
                  tags: list[str] | None = None) -> dict[str, Any]:
        """Store ``data`` (or the file at ``path``) as the next version of ``name``."""
        import io

        from aria_actors.runtime.errors import BadRequest
        from aria_actors.storage.index import encode

        if (data is None) == (path is None):
            raise BadRequest("put needs exactly one of data or path", field="data")
        if not name or len(name) > 512:
            raise BadRequest("asset name must be 1-512 characters", field="name")
        repo = self._repo()
        registered: list[str] = []
        try:
            source = io.BytesIO(data) if data is not None else path
            index = await asyncio.to_thread(self._make, source, registered)
            info = await repo.add_version(
                name, size=index.length, content_type=content_type, metadata=metadata or {},
                tags=sorted(set(tags or [])), chunk_count=len(index.chunks), index_data=encode(index))
        finally:
            self._in_flight.release(registered)  # type: ignore[union-attr]
        return info.to_dict()

    def _upload_dir(self) -> str:
        path = os.path.join(self.settings.home, "storage", "uploads")
        os.makedirs(path, exist_ok=True)
        return path

    async def upload_begin(self) -> str:
        """Start a streamed upload; returns its id for upload_part / upload_commit."""
        import uuid

        upload_id = uuid.uuid4().hex
        path = os.path.join(self._upload_dir(), upload_id)
        await asyncio.to_thread(pathlib.Path(path).touch)
        self._uploads[upload_id] = path
        return upload_id

    def _upload_path(self, upload_id: str) -> str:
        from aria_actors.runtime.errors import NotFound

        path = self._uploads.get(upload_id)
        if path is None:
            raise NotFound(f"no upload {upload_id!r} in progress (expired or committed)",
                           upload_id=upload_id)
        return path

    async def upload_part(self, upload_id: str, data: bytes) -> int:
        """Append ``data``; returns the upload's size so far."""
        path = self._upload_path(upload_id)

        def append() -> int:
            with open(path, "ab") as f:
                f.write(data)
                return f.tell()

        return await asyncio.to_thread(append)

    async def upload_commit(self, upload_id: str, name: str, **put_options: Any) -> dict[str, Any]:
        """Chunk the uploaded file into the store as the next version of ``name``."""
        path = self._upload_path(upload_id)
        try:
            return await self.put(name, path=path, **put_options)
        finally:
            self._uploads.pop(upload_id, None)
            os.unlink(path)

    async def upload_abort(self, upload_id: str) -> None:
        path = self._uploads.pop(upload_id, None)
        if path is not None and os.path.exists(path):
            os.unlink(path)

    async def get(self, name: str, version: int | None = None) -> bytes:
        from aria_actors.storage.extract import read_blob

        _, index = await self._index(name, version)
        return await asyncio.to_thread(read_blob, index, self.store)

    async def read_range(self, name: str, start: int, end: int,
                         version: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of a version, fetching only the chunks that overlap them."""
        from aria_actors.runtime.errors import BadRequest

        _, index = await self._index(name, version)
        end = min(end, index.length)
        if start < 0 or start > end:
            raise BadRequest(f"range {start}-{end} outside 0-{index.length}", field="range")

        def read() -> bytes:
            parts = []
            for c in index.chunks:
                if c.end <= start or c.start >= end:
                    continue
                data = self.store.get_chunk(c.hex)
                parts.append(data[max(start - c.start, 0): min(end, c.end) - c.start])
            return b"".join(parts)

        return await asyncio.to_thread(read)

    async def extract(self, name: str, out: str, *, version: int | None = None,
                      seed: str | None = None) -> dict[str, Any]:
        """Write a version to ``out`` (on the service's node), reusing chunks found in ``seed``."""
        from aria_actors.storage.extract import extract

        _, index = await self._index(name, version)
        stats = await asyncio.to_thread(extract, index, self.store, out,
                                        seeds=[seed] if seed else [],
                                        workers=self.config.workers or None)
        return {"chunks": stats.chunks, "bytes": stats.bytes, "from_seed": stats.from_seed,
                "from_store": stats.from_store}

    async def index(self, name: str, version: int | None = None) -> bytes:
        """The version's ``.caibx`` (for desync/casync clients)."""
        info, _ = await self._index(name, version)
        return info.index_data or b""

    async def info(self, name: str, version: int | None = None) -> dict[str, Any]:
        return (await self._repo().get(name, version)).to_dict()

    async def versions(self, name: str) -> list[dict[str, Any]]:
        return [v.to_dict() for v in await self._repo().versions(name)]

    async def search(self, metadata: dict[str, Any] | None = None, tags: list[str] | None = None,
                     name_prefix: str | None = None, content_type: str | None = None,
                     latest_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        found = await self._repo().search(metadata=metadata, tags=tags, name_prefix=name_prefix,
                                          content_type=content_type, latest_only=latest_only,
                                          limit=limit)
        return [v.to_dict() for v in found]

    async def delete_version(self, name: str, version: int) -> None:
        """Forget a version; its chunks go at the next gc if nothing else uses them."""
        await self._repo().delete(name, version)

    async def set_lifecycle_rule(self, name_prefix: str, *, keep_last: int | None = None,
                                 older_than_s: float | None = None) -> dict[str, Any]:
        """Store a rule for assets whose name starts with ``name_prefix`` ("" = all)."""
        self._check_rule(keep_last, older_than_s)
        await self._repo().put_rule(name_prefix, keep_last, older_than_s)
        return {"name_prefix": name_prefix, "keep_last": keep_last, "older_than_s": older_than_s}

    async def lifecycle_rules(self) -> list[dict[str, Any]]:
        return await self._repo().rules()

    async def delete_lifecycle_rule(self, name_prefix: str) -> None:
        await self._repo().delete_rule(name_prefix)

    @staticmethod
    def _check_rule(keep_last: int | None, older_than_s: float | None) -> None:
        from aria_actors.runtime.errors import BadRequest

        if keep_last is None and older_than_s is None:
            raise BadRequest("give keep_last and/or older_than_s", field="keep_last")
        if keep_last is not None and keep_last < 1:
            raise BadRequest("keep_last must be at least 1", field="keep_last")
        if older_than_s is not None and older_than_s < 0:
            raise BadRequest("older_than_s must be >= 0", field="older_than_s")

    async def apply_lifecycle(self, *, name: str | None = None, keep_last: int | None = None,
                              older_than_s: float | None = None,
                              dry_run: bool = False) -> dict[str, list[int]]:
        """Delete versions beyond the newest ``keep_last`` and/or older than ``older_than_s``
        (for ``name``, or every asset). Without either, apply the stored rules: each asset
        follows the rule with the longest prefix of its name. The newest version always stays.
        Chunks of deleted versions go at the next gc."""
        repo = self._repo()
        names = [name] if name else await repo.names()
        if keep_last is None and older_than_s is None:
            rules = sorted(await repo.rules(), key=lambda r: len(r["name_prefix"]), reverse=True)
            if not rules:
                from aria_actors.runtime.errors import BadRequest

                raise BadRequest("no lifecycle rules stored; give keep_last/older_than_s",
                                 field="keep_last")
            plan = {}
            for asset in names:
                rule = next((r for r in rules if asset.startswith(r["name_prefix"])), None)
                if rule is not None:
                    plan[asset] = (rule["keep_last"], rule["older_than_s"])
        else:
            self._check_rule(keep_last, older_than_s)
            plan = {asset: (keep_last, older_than_s) for asset in names}
        now = dt.datetime.now(dt.UTC)
        deleted: dict[str, list[int]] = {}
        for asset, (keep, age) in plan.items():
            cutoff = now - dt.timedelta(seconds=age) if age is not None else None
            versions = await repo.lifecycle_candidates(asset, keep, cutoff)
            if not dry_run:
                for v in versions:
                    await repo.delete(asset, v)
            if versions:
                deleted[asset] = versions
        return deleted

    # maintenance ------------------------------------------------------------------------------
    async def _live(self) -> list[Any]:
        from aria_actors.storage.index import decode

        return [decode(raw, f"{n}@{v}") for n, v, raw in await self._repo().live_indexes()]

    async def gc(self, grace_s: float | None = None, dry_run: bool = False) -> dict[str, Any]:
        from aria_actors.storage.maintenance import gc

        live = await self._live()
        grace = self.config.gc_grace_s if grace_s is None else grace_s
        r = await asyncio.to_thread(gc, self.primary, live, grace_s=grace,
                                    in_flight=self._in_flight, dry_run=dry_run)
        return {"live": r.live, "kept": r.kept, "young": r.young, "protected": r.protected,
                "removed": len(r.removed), "removed_bytes": r.removed_bytes, "dry_run": dry_run}

    async def verify(self, quarantine: bool = False) -> dict[str, Any]:
        from aria_actors.storage.maintenance import verify

        qdir = None
        if quarantine:
            qdir = os.path.join(self.settings.home, "storage", "quarantine")
        r = await asyncio.to_thread(verify, self.primary, quarantine=qdir)
        return {"checked": r.checked, "corrupt": r.corrupt, "quarantined": r.quarantined}

    async def sync(self, destination: str, source: str | None = None) -> dict[str, Any]:
        """Copy the chunks of every live version that ``destination`` lacks (from ``source``,
        default this service's store)."""
        from aria_actors.storage.maintenance import sync

        live = await self._live()
        ids = set().union(*(i.chunk_ids() for i in live)) if live else set()
        src = self._open(source) if source else self.store
        dst = self._open(destination)
        try:
            r = await asyncio.to_thread(sync, src, dst, ids)
        finally:
            dst.close()
            if source:
                src.close()
        return {"copied": r.copied, "present": r.present, "missing": r.missing, "invalid": r.invalid}

    async def stats(self) -> dict[str, Any]:
        from aria_actors.storage.maintenance import stats

        live = await self._live()
        return (await asyncio.to_thread(stats, self.primary, live)).to_dict()
