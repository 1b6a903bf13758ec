"""Applying aria_queue's migrations when no aria_data service does it (tests, bench, tools),
with aria_data's migrator (advisory lock, checksums, bookkeeping): :func:`migrate_database`.
"""

from __future__ import annotations

from aria_actors.data.migrations import migrate_database


async def apply_migrations(dsn: str) -> list[str]:
    """Bring schema ``aria_queue`` at ``dsn`` up to date; returns the versions applied now."""
    return [f"{a.version:04d}_{a.name}" for a in await migrate_database(dsn, ["aria_queue"])
            if a.service == "aria_queue"]  # aria_data's own come first when they are missing
