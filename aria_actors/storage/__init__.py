"""aria_storage: content-addressed asset store in the desync/casync format.

Public surface (everything else is internal)::

    make_index(source, store, params) -> Index      chunk + hash + compress into a store
    extract(index, store, out, seeds=...)           assemble a blob, verified, atomically
    read_index / write_index / Index                the .caibx format
    open_store(url)                                 local path, s3://, sftp://, https:// (read-only)
    CacheStore, RouterStore                         stores made of stores
    gc, verify, sync, stats                         maintenance
    StorageService                                  the service (versions in Postgres)
    user_prefix(subject)                            ``users/<subject>/``: where a ``user`` may write
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CacheStore",
    "ChunkerParams",
    "Index",
    "RouterStore",
    "StorageService",
    "extract",
    "gc",
    "make_index",
    "open_store",
    "read_index",
    "stats",
    "sync",
    "user_prefix",
    "verify",
    "write_index",
]

_WHERE = {
    "CacheStore": "compose", "RouterStore": "compose", "ChunkerParams": "chunker",
    "Index": "index", "read_index": "index", "write_index": "index", "extract": "extract",
    "make_index": "make", "open_store": "backends", "gc": "maintenance", "stats": "maintenance",
    "sync": "maintenance", "verify": "maintenance", "StorageService": "service",
    "user_prefix": "names",
}


def __getattr__(name: str) -> Any:
    # Lazy: the registry imports aria_actors.storage.service, which must not pull zstandard & co.
    if name in _WHERE:
        return getattr(importlib.import_module(f"aria_actors.storage.{_WHERE[name]}"), name)
    raise AttributeError(name)
