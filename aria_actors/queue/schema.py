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
        from aria_actors.data.migrations import migrate_up

        return [f"{a.version:04d}_{a.name}" for a in await migrate_up(conn, ["aria_queue"])]
    finally:
        await conn.close()
