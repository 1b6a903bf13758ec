"""Errors of aria_data. Each docstring is the message people see and says how to fix the problem."""

from __future__ import annotations

from aria_actors.runtime.errors import AriaError


class DataError(AriaError):
    """The database layer failed; the message names the cause."""

    type = "data"
    status = 500
    title = "Database error"


class MigrationFileError(DataError):
    """A migrations folder holds a badly named or duplicated file.

    Name migrations ``NNNN_<slug>.sql`` (up) and ``NNNN_<slug>.down.sql`` (down), one version each.
    """

    type = "migration-file"
    title = "Invalid migration file"


class MigrationChecksumMismatch(DataError):
    """An already-applied migration was edited; never edit an applied migration.

    Restore the file as it was applied and add a new migration with the change.
    """

    type = "migration-checksum-mismatch"
    status = 409
    title = "Applied migration was edited"


class MigrationMissing(DataError):
    """The database has a migration applied whose file is gone; restore the file (or migrate down
    with the code that still has it)."""

    type = "migration-missing"
    status = 409
    title = "Applied migration missing"


class MigrationIrreversible(DataError):
    """The migration has no ``.down.sql`` file, so it cannot be reverted; write one or restore a
    backup."""

    type = "migration-irreversible"
    status = 409
    title = "Migration cannot be reverted"


class MigrationFailed(DataError):
    """A migration's SQL failed and was rolled back; fix the SQL named in the message and retry."""

    type = "migration-failed"
    title = "Migration failed"


class MigrationLockTimeout(DataError):
    """Another migrator held the migrations lock too long; check for a stuck `aria data migrate`
    (``pg_locks``) and retry."""

    type = "migration-lock-timeout"
    status = 503
    title = "Migrations lock busy"
