"""Revoked sessions as a feed the gateway polls, so a revoked session is refused within a second.

(Skeleton: filled in by its own change.)
"""

from __future__ import annotations


class Revocations:
    """Mixed into :class:`~aria_actors.auth.service.AuthService` next to
    :class:`~aria_actors.auth.accounts.Accounts` (same pool, aria_security client, settings)."""

    async def _start_revocation(self) -> None:
        """Called by the service's start once the database and aria_security are attached."""

    async def _stop_revocation(self) -> None:
        """Called by the service's stop before the pool closes."""
