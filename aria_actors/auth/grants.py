"""Per-resource grants (owner, editor, viewer) and the decision point may(subject, action, resource).

(Skeleton: filled in by its own change.)
"""

from __future__ import annotations


class ResourceGrants:
    """Mixed into :class:`~aria_actors.auth.service.AuthService` next to
    :class:`~aria_actors.auth.accounts.Accounts` (same pool, aria_security client, settings)."""

    async def _start_grants(self) -> None:
        """Called by the service's start once the database and aria_security are attached."""

    async def _stop_grants(self) -> None:
        """Called by the service's stop before the pool closes."""
