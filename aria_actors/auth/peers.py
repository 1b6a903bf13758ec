"""WebRTC peer grants and TURN REST credentials.

(Skeleton: filled in by its own change.)
"""

from __future__ import annotations


class PeerGrants:
    """Mixed into :class:`~aria_actors.auth.service.AuthService` next to
    :class:`~aria_actors.auth.accounts.Accounts` (same pool, aria_security client, settings)."""

    async def _start_peers(self) -> None:
        """Called by the service's start once the database and aria_security are attached."""

    async def _stop_peers(self) -> None:
        """Called by the service's stop before the pool closes."""
