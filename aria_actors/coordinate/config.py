"""Settings of aria_coordinate (the HTTP gateway): ``[coordinate]`` in aria.toml, ``ARIA_COORDINATE_*``.

::

    [coordinate]
    cors_origins = ["https://studio.example"]       # empty: no CORS headers at all
    request_timeout_s = 60                          # past it: 504 problem+json
    deprecated_versions = { v1 = "2027-01-31" }     # Deprecation/Sunset/Link on every /v1 answer

Guarantees and caveats
----------------------
- ``cors_allow_credentials`` with the origin ``"*"`` is refused when the settings load (browsers
  refuse it too, and echoing every origin with credentials would let any site act as the user).
- ``deprecated_versions`` keys are version segments (``v1``), values ISO dates; a version the
  gateway does not serve is accepted and ignored (it may be mounted later).
- The request deadline never applies to WebSocket connections nor, once its first byte has left,
  to a response (a stream may run as long as it needs).
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from aria_actors.coordinate.ratelimit import BadRateLimit, parse_rule
from aria_actors.runtime.section import SectionSettings


def _check_rule(rule: str, route: str = "default") -> None:
    try:
        parse_rule(rule, route)
    except BadRateLimit as exc:  # pydantic reports ValueErrors as the setting's error
        raise ValueError(exc.message) from None

VERSION = re.compile(r"^v[1-9][0-9]{0,2}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")  # an HTTP token (RFC 9110): a method or header name


class CoordinateSettings(SectionSettings):
    """CORS, the request deadline, API version deprecation, the access log and route analytics."""

    section = "coordinate"
    model_config = SettingsConfigDict(env_prefix="ARIA_COORDINATE_", extra="forbid", frozen=True)

    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed to call the gateway ('https://app.example', "
                                          "or '*'); empty: no CORS headers.")
    cors_methods: list[str] = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"],
        description="Methods a cross-origin request may use ('*': any).")
    cors_headers: list[str] = Field(
        default_factory=lambda: ["Authorization", "Content-Type", "X-Request-ID"],
        description="Request headers a cross-origin request may send ('*': any).")
    cors_allow_credentials: bool = Field(
        False, description="Let browsers send cookies and credentials cross-origin (not with origin '*').")
    cors_max_age_s: int = Field(600, ge=0, le=86_400, description="How long browsers may cache a preflight answer.")
    request_timeout_s: float = Field(
        60.0, gt=0, le=3600,
        description="A request with no response by then gets a 504 (a service whose own call timeout is longer "
                    "gets that plus 5 s); not streams once started, nor WebSockets.")
    deprecated_versions: dict[str, date] = Field(
        default_factory=dict, description="API versions being retired: version -> sunset date "
                                          "({\"v1\": \"2027-01-31\"}); their answers carry Deprecation and Sunset.")
    access_log: bool = Field(True, description="One log line per request (logger aria.gateway.access).")
    analytics_window_s: float = Field(
        300.0, gt=0, le=86_400, description="Window of the per-route latency percentiles (GET /v1/gateway/routes).")
    # Rate limits (aria_actors.coordinate.ratelimit): per principal (or client address) and route.
    ratelimit_enabled: bool = Field(True, description="Limit request rates at the gateway.")
    ratelimit_default: str = Field("600/60s", description="Limit of a route without its own rule: N/Ws per principal.")
    ratelimit_routes: dict[str, str] = Field(
        default_factory=dict, description="Route rules over the built-in login/token ones: \"[METHOD ]/template\" or "
                                          "\"/prefix*\" -> \"N/Ws\" or \"unlimited\".")
    ratelimit_roles: dict[str, str | float] = Field(
        default_factory=dict, description="Role -> limit multiplier or \"unlimited\" (admin is unlimited).")
    ratelimit_max_keys: int = Field(20_000, ge=100, le=10_000_000, description="(principal, route) windows kept.")
    ratelimit_max_runs: int = Field(64, ge=2, le=10_000, description="Limits up to this are exact sliding logs; "
                                                                      "larger ones count in W/this buckets.")
    ratelimit_token_cache: int = Field(10_000, ge=0, le=1_000_000, description="Verified tokens remembered.")
    ratelimit_shared: bool = Field(False, description="Share limits across gateway replicas through the "
                                                      "aria_ratelimit actor (leased shares).")
    ratelimit_lease_s: float = Field(10.0, gt=0, le=3600, description="Lease of a replica's share.")
    ratelimit_renew_s: float = Field(3.0, gt=0, le=3600, description="Renewal period of a share (< lease).")
    ratelimit_reserve: float = Field(0.2, ge=0, le=1, description="Part of a limit split evenly among replicas.")
    # Endpoint protection (aria_actors.coordinate.protection): revoked sessions, locked accounts, denial audit.
    protection_enabled: bool = Field(True, description="Check revocations, lockouts and account throttles; audit "
                                                        "denials.")
    protection_poll_s: float = Field(0.25, gt=0, le=60, description="How often aria_auth's revocation feed is read.")
    protection_stale_s: float = Field(10.0, gt=0, le=3600, description="Feed unread this long: session and client "
                                                                        "tokens fail closed (503) or pass (see below).")
    protection_fail_closed: bool = Field(
        True, description="Refuse session and client tokens (503) while the revocation feed is stale; false: serve "
                          "on, logging a warning.")
    protection_max_revoked: int = Field(200_000, ge=100, le=10_000_000, description="Revoked sessions (and clients, "
                                                                                     "locks) remembered.")
    protection_account_limit: str = Field("10/60s", description="Login and token attempts per account (N/Ws or "
                                                                "\"unlimited\"), on top of the per-address limit.")
    protection_max_accounts: int = Field(50_000, ge=100, le=10_000_000, description="Accounts (and addresses) whose "
                                                                                    "attempts are remembered.")
    protection_body_max: int = Field(
        8192, ge=256, le=65536, description="Largest body of a credential route (login, token, MFA steps) read for its "
                                            "account; larger: 413 (never below the route's own bound).")
    protection_token_lockout: int = Field(
        50, ge=0, le=100_000, description="Invalid tokens from one address in 60 s before it is refused (0: off; "
                                          "behind a proxy, see docs/auth-protection.md).")
    protection_token_lockout_s: float = Field(300.0, gt=0, le=86_400,
                                              description="How long such an address is refused.")
    protection_audit: bool = Field(True, description="Audit every 401/403/429 in aria_security's log.")
    protection_audit_max_pending: int = Field(
        10_000, ge=10, le=1_000_000, description="Denial records waiting to be sent; past it they are dropped.")
    protection_audit_flush_s: float = Field(1.0, gt=0, le=60, description="How often denial records are sent.")

    @field_validator("ratelimit_default", mode="after")
    @classmethod
    def _rule_parses(cls, v: str) -> str:
        _check_rule(v)
        return v

    @field_validator("protection_account_limit", mode="after")
    @classmethod
    def _account_rule_parses(cls, v: str) -> str:
        _check_rule(v, "protection_account_limit")
        return v

    @field_validator("ratelimit_routes", mode="after")
    @classmethod
    def _route_rules_parse(cls, v: dict[str, str]) -> dict[str, str]:
        for route, rule in v.items():
            _check_rule(rule, route)
        return v

    @field_validator("cors_origins", mode="after")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        for origin in v:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin: scheme://host[:port], no path or trailing slash")
        return v

    @field_validator("cors_methods", "cors_headers", mode="after")
    @classmethod
    def _tokens(cls, v: list[str]) -> list[str]:
        for item in v:
            if item != "*" and not _TOKEN.match(item):
                raise ValueError(f"{item!r} is not a method or header name")
        return v

    @field_validator("cors_allow_credentials", mode="after")
    @classmethod
    def _no_wildcard_with_credentials(cls, v: bool, info: ValidationInfo) -> bool:
        if v and "*" in info.data.get("cors_origins", ()):
            raise ValueError("credentials cannot be allowed for the origin '*': list the origins instead")
        return v

    @field_validator("deprecated_versions", mode="after")
    @classmethod
    def _versions(cls, v: dict[str, date]) -> dict[str, date]:
        for version in v:
            if not VERSION.match(version):
                raise ValueError(f"{version!r} is not an API version: v1, v2, ...")
        return v
