"""Load balancing: the policy that spreads each service's requests over its replicas, named.

::

    gateway --call--> aria_<svc>   kind "actor":      one named Ray actor      policy "single-actor"
                                   kind "deployment": a Ray Serve application  policy "power-of-two-choices"
                                                      (Serve's request router: two random replicas,
                                                       the one with fewer queued requests wins)

Guarantees and caveats
----------------------
- The gateway never picks between replicas itself today: every built service it routes to is a
  single named actor (its state lives there; scaling out is the service's own business, as
  aria_queue's executors and aria_interpret's model replicas are), and a deployment is reached
  through its Serve handle, whose router balances. So there is no policy of the gateway's own to
  implement here; this module names the one that applies and reports what the gateway measures.
- ``replicas`` of a deployment is what Ray Serve reports running (``RayDirectory.replicas``),
  None when unknown (in-process, or Serve did not answer).
- ``gateway_in_flight``/``gateway_calls`` count this gateway replica's calls to the service
  (degrade.Tally), not other callers'.
"""

from __future__ import annotations

from typing import Any

POLICIES: dict[str, tuple[str, str]] = {
    "actor": ("single-actor", "one named Ray actor takes every call; nothing to choose between"),
    "deployment": ("power-of-two-choices", "Ray Serve's request router: of two random replicas, the one "
                                           "with fewer queued requests"),
}


def load_balancing(service: dict[str, Any], replicas: int | None = None, in_flight: int = 0,
                   calls: int = 0) -> dict[str, Any]:
    """The ``load_balancing`` block of ``GET /v1/services/{name}``."""
    kind = service.get("kind", "actor")
    policy, how = POLICIES.get(kind, ("unknown", f"no policy known for kind {kind!r}"))
    if kind == "actor":
        replicas = 1
    return {"policy": policy, "description": how, "replicas": replicas,
            "balanced_by": "ray-serve" if kind == "deployment" else None,
            "gateway_in_flight": in_flight, "gateway_calls": calls}
