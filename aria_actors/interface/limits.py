"""The caller's own API budget: the gateway's rate limits in force for it, and what is left of each window.

::

    GET /v1/interface/limits   (runs in the gateway process, beside the limiter)
        app.state.limiter: RateLimiter (aria_actors.coordinate.ratelimit)
          rules.default, rules.rule_for(method, template), rules.multiplier(roles)
          the caller's windows, keyed ("sub:<subject>", method, template)
        -> {"limited": true, "multiplier": 1.0, "default": {"limit": 600, "window_s": 60},
            "routes": [{"route": "GET /v1/shape/characters", "limit": 600, "window_s": 60,
                        "used": 3, "remaining": 597, "reset_s": 58}, ...]}

Guarantees and caveats
----------------------
- Only the caller's own windows (keyed by the verified token's subject, as the limiter keys
  them): nobody learns another's traffic. A window counts this request too (the limiter admitted
  it before the route ran).
- Read-only: counted admissions are read, never expired or added (the limiter does that on its
  next request of the key).
- ``remaining`` is this gateway replica's: with several replicas sharing a limit by leases it is
  what this one will still admit (as the ``RateLimit-Remaining`` header says).
- Credential routes (login, token) are limited by client address, not by principal: they are
  listed among the rules, not among the caller's windows.
- Without a limiter (``ratelimit_enabled`` off) the answer says ``"enabled": false``; an admin
  (an exempt role) gets ``"limited": false`` and no windows.
"""

from __future__ import annotations

import math
from typing import Any

from aria_actors.coordinate.ratelimit import CREDENTIAL_ROUTES, RateLimiter, RateLimitRules, Rule
from aria_actors.runtime.principal import Principal

MAX_ROUTES = 200  # windows listed per caller (the routes the caller used within a window)


def _rule(rule: Rule, mult: float) -> dict[str, Any]:
    if rule.limit is None:
        return {"limit": None, "window_s": None}
    return {"limit": int(rule.limit * mult), "window_s": rule.window_s}


def rules_view(rules: RateLimitRules, caller: Principal) -> dict[str, Any]:
    """The rules in force for ``caller``'s roles (no live counts): the default, the multiplier, the
    credential routes' rules."""
    mult = rules.multiplier(caller.roles)
    if mult is None:
        return {"limited": False, "multiplier": None, "default": {"limit": None, "window_s": None},
                "credential_routes": {}}
    return {"limited": True, "multiplier": mult, "default": _rule(rules.default, mult),
            "credential_routes": {route: _rule(rules.rule_for(*route.split(" ", 1)), 1.0)
                                  for route in CREDENTIAL_ROUTES}}


def _windows(limiter: RateLimiter) -> list[tuple[tuple[str, str, str], Any]]:
    return limiter.usage()


def live_view(limiter: RateLimiter | None, caller: Principal) -> dict[str, Any]:
    """The caller's rules and, per route it used within the window, what it used and what is left."""
    if limiter is None:
        return {"enabled": False, "subject": caller.subject, "limited": False, "routes": []}
    out: dict[str, Any] = {"enabled": True, "subject": caller.subject, **rules_view(limiter.rules, caller),
                           "routes": []}
    mult = out["multiplier"]
    if mult is None:
        return out
    now = limiter.clock()
    key = f"sub:{caller.subject}"
    rows = []
    for (subject, method, template), window in _windows(limiter):
        if subject != key:
            continue
        rule = limiter.rules.rule_for(method, template)
        if rule.limit is None:
            continue
        edge = now - rule.window_s
        counted = [(a, c) for a, c in zip(window.anchors, window.counts, strict=True) if a > edge]
        used = sum(c for _, c in counted)
        share = limiter.quota.share(rule, now)
        limit = share if mult == 1.0 else int(share * mult)
        reset = math.ceil(counted[0][0] + rule.window_s - now) if counted else 0
        rows.append({"route": f"{method} {template}", "limit": int(rule.limit * mult), "window_s": rule.window_s,
                     "used": used, "remaining": max(limit - used, 0), "reset_s": max(reset, 0),
                     "policy": rule.policy.decode()})
    rows.sort(key=lambda r: (r["remaining"], r["route"]))
    out["routes"] = rows[:MAX_ROUTES]
    out["routes_total"] = len(rows)
    return out
