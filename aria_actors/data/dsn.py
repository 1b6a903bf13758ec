"""Database URLs: validation and masking. A password never leaves this module unmasked in text."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

from aria_actors.data.errors import DatabaseUrlInvalid

SCHEMES = ("postgresql", "postgres")
# Fallback for text urlsplit cannot read: whatever sits between a colon and an "@".
_USERINFO = re.compile(r"(:)[^:@]*@")


def mask(dsn: str) -> str:
    """The URL with its password replaced by ``***``; works on malformed URLs too."""
    try:
        parts = urlsplit(dsn)
        if not parts.netloc:  # not URL-shaped: mask by pattern
            return _USERINFO.sub(r"\1***@", dsn)
        if parts.password is None:
            return dsn
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        netloc = f"{parts.username or ''}:***@{host}"
        return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return _USERINFO.sub(r"\1***@", dsn)


def validate(dsn: str, setting: str = "ARIA_DATABASE_URL") -> str:
    """Check ``dsn`` is a PostgreSQL URL asyncpg can use; raise :class:`DatabaseUrlInvalid`
    naming ``setting`` (password masked) otherwise."""
    shown = mask(dsn)
    try:
        parts = urlsplit(dsn)
        port = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError as exc:
        raise DatabaseUrlInvalid(
            f"{setting} is not a valid URL ({exc}): {shown}", setting=setting, url=shown
        ) from None
    if parts.scheme not in SCHEMES:
        raise DatabaseUrlInvalid(
            f"{setting} must start with postgresql:// (got scheme {parts.scheme!r}): {shown}",
            setting=setting, url=shown,
        )
    if not parts.hostname and "host=" not in parts.query:
        raise DatabaseUrlInvalid(
            f"{setting} names no host (postgresql://user:pass@HOST:port/db): {shown}",
            setting=setting, url=shown,
        )
    del port
    return dsn


def with_database(dsn: str, database: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))
