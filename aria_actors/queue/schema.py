"""Applying aria_queue's migrations when no aria_data service does it (tests, bench, tools).

Uses aria_data's migrator (advisory lock, checksums, bookkeeping) when it is importable; otherwise
applies ``migrations/NNNN_*.sql`` in order, each in a transaction, skipping nothing: that path is
for a fresh database only.
"""

from __future__ import annotations


async def apply_migrations(dsn: str) -> list[str]:
    """Bring schema ``aria_queue`` at ``dsn`` up to date; returns the versions applied now."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        try:
            from aria_actors.data.migrations import migrate_up
        except ImportError:
            migrate_up = None
        if migrate_up is not None:
            return [f"{a.version:04d}_{a.name}" for a in await migrate_up(conn, ["aria_queue"])]
        from aria_actors.queue.sql import migration_files

        done = []
        for path in migration_files("up"):
            async with conn.transaction():
                await conn.execute(path.read_text())
            done.append(path.stem)
        return done
    finally:
        await conn.close()
