"""Typed client of aria_data: its declared RPC surface (generated from the service).

Callers get one with ``deps.of(DataClient)``, ``Depends(service_client(DataClient))`` or
``bind(DataClient, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py data
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("aria_data")
class DataClient:
    @rpc("data:backup:run", scope="any", feature="backup")
    async def backup(self, caller: Principal) -> dict[str, Any]:
        """Dump the whole database (pg_dump, custom format) to a new file in ``<ARIA_HOME>/backups`` on..."""

    @rpc("data:backup:list", scope="any", feature="backup")
    async def backups(self, caller: Principal) -> list[dict[str, Any]]:
        """The backups :meth:`backup` wrote, newest first: name, path, size, time (UTC)."""

    @rpc("data:query:explain", scope="any", feature="query-optimization")
    async def check_index(
        self,
        caller: Principal,
        queryid: int | str,
        table: str,
        columns: list[str],
    ) -> dict[str, Any]:
        """Plan statement ``queryid`` on a sampled copy of ``table`` (``schema.table``) before and..."""

    @rpc("data:database:connect", scope="any")
    async def dsn(self, caller: Principal) -> str:
        """The URL (with credentials) other services open their own pools with."""

    @rpc("data:query:read", scope="any", feature="query-optimization")
    async def explain_statement(self, caller: Principal, queryid: int | str) -> dict[str, Any]:
        """The generic plan of statement ``queryid`` (pg_stat_statements) on the real tables, nothing..."""

    @rpc("data:partition:maintain", scope="any", feature="archival")
    async def maintain_partitions(self, caller: Principal) -> dict[str, Any]:
        """Create, archive and drop time partitions of registered tables (see archival.py)."""

    @rpc("data:migration:run", scope="any", features=("migrations", "schema"))
    async def migrate(self, caller: Principal, service_name: str) -> list[str]:
        """Apply ``service_name``'s pending migrations; returns the applied ``NNNN_slug`` names."""

    @rpc("data:migration:read", features=("migrations", "schema"))
    async def migrate_status(
        self,
        caller: Principal,
        services: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Every migration of ``services`` (default: all) and whether it is applied."""

    @rpc("data:health:read", scope="any", features=("postgres", "db-health", "pools"))
    async def probe(self, caller: Principal) -> dict[str, Any]:
        """A fresh health probe (ping, pool, connections, table sizes, migrations), as a dict."""

    @rpc("data:query:read", scope="any", feature="query-optimization")
    async def query_advice(self, caller: Principal, min_rows: int = 10000) -> list[dict[str, Any]]:
        """Indexing and vacuum advice from PostgreSQL's statistics (see optimize.py)."""

    @rpc("data:query:read", scope="any", feature="query-optimization")
    async def statement_stats(self, caller: Principal, limit: int = 50, min_calls: int = 1) -> dict[str, Any]:
        """This database's statements from pg_stat_statements, most total time first: queryid (text),..."""
