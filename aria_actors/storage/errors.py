"""Errors of aria_storage. Their types decide behaviour: a router store moves on to the next store
on :class:`ChunkMissing` but stops on :class:`ChunkInvalid`, because a corrupt chunk in one store
means something is wrong, not that another store may have a good copy hiding the problem."""

from __future__ import annotations

from aria_actors.runtime.errors import AriaError


class StorageError(AriaError):
    """The asset store failed; the message names the store, chunk or asset involved."""

    type = "storage"
    status = 500
    title = "Storage error"


class ChunkMissing(StorageError):
    """A chunk the index needs is in none of the stores; sync it from a store that has it
    (`aria storage sync`) or re-make the index from the original file."""

    type = "storage-chunk-missing"
    status = 404
    title = "Chunk missing"


class ChunkInvalid(StorageError):
    """A stored chunk does not hash to its id (corrupt or tampered); run `aria storage verify
    --quarantine` on the store and re-upload the asset or sync the chunk from a good store."""

    type = "storage-chunk-invalid"
    status = 502
    title = "Chunk invalid"


class IndexInvalid(StorageError):
    """The .caibx index is truncated, tampered or not an index; fetch or re-make it."""

    type = "storage-index-invalid"
    status = 422
    title = "Invalid index"


class StoreReadOnly(StorageError):
    """The store is read-only (e.g. an HTTP/CDN store); write to a writable store and sync."""

    type = "storage-read-only"
    status = 405
    title = "Store is read-only"


class StoreUnavailable(StorageError):
    """The store cannot be reached; check its URL, credentials and that the server is up."""

    type = "storage-unavailable"
    status = 503
    title = "Store unavailable"


class AssetNotFound(StorageError):
    """No asset (or no such version) by that name; list versions to see what exists."""

    type = "storage-asset-not-found"
    status = 404
    title = "Asset not found"


class InvalidChunkerParams(StorageError):
    """Chunk sizes must satisfy 48 <= min <= avg <= max; fix the min/avg/max you passed."""

    type = "storage-chunker-params"
    status = 400
    title = "Invalid chunker parameters"


class NoSyncTargets(StorageError):
    """This store has no sync targets: an operator names them in ARIA_STORAGE_SYNC_TARGETS
    (JSON, name -> store URL), then a sync names one of them."""

    type = "storage-no-sync-targets"
    status = 409
    title = "No sync targets configured"


class SyncTargetUnknown(StorageError):
    """No sync target by that name; a sync names one of the stores the operator configured
    (listed in ``targets``), never a path or URL."""

    type = "storage-sync-target-unknown"
    status = 404
    title = "Unknown sync target"
