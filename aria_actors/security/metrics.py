"""Prometheus metrics of aria_security (one set per process, in the default registry).

Guarantees and caveats
----------------------
- Labels are operation names and outcomes only; never paths, subjects or values, so the series
  count is bounded and nothing sensitive reaches a scraper.
- In a Ray deployment these live in the aria_security actor's process; the service's
  ``metrics_text`` RPC method hands them out (``GET /v1/security/metrics``, operator or admin).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OPERATIONS = Counter(
    "aria_security_operations_total", "Security operations by name and outcome", ["op", "outcome"])
LATENCY = Histogram(
    "aria_security_operation_seconds", "Latency of security operations", ["op"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0))
AUTHZ = Counter("aria_security_authorizations_total", "Authorisation decisions", ["outcome"])
TOKEN_FAILURES = Counter("aria_security_token_failures_total", "Tokens refused by verification")
LOCKOUTS = Counter("aria_security_lockouts_total",
                   "Principals locked out after repeated denials (intrusion alert)")
ROTATIONS = Counter("aria_security_key_rotations_total", "Key rotations", ["trigger"])
OPENBAO_UP = Gauge("aria_security_openbao_up", "1 when OpenBao is unsealed and answering")
OPENBAO_REPAIRS = Counter("aria_security_openbao_repairs_total",
                          "Times the embedded OpenBao died and was restarted and unsealed by aria_security")
