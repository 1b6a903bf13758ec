"""Errors of aria_data. Each docstring is the message people see and says how to fix the problem."""

from __future__ import annotations

from aria_actors.runtime.errors import AriaError


class DataError(AriaError):
    """The database layer failed; the message names the cause."""

    type = "data"
    status = 500
    title = "Database error"


class DataNotStarted(DataError):
    """aria_data has no database open yet (it is starting, or its start failed); check
    `aria status` and try again once aria_data is ready."""

    type = "data-not-started"
    status = 503
    title = "aria_data is not started"


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


class DatabaseUrlInvalid(DataError):
    """The database URL cannot be used; set ARIA_DATABASE_URL to
    ``postgresql://user:password@host:port/database`` (or leave it empty for the embedded server)."""

    type = "database-url-invalid"
    status = 400
    title = "Invalid database URL"


class DatabaseAuthFailed(DataError):
    """The database refused the credentials; fix the user/password in the named setting (or the
    secret kept in aria_security)."""

    type = "database-auth-failed"
    status = 503
    title = "Database refused the credentials"


class DatabaseUnreachable(DataError):
    """No PostgreSQL answered at the configured address within the connect timeout; check that the
    server runs and the host/port in the named setting."""

    type = "database-unreachable"
    status = 503
    title = "Database unreachable"


class EmbeddedServerError(DataError):
    """The embedded PostgreSQL did not start or stop; the message quotes its log. Check free disk
    space and the data directory under ARIA_HOME/postgres."""

    type = "embedded-postgres"
    title = "Embedded PostgreSQL failed"


class TransactionRetriesExhausted(DataError):
    """A transaction kept failing with serialization failures or deadlocks; reduce contention or
    raise ARIA_DATA_RETRY_ATTEMPTS."""

    type = "transaction-retries-exhausted"
    status = 409
    title = "Transaction retries exhausted"


class TenantRequired(DataError):
    """A tenant-scoped operation was called without a tenant id; pass a non-empty tenant."""

    type = "tenant-required"
    status = 400
    title = "Tenant required"


class BackupError(DataError):
    """A backup or restore failed; the message quotes pg_dump/pg_restore. Restore needs an empty
    database."""

    type = "backup-failed"
    title = "Backup or restore failed"


class StatementStatsUnavailable(DataError):
    """pg_stat_statements is not loaded on this server, so statements cannot be named by queryid;
    start PostgreSQL with shared_preload_libraries = 'pg_stat_statements' (the embedded server
    does when its binaries have the library: ARIA_DATA_PG_BIN_DIR) and look at `aria data health`."""

    type = "data-statement-stats-unavailable"
    status = 503
    title = "Statement statistics unavailable"


class UnknownStatement(DataError):
    """pg_stat_statements has no statement of this queryid in this database (never run, or its
    statistics were reset); list them with `aria tune queries ls`."""

    type = "data-unknown-statement"
    status = 404
    title = "Unknown statement"
