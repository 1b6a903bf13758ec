"""``aria storage ...``: desync-style tools that work on stores directly (no running Aria needed).

    aria storage make FILE INDEX.caibx --store URL [--chunk-size MIN:AVG:MAX]
    aria storage extract INDEX.caibx OUT --store URL [--store URL2 ...] [--seed FILE ...] [--cache DIR]
    aria storage verify --store URL [--quarantine DIR]
    aria storage sync SRC_URL DST_URL [--index X.caibx ...]
    aria storage stats --store URL --index X.caibx [...]
    aria storage gc --store URL --index LIVE.caibx [...] [--grace 3600] [--dry-run]

Store URLs: a path, ``s3://bucket/prefix`` (endpoint and keys from ``ARIA_STORAGE_S3_*``),
``sftp://user@host/path``, ``https://...`` (read-only). Several ``--store`` options form a router
(first has priority; a missing chunk moves on, a corrupt one stops). Errors print one red line and
exit 1; bad usage exits 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from aria_actors.runtime.errors import AriaError
from aria_actors.storage.config import StorageConfig

app = typer.Typer(help="Chunk stores and .caibx indexes (desync/casync compatible).",
                  no_args_is_help=True)
StoreOpt = typer.Option(..., "--store", "-s", help="Store URL (repeat for a router).")


def _fail(message: str) -> None:
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


def _open(url: str) -> Any:
    # light: every `aria` command imports this module; stores and chunking load for the command that runs
    from aria_actors.storage.backends import open_store

    return open_store(url, **StorageConfig().store_options(url))


def _stores(urls: list[str], cache: str | None = None) -> Any:
    from aria_actors.storage.compose import CacheStore, RouterStore  # light: as in _open

    stores = [_open(u) for u in urls]
    store = stores[0] if len(stores) == 1 else RouterStore(stores)
    return CacheStore(_open(cache), store) if cache else store


def _print(data: dict[str, Any]) -> None:
    Console().print_json(data=data)


def _run(fn: Any) -> None:
    try:
        fn()
    except AriaError as exc:
        _fail(exc.message)
    except OSError as exc:
        _fail(str(exc))


@app.command()
def make(file: Path = typer.Argument(..., exists=True, dir_okay=False),
         index: Path = typer.Argument(..., help="Index to write (.caibx)."),
         store: str = typer.Option(..., "--store", "-s", help="Store URL to write chunks to."),
         chunk_size: str = typer.Option("16384:65536:262144", help="MIN:AVG:MAX bytes.")) -> None:
    """Chunk FILE into the store and write its index."""
    try:
        lo, avg, hi = (int(x) for x in chunk_size.split(":"))
    except ValueError:
        raise typer.BadParameter("expected MIN:AVG:MAX", param_hint="--chunk-size") from None

    def go() -> None:
        # light: as in _open
        from aria_actors.storage.chunker import ChunkerParams
        from aria_actors.storage.index import write_index
        from aria_actors.storage.make import MakeStats, make_index

        stats = MakeStats()
        s = _open(store)
        idx = make_index(file, s, ChunkerParams(lo, avg, hi), stats=stats)
        write_index(index, idx)
        s.close()
        _print({"chunks": stats.chunks, "bytes": stats.bytes, "new_chunks": stats.stored_chunks})

    _run(go)


@app.command()
def extract(index: Path = typer.Argument(..., exists=True, dir_okay=False),
            out: Path = typer.Argument(...),
            store: list[str] = StoreOpt,
            seed: list[Path] = typer.Option([], "--seed", help="Local files to take chunks from."),
            cache: str | None = typer.Option(None, help="Local cache dir in front of the stores.")) -> None:
    """Assemble the blob of INDEX into OUT (atomically)."""

    def go() -> None:
        from aria_actors.storage.extract import extract as run  # light: as in _open
        from aria_actors.storage.index import read_index

        stats = run(read_index(index), _stores(store, cache), out, seeds=seed)
        _print({"chunks": stats.chunks, "bytes": stats.bytes, "from_seed": stats.from_seed,
                "from_store": stats.from_store})

    _run(go)


@app.command()
def verify(store: str = typer.Option(..., "--store", "-s"),
           quarantine: Path | None = typer.Option(None, help="Move corrupt chunks here.")) -> None:
    """Re-hash every chunk of the store."""

    def go() -> None:
        from aria_actors.storage.maintenance import verify as run  # light: as in _open

        r = run(_open(store), quarantine=quarantine)
        _print({"checked": r.checked, "corrupt": r.corrupt, "quarantined": r.quarantined})
        if r.corrupt and not quarantine:
            raise typer.Exit(1)

    _run(go)


@app.command()
def sync(source: str, destination: str,
         index: list[Path] = typer.Option([], "--index", help="Only the chunks of these indexes.")) -> None:
    """Copy the chunks DESTINATION lacks from SOURCE (verified on the way)."""

    def go() -> None:
        from aria_actors.storage.index import read_index  # light: as in _open
        from aria_actors.storage.maintenance import sync as run

        ids = set().union(*(read_index(i).chunk_ids() for i in index)) if index else None
        r = run(_open(source), _open(destination), ids)
        _print({"copied": r.copied, "present": r.present, "missing": r.missing, "invalid": r.invalid})

    _run(go)


@app.command()
def stats(store: str = typer.Option(..., "--store", "-s"),
          index: list[Path] = typer.Option([], "--index")) -> None:
    """Logical and stored bytes, dedupe and compression ratios."""

    def go() -> None:
        from aria_actors.storage.index import read_index  # light: as in _open
        from aria_actors.storage.maintenance import stats as run

        _print(run(_open(store), [read_index(i) for i in index]).to_dict())

    _run(go)


@app.command()
def gc(store: str = typer.Option(..., "--store", "-s"),
       index: list[Path] = typer.Option(..., "--index", help="Every live index (chunks to keep)."),
       grace: float = typer.Option(3600.0, min=0, help="Keep unreferenced chunks younger than this (s)."),
       dry_run: bool = typer.Option(False, "--dry-run")) -> None:
    """Remove chunks no live index references (older than the grace period)."""

    def go() -> None:
        from aria_actors.storage.index import read_index  # light: as in _open
        from aria_actors.storage.maintenance import gc as run

        r = run(_open(store), [read_index(i) for i in index], grace_s=grace, dry_run=dry_run)
        _print({"live": r.live, "kept": r.kept, "young": r.young, "removed": len(r.removed),
                "removed_bytes": r.removed_bytes, "dry_run": dry_run})

    _run(go)
