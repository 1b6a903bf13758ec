"""The local operator's bearer token: minted by aria_security over Ray, cached under ARIA_HOME.

Whoever can read ``ARIA_HOME/ray/auth_token`` already controls the cluster, so the same person
may hold an ``admin`` Aria token: the call is made as :meth:`Principal.operator`, the one caller
aria_security lets mint admin tokens. It is kept next to it with mode 0600 and re-minted when
less than a minute of its life is left.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

from aria_actors.cli.localcluster import LocalCluster
from aria_actors.runtime.errors import ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.settings import AriaSettings

SECURITY = "aria_security"
TOKEN_TTL_S = 3600


def token_path(settings: AriaSettings) -> Path:
    return settings.run_dir / "operator.jwt"


def _expires_at(token: str) -> float:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return 0.0


def cached_token(settings: AriaSettings) -> str | None:
    try:
        token = token_path(settings).read_text().strip()
    except OSError:
        return None
    return token if _expires_at(token) - time.time() > 60 else None


def mint_token(settings: AriaSettings) -> str:
    """Ask aria_security (through Ray, already connected) for an admin token and cache it."""
    import ray  # ray: the CLI imports this module at start-up; only minting needs Ray

    try:
        security = ray.get_actor(SECURITY, namespace=settings.namespace)
        token = ray.get(security.call.remote(
            "issue_token", (Principal.operator(), "operator"),
            {"claims": {"roles": ["admin"]}, "ttl_s": TOKEN_TTL_S},
        ), timeout=settings.call_timeout_s)
    except Exception as exc:
        raise ServiceUnavailable(f"cannot mint an operator token from {SECURITY}: {exc}") from None
    path = token_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    tmp.replace(path)
    return token


def operator_token(settings: AriaSettings) -> str:
    """A valid operator token: the cached one, or a fresh one (connects to this Aria's Ray)."""
    token = cached_token(settings)
    if token:
        return token

    LocalCluster(settings).connect()
    return mint_token(settings)
