"""``aria.data``: database health, migrations, advice, partitions and backups (``/v1/data``)."""

from __future__ import annotations

from typing import Any

import aria_actors.data.errors  # noqa: F401  (registers the problem types the SDK raises)
from aria_actors.sdk.section import Req, Section, route


class DataAPI(Section):
    @route("GET", "/v1/data/health")
    def health(self) -> dict[str, Any]:
        """Ping, pool, connections, table sizes, slow queries (returned when failing, too)."""
        return Req(accept=(503,))

    @route("GET", "/v1/data/migrations")
    def migrate_status(self, service: str | None = None) -> list[dict[str, Any]]:
        """Every service's (or one service's) migrations and whether each is applied."""
        return Req(params={"service": service})

    @route("POST", "/v1/data/migrations/{service}")
    def migrate(self, service: str) -> dict[str, Any]:
        """Apply a service's pending migrations: ``{"service", "applied"}``."""
        return Req(path={"service": service})

    @route("GET", "/v1/data/advice")
    def query_advice(self, min_rows: int | None = None) -> list[dict[str, Any]]:
        """Indexing and vacuum advice for tables of at least ``min_rows`` rows."""
        return Req(params={"min_rows": min_rows})

    @route("POST", "/v1/data/partitions/maintain")
    def maintain_partitions(self) -> dict[str, Any]:
        """Create, archive and drop time partitions now: ``{"at", "created", "archived", "dropped"}``."""
        return Req()

    @route("POST", "/v1/data/backups")
    def backup(self) -> dict[str, Any]:
        """Dump the whole database to a new file on the service's node: ``{"name", "path", ...}``."""
        return Req()

    @route("GET", "/v1/data/backups")
    def backups(self) -> list[dict[str, Any]]:
        """The backups the service wrote, newest first."""
        return Req()
