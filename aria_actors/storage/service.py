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
  not committed are lost when the actor restarts (the client retries). An upload id works
  only for the principal that began it.
- Every call is authorized as its caller (``@rpc`` below; aria_security's role table, in
  process). An asset belongs to the subject that created it; each version records its uploader.
  A role holding ``storage:asset:write`` only ``@own`` (``user``) writes only its own assets
  under its own namespace ``users/<subject>/`` (``names``), and with ``storage:asset:delete``
  only ``@own`` deletes only the versions it uploaded itself. Names under the reserved prefixes
  (``StorageSettings.reserved_prefixes``, ``shape/``) need ``storage:reserved:write``; creating an
  asset in another subject's ``users/`` namespace needs write ``@any``. Assets from before
  owners were recorded belong to nobody. Assets carry no tenant yet, so tenant-scoped grants
  (editor) reach every asset.
- Names, tags, content types and prefixes with control characters, and metadata with NUL, lone
  surrogates or NaN are refused (400) before anything is chunked or sent to Postgres.
- Maintenance (gc, verify, sync, lifecycle) needs ``storage:store:*`` across tenants (operator,
  admin). ``sync`` copies only to stores the operator named in ``sync_targets``.
- aria_auth (a declared dependency) is not called yet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import pathlib
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aria_actors.data.client import DataClient
from aria_actors.data.migrations import migrate_database
from aria_actors.data.pool import Database
from aria_actors.runtime import caches
from aria_actors.runtime.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import RpcSpec, default_gate, rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.spec import Health, Status
from aria_actors.storage import chunker
from aria_actors.storage.backends import open_store
from aria_actors.storage.chunker import ChunkerParams
from aria_actors.storage.compose import CacheStore, ObservedStore, RouterStore
from aria_actors.storage.config import StorageSettings
from aria_actors.storage.errors import AssetNotFound, NoSyncTargets, SyncTargetUnknown
from aria_actors.storage.extract import extract, read_blob
from aria_actors.storage.index import decode, encode
from aria_actors.storage.maintenance import InFlight, gc, stats, sync, verify
from aria_actors.storage.make import make_index
from aria_actors.storage.names import USERS, json_problem, text_problem, user_prefix
from aria_actors.storage.repository import AssetRepository
from aria_actors.storage.spec import SPEC

if TYPE_CHECKING:
    from aria_actors.runtime.settings import AriaSettings

PROBE_CHUNK = "0" * 64  # never a real SHA512/256 id in practice; probed for reachability only
ME = Principal.internal(SPEC.name)
READ, LIST = "storage:asset:read", "storage:asset:list"
WRITE, DELETE = "storage:asset:write", "storage:asset:delete"
# Writing under a reserved prefix (a service's own assets, e.g. aria_shape's checkpoints): editors
# (storage:*:*), services (*:*:write@any), admins and internal principals hold it; @own users not.
RESERVED = "storage:reserved:write"
_NO_TENANT = "\x00no-tenant"  # no caller's tenant: only @any grants match a resource of it
MAX_NAME = 512
# Paths on the service's node (put from a file, extract to one): whoever names them reads or
# writes that node's disk, so only holders of storage:store:* across tenants may.
NODE_FILES = RpcSpec("node_files", "storage:store:path", scope="any")
MAX_SEARCH = 1000


class StorageService(Service):
    SPEC = SPEC

    def __init__(self, settings: AriaSettings, config: StorageSettings | None = None) -> None:
        super().__init__(settings)
        self.config = config or settings.storage  # the tree's [storage] section
        self.store: Any = None
        self.primary: Any = None  # the writable store (gc, verify, stats act on it)
        self.repo: AssetRepository | None = None
        self._db: Database | None = None
        self._pool: Any = None  # self._db.pool
        self._in_flight: InFlight | None = None
        self._started = False
        self.db_error = ""
        self._uploads: dict[str, tuple[str, str]] = {}  # upload id -> (temporary file, subject)

    # lifecycle ---------------------------------------------------------------------------------
    def store_url(self) -> str:
        return self.config.store_url or self.settings.storage_url or str(
            self.settings.home / "storage" / "store")

    def _open(self, url: str) -> Any:
        return open_store(url, **self.config.store_options(url))

    async def start(self, deps: Deps) -> None:
        await super().start(deps)

        self._in_flight = InFlight()
        # gc/verify/stats act on the main store itself; reads and writes go through the cache.
        self.primary = await asyncio.to_thread(self._open, self.store_url())
        primary = self.primary
        # chunk reads counted for aria_tune's cache proposals (runtime/caches.py): a cache's hits
        # and misses, or, with no cache, every read a miss (what a cache would give, from the curve)
        cached = bool(self.config.cache_dir)
        self.chunk_stats = caches.register(
            "chunk", SPEC.name, unit="chunks", setting="storage.cache_dir",
            rate=1.0,  # every read: a chunk read is a file or network read, the record is nothing beside it
            capacity=lambda: None if cached else 0,  # None: the cache directory has no size bound
            description="the local chunk cache in front of the store" if cached else
            "no chunk cache (storage.cache_dir is empty): every chunk read goes to the store")
        if cached:
            primary = CacheStore(await asyncio.to_thread(self._open, self.config.cache_dir), primary,
                                 self.chunk_stats)
        else:
            primary = ObservedStore(primary, self.chunk_stats)
        extras = [await asyncio.to_thread(self._open, u) for u in self.config.extra_stores]
        self.store = RouterStore([primary, *extras]) if extras else primary
        data = None
        if deps.get("aria_data") is not None:
            data = deps.of(DataClient)
        dsn, setting = self.config.database_url.get_secret_value(), "ARIA_STORAGE_DATABASE_URL"
        if not dsn:
            dsn, setting = self.settings.database_url.get_secret_value(), "ARIA_DATABASE_URL"
        if not dsn and data is not None:  # the embedded (or configured) database of aria_data
            dsn = await data.dsn(ME)
        if dsn:
            self._db = await Database.connect(dsn, setting=setting, name=SPEC.name, min_size=1,
                                              max_size=self.config.pool_size)
            self._pool = self._db.pool
            if data is not None:
                await data.migrate(ME, SPEC.name)
            else:  # no aria_data service (a test, a tool): aria_data's migrator, run from here
                await migrate_database(dsn, ["aria_storage"], setting=setting)
            self.repo = AssetRepository(self._db)
        else:
            self.db_error = "no database configured (ARIA_STORAGE_DATABASE_URL / ARIA_DATABASE_URL)"
        self._started = True

    async def health(self) -> Health:
        if not self._started:
            return Health(Status.STARTING, "not started")

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
        db, self._db, self._pool = self._db, None, None
        if db is not None:
            await db.close()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
            self.store = None
        self.repo = None

    # helpers ----------------------------------------------------------------------------------
    def _repo(self) -> AssetRepository:
        if self.repo is None:
            raise ServiceUnavailable(f"asset versions need a database: {self.db_error}",
                                     service="aria_storage")
        return self.repo

    def _params(self) -> Any:
        c = self.config
        return ChunkerParams(c.chunk_min, c.chunk_avg, c.chunk_max)

    def _make(self, source: Any, registered: list[str]) -> Any:
        def on_chunk(cid: str) -> None:
            self._in_flight.add(cid)  # type: ignore[union-attr]
            registered.append(cid)

        index = make_index(source, self.store, self._params(), workers=self.config.workers or None,
                           on_chunk=on_chunk)
        if self.config.durable:
            self.store.flush()  # the version row must never name chunks a power loss can take
        return index

    async def _index(self, name: str, version: int | None) -> tuple[Any, Any]:
        _check_name(name)
        info = await self._repo().get(name, version)
        return info, decode(info.index_data or b"", f"{name}@{info.version}")

    # assets -----------------------------------------------------------------------------------
    def _write_check(self, caller: Principal, name: str) -> Callable[[str | None, bool], None]:
        """The check of a write to asset ``name``, given its owner (None: none recorded) and whether
        the write creates it: the namespaces of ``names``, then ownership of an existing asset."""
        gate = default_gate()
        mine = user_prefix(caller.subject)
        beyond_own = gate.allowed(caller, WRITE, {"tenant": caller.tenant})
        reserved = next((p for p in self.config.reserved_prefixes if name.startswith(p)), None)

        def check(owner: str | None, created: bool) -> None:
            if not beyond_own:
                gate.require(caller, WRITE, {"owner": caller.subject, "tenant": caller.tenant})
                if not name.startswith(mine) or name == mine:
                    raise Forbidden(f"{caller.subject!r} may write only assets named {mine}<name> "
                                    f"(its own namespace), not {name[:80]!r}", action=WRITE,
                                    allowed_prefix=mine)
            if reserved is not None and not gate.allowed(caller, RESERVED, {"tenant": caller.tenant}):
                raise Forbidden(f"names under {reserved!r} are reserved for a service's own assets; "
                                f"{caller.subject!r} may not write {name[:80]!r}", action=RESERVED,
                                reserved_prefix=reserved)
            if created and name.startswith(USERS) and not name.startswith(mine) \
                    and not gate.allowed(caller, WRITE, {"tenant": _NO_TENANT}):
                raise Forbidden(f"{name[:80]!r} is in another subject's namespace; {caller.subject!r} "
                                f"creates assets there only with {WRITE}@any (its own: {mine})",
                                action=WRITE, allowed_prefix=mine)
            if not created:
                gate.require(caller, WRITE, {"owner": owner})

        return check

    async def _put(self, caller: Principal, name: str, source: Any, content_type: str,
                   metadata: dict[str, Any] | None, tags: list[str] | None) -> dict[str, Any]:
        _check_name(name)
        _check_text(content_type, "content_type")
        _check_metadata(metadata)
        if tags is not None and not isinstance(tags, list):
            raise BadRequest("tags must be a list of strings", field="tags")
        for tag in tags or ():
            _check_text(tag, "tags")
        # Fail before chunking: refused chunks would sit in the store until the next gc. The same
        # check runs again inside the version's transaction (a racing creator of the name).
        check = self._write_check(caller, name)
        repo = self._repo()
        try:
            owner, created = await repo.owner(name), False
        except AssetNotFound:
            owner, created = None, True
        check(owner, created)
        registered: list[str] = []
        try:
            index = await asyncio.to_thread(self._make, source, registered)
            info = await repo.add_version(
                name, size=index.length, content_type=content_type, metadata=metadata or {},
                tags=sorted(set(tags or [])), chunk_count=len(index.chunks), index_data=encode(index),
                owner=caller.subject, authorize=check)
        finally:
            self._in_flight.release(registered)  # type: ignore[union-attr]
        return info.to_dict()

    @rpc(WRITE, scope="own", features=("cas", "desync-dedupe", "compression", "versions", "s3", "sftp"))
    async def put(self, caller: Principal, name: str, data: bytes | None = None, *, path: str | None = None,
                  content_type: str = "application/octet-stream",
                  metadata: dict[str, Any] | None = None,
                  tags: list[str] | None = None) -> dict[str, Any]:
        """Store ``data`` (or the file at ``path``) as the next version of ``name``.

        The caller owns a new asset; adding a version to an existing one needs ownership of it or
        storage:asset:write beyond @own. A caller writing only by @own writes under
        ``users/<subject>/`` only; reserved prefixes need storage:reserved:write. ``path`` is a
        file on the service's node, so it needs storage:store:path (operator, admin, the
        cluster's own services).
        """
        if (data is None) == (path is None):
            raise BadRequest("put needs exactly one of data or path", field="data")
        if path is not None:
            default_gate().check(NODE_FILES, caller)
        source = io.BytesIO(data) if data is not None else path
        return await self._put(caller, name, source, content_type, metadata, tags)

    def _upload_dir(self) -> str:
        path = os.path.join(self.settings.home, "storage", "uploads")
        os.makedirs(path, exist_ok=True)
        return path

    @rpc(WRITE, scope="own")
    async def upload_begin(self, caller: Principal) -> str:
        """Start a streamed upload; returns its id for upload_part / upload_commit (this caller's only)."""
        upload_id = uuid.uuid4().hex
        path = os.path.join(self._upload_dir(), upload_id)
        await asyncio.to_thread(pathlib.Path(path).touch)
        self._uploads[upload_id] = (path, caller.subject)
        return upload_id

    def _upload_path(self, caller: Principal, upload_id: str) -> str:
        path, subject = self._uploads.get(upload_id, ("", ""))
        # Another caller's upload answers like a missing one: an id is no proof of anything.
        if not path or subject != caller.subject:
            raise NotFound(f"no upload {upload_id!r} in progress (expired, committed or not yours)",
                           upload_id=upload_id)
        return path

    @rpc(WRITE, scope="own")
    async def upload_part(self, caller: Principal, upload_id: str, data: bytes) -> int:
        """Append ``data``; returns the upload's size so far."""
        path = self._upload_path(caller, upload_id)

        def append() -> int:
            with open(path, "ab") as f:
                f.write(data)
                return f.tell()

        return await asyncio.to_thread(append)

    @rpc(WRITE, scope="own", features=("cas", "desync-dedupe", "compression", "versions", "s3", "sftp"))
    async def upload_commit(self, caller: Principal, upload_id: str, name: str, *,
                            content_type: str = "application/octet-stream",
                            metadata: dict[str, Any] | None = None,
                            tags: list[str] | None = None) -> dict[str, Any]:
        """Chunk the uploaded file into the store as the next version of ``name`` (as ``put``)."""
        path = self._upload_path(caller, upload_id)
        try:
            return await self._put(caller, name, path, content_type, metadata, tags)
        finally:
            self._uploads.pop(upload_id, None)
            os.unlink(path)

    @rpc(WRITE, scope="own")
    async def upload_abort(self, caller: Principal, upload_id: str) -> None:
        """Drop this caller's upload; an unknown, finished or another caller's id is left alone.

        Quiet rather than 404 because callers abort from their error paths (after a failed
        commit, say), where a second error would hide the first.
        """
        path, subject = self._uploads.get(upload_id, ("", ""))
        if not path or subject != caller.subject:
            return
        self._uploads.pop(upload_id, None)
        if os.path.exists(path):
            os.unlink(path)

    @rpc(READ, features=("cas", "cdn"))
    async def get(self, caller: Principal, name: str, version: int | None = None) -> bytes:
        _, index = await self._index(name, version)
        return await asyncio.to_thread(read_blob, index, self.store)

    @rpc(READ, features=("cas", "cdn", "s3", "sftp"))
    async def read_range(self, caller: Principal, name: str, start: int, end: int,
                         version: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of a version, fetching only the chunks that overlap them."""
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

    @rpc(NODE_FILES.permission, scope="any", feature="desync-dedupe")
    async def extract(self, caller: Principal, name: str, out: str, *, version: int | None = None,
                      seed: str | None = None) -> dict[str, Any]:
        """Write a version to ``out`` (on the service's node), reusing chunks found in ``seed``.

        Both are paths on the service's node, hence storage:store:path rather than a read.
        """
        _, index = await self._index(name, version)
        stats = await asyncio.to_thread(extract, index, self.store, out,
                                        seeds=[seed] if seed else [],
                                        workers=self.config.workers or None)
        return {"chunks": stats.chunks, "bytes": stats.bytes, "from_seed": stats.from_seed,
                "from_store": stats.from_store}

    @rpc(READ, feature="desync-dedupe")
    async def index(self, caller: Principal, name: str, version: int | None = None) -> bytes:
        """The version's ``.caibx`` (for desync/casync clients)."""
        info, _ = await self._index(name, version)
        return info.index_data or b""

    @rpc(READ, feature="versions")
    async def info(self, caller: Principal, name: str, version: int | None = None) -> dict[str, Any]:
        _check_name(name)
        return (await self._repo().get(name, version)).to_dict()

    @rpc(LIST, feature="versions")
    async def versions(self, caller: Principal, name: str) -> list[dict[str, Any]]:
        _check_name(name)
        return [v.to_dict() for v in await self._repo().versions(name)]

    @rpc(LIST, feature="metadata-search")
    async def search(self, caller: Principal, metadata: dict[str, Any] | None = None,
                     tags: list[str] | None = None, name_prefix: str | None = None,
                     content_type: str | None = None, latest_only: bool = False,
                     limit: int = 100) -> list[dict[str, Any]]:
        if not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH:
            raise BadRequest(f"limit must be 1-{MAX_SEARCH}", field="limit")
        _check_metadata(metadata)
        if tags is not None and not isinstance(tags, list):
            raise BadRequest("tags must be a list of strings", field="tags")
        for tag in tags or ():
            _check_text(tag, "tags")
        if name_prefix is not None:
            _check_text(name_prefix, "name_prefix", allow_empty=True)
        if content_type is not None:
            _check_text(content_type, "content_type")
        found = await self._repo().search(metadata=metadata, tags=tags, name_prefix=name_prefix,
                                          content_type=content_type, latest_only=latest_only,
                                          limit=limit)
        return [v.to_dict() for v in found]

    @rpc(DELETE, scope="own", feature="versions")
    async def delete_version(self, caller: Principal, name: str, version: int) -> None:
        """Forget a version: one the caller uploaded itself, or any with storage:asset:delete
        beyond @own (owning the asset is not enough: others' versions of it stay theirs).

        Its chunks go at the next gc if nothing else uses them.
        """
        _check_name(name)
        repo = self._repo()
        default_gate().require(caller, DELETE, {"owner": await repo.version_owner(name, version)})
        await repo.delete(name, version)

    @rpc("storage:store:lifecycle", scope="any", feature="lifecycle")
    async def set_lifecycle_rule(self, caller: Principal, name_prefix: str, *, keep_last: int | None = None,
                                 older_than_s: float | None = None) -> dict[str, Any]:
        """Store a rule for assets whose name starts with ``name_prefix`` ("" = all)."""
        _check_text(name_prefix, "name_prefix", allow_empty=True)
        self._check_rule(keep_last, older_than_s)
        await self._repo().put_rule(name_prefix, keep_last, older_than_s)
        return {"name_prefix": name_prefix, "keep_last": keep_last, "older_than_s": older_than_s}

    @rpc("storage:store:read", feature="lifecycle")
    async def lifecycle_rules(self, caller: Principal) -> list[dict[str, Any]]:
        return await self._repo().rules()

    @rpc("storage:store:lifecycle", scope="any", feature="lifecycle")
    async def delete_lifecycle_rule(self, caller: Principal, name_prefix: str) -> None:
        _check_text(name_prefix, "name_prefix", allow_empty=True)
        await self._repo().delete_rule(name_prefix)

    @staticmethod
    def _check_rule(keep_last: int | None, older_than_s: float | None) -> None:
        if keep_last is None and older_than_s is None:
            raise BadRequest("give keep_last and/or older_than_s", field="keep_last")
        _check_bounds(keep_last, older_than_s)

    @rpc("storage:store:lifecycle", scope="any", job=True, feature="lifecycle")
    async def apply_lifecycle(self, caller: Principal, *, name: str | None = None, keep_last: int | None = None,
                              older_than_s: float | None = None,
                              dry_run: bool = False) -> dict[str, list[int]]:
        """Delete old versions of ``name`` (default every asset) by count and/or age, or by stored rules.

        Versions beyond the newest ``keep_last`` and/or older than ``older_than_s`` go. Without
        either, apply the stored rules: each asset follows the rule with the longest prefix of its
        name. The newest version always stays. Chunks of deleted versions go at the next gc.
        """
        if name:
            _check_name(name)
        _check_bounds(keep_last, older_than_s)
        repo = self._repo()
        names = [name] if name else await repo.names()
        if keep_last is None and older_than_s is None:
            rules = sorted(await repo.rules(), key=lambda r: len(r["name_prefix"]), reverse=True)
            if not rules:
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
        return [decode(raw, f"{n}@{v}") for n, v, raw in await self._repo().live_indexes()]

    @rpc("storage:store:gc", scope="any", job=True, feature="gc")
    async def gc(self, caller: Principal, grace_s: float | None = None, dry_run: bool = False) -> dict[str, Any]:
        grace = self.config.gc_grace_s if grace_s is None else _number(grace_s, "grace_s", 0, 1e10)
        with self._in_flight.sweeping():  # type: ignore[union-attr]  # before the live set is read
            live = await self._live()
            r = await asyncio.to_thread(gc, self.primary, live, grace_s=grace,
                                        in_flight=self._in_flight, dry_run=dry_run)
        return {"live": r.live, "kept": r.kept, "young": r.young, "protected": r.protected,
                "removed": len(r.removed), "removed_bytes": r.removed_bytes, "dry_run": dry_run}

    @rpc("storage:store:verify", scope="any", job=True, feature="cas")
    async def verify(self, caller: Principal, quarantine: bool = False) -> dict[str, Any]:
        qdir = None
        if quarantine:
            qdir = os.path.join(self.settings.home, "storage", "quarantine")
        r = await asyncio.to_thread(verify, self.primary, quarantine=qdir)
        return {"checked": r.checked, "corrupt": r.corrupt, "quarantined": r.quarantined}

    @rpc("storage:store:read", feature="sync")
    async def sync_targets(self, caller: Principal) -> list[str]:
        """The names ``sync`` accepts (the operator's ``ARIA_STORAGE_SYNC_TARGETS``)."""
        return sorted(self.config.sync_targets)

    def _target_url(self, target: str) -> str:
        targets = self.config.sync_targets
        if not targets:
            raise NoSyncTargets()
        url = targets.get(target) if isinstance(target, str) else None
        if url is None:
            shown = str(target)[:80]
            raise SyncTargetUnknown(f"no sync target {shown!r}; configured: {', '.join(sorted(targets))}",
                                    target=shown, targets=sorted(targets))
        return url

    @rpc("storage:store:sync", scope="any", job=True, features=("sync", "s3", "sftp"))
    async def sync(self, caller: Principal, target: str) -> dict[str, Any]:
        """Copy the live chunks that the configured sync target named ``target`` lacks.

        ``target`` names one of the operator's ``sync_targets``; it is never a path or URL. The
        chunks come from this service's store.
        """
        url = self._target_url(target)
        live = await self._live()
        ids = set().union(*(i.chunk_ids() for i in live)) if live else set()
        dst = await asyncio.to_thread(self._open, url)
        try:
            r = await asyncio.to_thread(sync, self.store, dst, ids)
        finally:
            dst.close()
        return {"target": target, "copied": r.copied, "present": r.present, "missing": r.missing,
                "invalid": r.invalid}

    @rpc("storage:store:read", features=("desync-dedupe", "compression"))
    async def stats(self, caller: Principal) -> dict[str, Any]:
        live = await self._live()
        return (await asyncio.to_thread(stats, self.primary, live)).to_dict()


def _number(value: Any, field: str, lo: float, hi: float, *, integer: bool = False) -> Any:
    """``value`` once it is a number in [lo, hi] (an int where ``integer``); else a 400. The
    routes bound the same fields; a job's or another service's arguments arrive unchecked."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not lo <= value <= hi:
        kind = "an integer" if integer else "a number"
        raise BadRequest(f"{field} must be {kind} from {lo:g} to {hi:g}", field=field)
    return value


def _check_bounds(keep_last: Any, older_than_s: Any) -> None:
    """A lifecycle's counts and ages, with the routes' bounds."""
    if keep_last is not None:
        _number(keep_last, "keep_last", 1, 2**31 - 1, integer=True)
    if older_than_s is not None:
        _number(older_than_s, "older_than_s", 0, 1e10)


def _check_text(value: Any, field: str, *, allow_empty: bool = False) -> None:
    """400 unless ``value`` is text Postgres stores and a name may hold (``names.text_problem``)."""
    problem = text_problem(value, allow_empty=allow_empty)
    if problem:
        raise BadRequest(f"{field} {problem}", field=field)


def _check_name(name: Any) -> None:
    _check_text(name, "name")
    if len(name) > MAX_NAME:
        raise BadRequest(f"asset name must be 1-{MAX_NAME} characters", field="name")


def _check_metadata(metadata: Any) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise BadRequest("metadata must be a JSON object", field="metadata")
    problem = json_problem(metadata)
    if problem:
        raise BadRequest(f"metadata {problem}", field="metadata")
