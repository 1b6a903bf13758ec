"""Settings of aria_storage: ``[storage]`` in aria.toml, ``ARIA_STORAGE_*`` in the environment; the
store URL falls back to ``ARIA_STORAGE_URL``
(AriaSettings.storage_url) and then to ``<ARIA_HOME>/storage/store``.

Sync targets are the only places ``sync`` copies to: the operator names them here
(``ARIA_STORAGE_SYNC_TARGETS='{"backup": "s3://bucket/aria"}'``) and a request names one, so no
caller can make the service write to a path or URL of its choosing.

Reserved prefixes (``ARIA_STORAGE_RESERVED_PREFIXES='["shape/", "queue/"]'``) name where services
keep their own assets; see ``names`` for who may write there."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from aria_actors.runtime.section import SectionSettings
from aria_actors.storage.names import USERS, text_problem

SYNC_TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class StorageSettings(SectionSettings):
    """Store, database, chunking and sync knobs of aria_storage."""

    section = "storage"
    model_config = SettingsConfigDict(env_prefix="ARIA_STORAGE_", extra="forbid")

    store_url: str = Field("", description="Chunk store: a path, s3://, sftp:// or https:// (read-only).")
    cache_dir: str = Field("", description="Local chunk cache in front of a remote store; empty: none.")
    extra_stores: list[str] = Field(default_factory=list,
                                    description="Read-only stores tried after the main one (router).")
    database_url: SecretStr = Field(SecretStr(""), description="PostgreSQL for asset versions; "
                                    "empty: ARIA_DATABASE_URL.")
    s3_endpoint_url: str = Field("", description="S3 endpoint (MinIO, moto); empty: AWS.")
    s3_key: str = Field("", description="S3 access key id; empty: the usual AWS credential chain.")
    s3_secret: SecretStr = Field(SecretStr(""), description="S3 secret access key.")
    s3_region: str = Field("", description="S3 region.")
    sftp_key_filename: str = Field("", description="Private key file for sftp:// stores.")
    chunk_min: int = Field(16 * 1024, ge=48, description="Minimum chunk size in bytes.")
    chunk_avg: int = Field(64 * 1024, ge=48, description="Average chunk size in bytes.")
    chunk_max: int = Field(256 * 1024, ge=48, description="Maximum chunk size in bytes.")
    zstd_level: int = Field(3, ge=1, le=19, description="zstd level of stored chunks.")
    workers: int = Field(0, ge=0, le=64, description="Hash/compress threads; 0: one per core.")
    durable: bool = Field(True, description="Sync a local store's new chunks to disk before a version "
                          "is recorded; off, a power loss may leave a version whose chunks are gone.")
    gc_grace_s: float = Field(3600.0, ge=0, description="Unreferenced chunks younger than this survive gc.")
    pool_size: int = Field(4, ge=1, le=64, description="asyncpg pool size.")
    sync_targets: dict[str, str] = Field(default_factory=dict, description="Stores `sync` may copy "
                                         "to, by name (JSON: name -> store URL).")
    reserved_prefixes: tuple[str, ...] = Field(
        ("shape/", "interpret/"), description="Name prefixes of services' own assets (JSON list): writing there "
        "needs storage:reserved:write (editor, service, admin, internal), never an @own grant.")

    @field_validator("sync_targets")
    @classmethod
    def _target_names(cls, targets: dict[str, str]) -> dict[str, str]:
        for name, url in targets.items():
            if not SYNC_TARGET_NAME.fullmatch(name):
                raise ValueError(f"sync target name {name!r} must match {SYNC_TARGET_NAME.pattern}")
            if not url.strip():
                raise ValueError(f"sync target {name!r} has an empty store URL")
        return targets

    @field_validator("reserved_prefixes")
    @classmethod
    def _prefixes(cls, prefixes: tuple[str, ...]) -> tuple[str, ...]:
        for prefix in prefixes:
            problem = text_problem(prefix)
            if problem:
                raise ValueError(f"reserved prefix {prefix!r} {problem}")
            if prefix.startswith(USERS) or USERS.startswith(prefix):
                raise ValueError(f"reserved prefix {prefix!r} overlaps the users' namespace {USERS!r}")
        return prefixes

    def store_options(self, url: str) -> dict[str, Any]:
        """Keyword options of ``backends.open_store`` for ``url`` (credentials of its scheme)."""
        opts: dict[str, Any] = {"level": self.zstd_level}
        if url.startswith("s3://"):
            opts.update(endpoint_url=self.s3_endpoint_url or None, key=self.s3_key or None,
                        secret=self.s3_secret.get_secret_value() or None, region=self.s3_region or None)
        elif url.startswith("sftp://") and self.sftp_key_filename:
            opts["key_filename"] = self.sftp_key_filename
        return opts


StorageConfig = StorageSettings  # the former name
