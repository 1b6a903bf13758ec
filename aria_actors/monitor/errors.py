"""Errors of aria_monitor's cores: malformed scrapes, rule files and queries.

Guarantees and caveats:
- Each is a :class:`~aria_actors.runtime.errors.BadRequest` (HTTP 400 at the gateway) whose
  message names where the fault is: the source and line of a scrape, the file, line and field of a
  rule, the column of an expression.
"""

from __future__ import annotations

from aria_actors.runtime.errors import BadRequest, NotFound


class MalformedExposition(BadRequest):
    """A Prometheus text exposition could not be parsed; the message names the source and line."""

    type = "monitor-malformed-exposition"
    title = "Malformed metrics exposition"


class InvalidQuery(BadRequest):
    """A PromQL expression could not be parsed or is outside the evaluated subset; the message
    names the column."""

    type = "monitor-invalid-query"
    title = "Invalid PromQL expression"


class InvalidRule(BadRequest):
    """A rule file is invalid; the message names the file, line and field."""

    type = "monitor-invalid-rule"
    title = "Invalid rule file"


class UnknownDashboard(NotFound):
    """No dashboard of this name: ``GET /v1/monitor/dashboards`` lists them."""

    type = "monitor-unknown-dashboard"
    title = "Unknown dashboard"
