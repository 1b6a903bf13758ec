"""aria_data: PostgreSQL: embedded server, pools, migrations, tenants, backup."""

from __future__ import annotations

__all__: list[str] = []
