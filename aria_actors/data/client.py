"""Typed client of aria_data: the signatures of its declared RPC methods (generated).

Callers get one with ``deps.of(DataClient)``, ``Depends(service_client(DataClient))`` or
``bind(DataClient, transport)``; every method takes the caller's principal first. Regenerate with
``scripts/gen_client.py data --write`` after changing the service's surface.
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of


@client_of("aria_data")
class DataClient:
    async def dsn(self, caller: Principal) -> str:
        """The URL (with credentials) other services open their own pools with."""

    async def maintain_partitions(self, caller: Principal) -> dict[str, Any]:
        """Create, archive and drop time partitions of registered tables (see archival.py)."""

    async def migrate(self, caller: Principal, service_name: str) -> list[str]:
        """Apply ``service_name``'s pending migrations; returns the applied ``NNNN_slug`` names."""

    async def migrate_status(
        self,
        caller: Principal,
        services: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Every migration of ``services`` (default: all) and whether it is applied."""

    async def probe(self, caller: Principal) -> dict[str, Any]:
        """A fresh health probe (ping, pool, connections, table sizes, migrations), as a dict."""

    async def query_advice(self, caller: Principal, min_rows: int = 10000) -> list[dict[str, Any]]:
        """Indexing and vacuum advice from PostgreSQL's statistics (see optimize.py)."""
