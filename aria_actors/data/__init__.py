"""aria_data: PostgreSQL: embedded server, pools, migrations, tenants, backup.

Public API (imported lazily so that reading the service spec stays cheap)::

    from aria_actors.data import Database, DataConfig, migrate_up, migrate_down, migration_status
    from aria_actors.data import run_transaction, set_tenant, EmbeddedPostgres

See docs/data.md.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Database": "aria_actors.data.pool",
    "DataConfig": "aria_actors.data.config",
    "EmbeddedPostgres": "aria_actors.data.embedded",
    "migrate_up": "aria_actors.data.migrations",
    "migrate_down": "aria_actors.data.migrations",
    "migration_status": "aria_actors.data.migrations",
    "run_transaction": "aria_actors.data.transactions",
    "set_tenant": "aria_actors.data.tenancy",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aria_actors.data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
