"""``aria storage ...``: assets of the running Aria (through the gateway), and desync-style tools
that work on stores directly (no running Aria needed).

Through the gateway (``/v1/storage``; ``ARIA_TOKEN`` or ``--token`` is the bearer token)::

    aria storage put NAME FILE [--content-type T] [--tag T ...] [--metadata JSON]
    aria storage get NAME [--version N] [--out FILE]
    aria storage versions NAME | rm NAME VERSION
    aria storage search [--prefix P] [--tag T ...] [--metadata JSON] [--latest]
    aria storage prune [NAME] [--keep-last N] [--older-than S] [--dry-run]   (lifecycle; rules: `rules`)
    aria storage service gc|verify|sync TARGET|targets|stats                  (operator)

On stores directly::

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

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from aria_actors.cli.support import TokenOpt, fail, sdk_call
from aria_actors.runtime.errors import AriaError
from aria_actors.storage.config import StorageConfig

app = typer.Typer(help="Assets of the running Aria, and chunk stores and .caibx indexes (desync/casync "
                       "compatible).", no_args_is_help=True)
service_app = typer.Typer(help="Maintenance of the running Aria's store (operator).", no_args_is_help=True)
app.add_typer(service_app, name="service")
BLOCK = 1 << 20  # bytes read from a file at a time while streaming it up
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


# -- through the gateway -------------------------------------------------------------------------
def _json_option(text: str | None, option: str) -> Any:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{option} is not JSON: {exc}", 2)
    if not isinstance(value, dict):
        fail(f"{option} must be a JSON object", 2)
    return value


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(BLOCK):
            yield block


@app.command()
def put(name: str = typer.Argument(..., help="Asset name, e.g. users/<you>/notes.txt."),
        file: Path = typer.Argument(..., exists=True, dir_okay=False),
        content_type: str | None = typer.Option(None, "--content-type"),
        tag: list[str] = typer.Option([], "--tag", help="Repeat for several."),
        metadata: str | None = typer.Option(None, "--metadata", help="A JSON object."),
        token: str | None = TokenOpt) -> None:
    """Store FILE as the next version of NAME (streamed; chunked and deduplicated by the service)."""
    meta = _json_option(metadata, "--metadata")
    info = sdk_call(token, lambda aria: aria.storage.put(name, _blocks(file), content_type=content_type,
                                                         tags=tag, metadata=meta), timeout=600)
    _print(info)


@app.command()
def get(name: str,
        version: int | None = typer.Option(None, min=1),
        out: Path | None = typer.Option(None, "--out", "-o", help="Write here (default: stdout)."),
        token: str | None = TokenOpt) -> None:
    """The bytes of NAME's latest (or given) version."""
    data = sdk_call(token, lambda aria: aria.storage.get(name, version), timeout=600)
    if out is None:
        typer.echo(data, nl=False)
    else:
        out.write_bytes(data)
        Console(stderr=True).print(f"{name}: {len(data)} bytes to {out}", highlight=False)


@app.command()
def versions(name: str, token: str | None = TokenOpt) -> None:
    """Every version of NAME."""
    for v in sdk_call(token, lambda aria: aria.storage.versions(name)):
        typer.echo(f"{v['version']:>5}  {v['size']:>12}  {v['created_at']}  {v['content_type']}")


@app.command("rm")
def rm(name: str, version: int = typer.Argument(..., min=1), token: str | None = TokenOpt) -> None:
    """Delete one version of NAME."""
    sdk_call(token, lambda aria: aria.storage.delete_version(name, version))
    typer.echo(f"{name}: version {version} deleted")


@app.command()
def search(prefix: str | None = typer.Option(None, "--prefix", help="Name prefix."),
           tag: list[str] = typer.Option([], "--tag", help="Every one of these tags."),
           metadata: str | None = typer.Option(None, "--metadata", help="JSON object the metadata contains."),
           content_type: str | None = typer.Option(None, "--content-type"),
           latest: bool = typer.Option(False, "--latest", help="Only each asset's latest version."),
           limit: int = typer.Option(100, min=1, max=1000),
           token: str | None = TokenOpt) -> None:
    """Versions matching every filter given (metadata, tags, name prefix, content type)."""
    meta = _json_option(metadata, "--metadata")
    found = sdk_call(token, lambda aria: aria.storage.search(
        metadata=meta, tags=tag or None, name_prefix=prefix, content_type=content_type,
        latest_only=latest, limit=limit))
    for v in found:
        typer.echo(f"{v['name']}@{v['version']}  {v['size']}  {','.join(v.get('tags') or [])}")


@app.command()
def prune(name: str | None = typer.Argument(None, help="One asset (default: every asset)."),
          keep_last: int | None = typer.Option(None, "--keep-last", min=1),
          older_than: float | None = typer.Option(None, "--older-than", min=0, help="Seconds."),
          dry_run: bool = typer.Option(False, "--dry-run"),
          token: str | None = TokenOpt) -> None:
    """Apply lifecycle: delete old versions by count and/or age, or by the stored rules (`rules`)."""
    _print(sdk_call(token, lambda aria: aria.storage.apply_lifecycle(
        name, keep_last=keep_last, older_than_s=older_than, dry_run=dry_run)))


@app.command()
def rules(prefix: str | None = typer.Option(None, "--set", help="Store the rule of this name prefix."),
          keep_last: int | None = typer.Option(None, "--keep-last", min=1),
          older_than: float | None = typer.Option(None, "--older-than", min=0, help="Seconds."),
          token: str | None = TokenOpt) -> None:
    """List the stored lifecycle rules, or store one with --set PREFIX ("" = every asset)."""
    if prefix is not None:
        sdk_call(token, lambda aria: aria.storage.set_lifecycle_rule(prefix, keep_last=keep_last,
                                                                     older_than_s=older_than))
    for rule in sdk_call(token, lambda aria: aria.storage.lifecycle_rules()):
        typer.echo(json.dumps(rule, sort_keys=True))


@service_app.command("gc")
def service_gc(grace: float | None = typer.Option(None, min=0, help="Seconds (default: the service's)."),
               dry_run: bool = typer.Option(False, "--dry-run"), token: str | None = TokenOpt) -> None:
    """Remove chunks no version uses from the service's store."""
    _print(sdk_call(token, lambda aria: aria.storage.gc(grace, dry_run), timeout=3600))


@service_app.command("verify")
def service_verify(quarantine: bool = typer.Option(False, "--quarantine", help="Move corrupt chunks aside."),
                   token: str | None = TokenOpt) -> None:
    """Re-hash every chunk of the service's store (exit 1 when one is corrupt)."""
    r = sdk_call(token, lambda aria: aria.storage.verify(quarantine), timeout=3600)
    _print(r)
    if r.get("corrupt") and not quarantine:
        raise typer.Exit(1)


@service_app.command("sync")
def service_sync(target: str = typer.Argument(..., help="A configured sync target (see `targets`)."),
                 token: str | None = TokenOpt) -> None:
    """Copy the live chunks the sync target lacks (an s3://, sftp:// or local store the operator named)."""
    _print(sdk_call(token, lambda aria: aria.storage.sync(target), timeout=3600))


@service_app.command("targets")
def service_targets(token: str | None = TokenOpt) -> None:
    """The sync targets the operator configured (ARIA_STORAGE_SYNC_TARGETS)."""
    for name in sdk_call(token, lambda aria: aria.storage.sync_targets()):
        typer.echo(name)


@service_app.command("stats")
def service_stats(token: str | None = TokenOpt) -> None:
    """Logical and stored bytes, dedupe and compression ratios of the service's store."""
    _print(sdk_call(token, lambda aria: aria.storage.stats()))
