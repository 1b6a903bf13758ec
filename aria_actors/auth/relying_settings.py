"""Settings of one outside OpenID provider Aria accepts logins from (``[[auth.sso_providers]]``).

``AuthSettings.sso_providers`` holds these as plain tables (aria.toml) or a JSON list
(``ARIA_AUTH_SSO_PROVIDERS``); :func:`parse_providers` validates them when aria_auth starts::

    [[auth.sso_providers]]
    name = "corp"
    issuer = "https://login.example.com"
    client_id = "aria"
    client_secret_name = "corp"          # aria_security KV: services/aria_auth/sso/corp, field client_secret
    jit = true                           # create a user at the first login
    default_role = "user"
    tenant = ""
    role_rules = [{ claim = "groups", value = "aria-admins", role = "admin" }]

Guarantees and caveats
----------------------
- Everything the relying party contacts comes from here: the issuer (its discovery document
  names the endpoints and must name this issuer exactly), never a URL from a request.
- An issuer is ``https``; plain ``http`` only on a loopback host (a provider on this machine, as
  in tests and development).
- The client secret is not a setting: only the name of the aria_security secret that holds it.
- Two entries may share an issuer (one ``client_id`` per tenant), never an (issuer,
  ``client_id``) pair: each entry is its own client, and its users are its own (links are per
  entry, :mod:`relying`).
- ``none`` and the HMAC algorithms are refused as ID-token algorithms (an HMAC key would be the
  client secret, shared with the provider; Aria verifies with the provider's public keys only).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aria_actors.auth.relying_errors import SsoMisconfigured

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TENANT = re.compile(r"^(|[a-z0-9][a-z0-9_-]{0,62})$")
# Asymmetric JWS algorithms an ID token may be signed with (RFC 7518, RFC 8037).
ASYMMETRIC_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                             "ES256", "ES384", "ES512", "EdDSA", "Ed25519"})
DEFAULT_ALGS = ("RS256", "PS256", "ES256", "EdDSA")
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str) -> str:
    """``url`` once it is https (or http on a loopback host) with a host and no fragment or credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{what} must be an https URL with a host, no credentials and no fragment")
    if parts.scheme == "http" and not is_loopback(host):
        raise ValueError(f"{what} must use https (plain http only on a loopback host)")
    return url


class RoleRule(BaseModel):
    """When the ID token's ``claim`` equals ``value`` (or, a list, contains it), grant ``role``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    claim: str = Field(min_length=1, max_length=64)
    value: str | int | bool = Field(description="The value to match (a string, number or boolean).")
    role: str = Field(min_length=1, max_length=64)

    def matches(self, claims: Mapping[str, Any]) -> bool:
        got = claims.get(self.claim)
        if isinstance(got, list):
            return any(_same(item, self.value) for item in got[:1000])
        return _same(got, self.value)


def _same(got: object, want: object) -> bool:
    # bool is an int in Python: True must not match 1
    return type(got) is type(want) and got == want


class SsoProvider(BaseModel):
    """One outside OpenID provider."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Short name used in URLs: /v1/auth/sso/<name>/login.")
    issuer: str = Field(max_length=512, description="The provider's issuer URL, exactly as its discovery "
                        "document and ID tokens name it.")
    client_id: str = Field(min_length=1, max_length=256)
    client_secret_name: str = Field(
        "", description="Name of the aria_security secret holding the client secret: KV path "
        "services/aria_auth/sso/<name>, field client_secret. Empty: a public client (PKCE only).")
    token_auth: str = Field("client_secret_basic", pattern="^(client_secret_basic|client_secret_post)$",
                            description="How the client secret is sent to the token endpoint.")
    scopes: tuple[str, ...] = Field(("openid", "email", "profile"), min_length=1, max_length=16)
    jit: bool = Field(False, description="Create a user at a subject's first login (else: refuse it).")
    default_role: str = Field("user", min_length=1, max_length=64, description="Role of a user created here.")
    tenant: str = Field("", description="Tenant the users created here belong to.")
    role_rules: tuple[RoleRule, ...] = Field((), max_length=100, description="Claim -> role rules, applied at "
                                             "every login: the roles they name follow the claims.")
    algorithms: tuple[str, ...] = Field(DEFAULT_ALGS, min_length=1, description="Accepted ID-token algorithms.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("name must be 1-32 lower-case letters, digits, _ and -, starting with a letter or digit")
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        check_url(value, "issuer")
        if urlsplit(value).query:
            raise ValueError("issuer must have no query")
        return value

    @field_validator("client_secret_name")
    @classmethod
    def _secret_name(cls, value: str) -> str:
        if value and not SECRET_NAME.match(value):
            raise ValueError("client_secret_name must be 1-64 letters, digits, _ . and -")
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "openid" not in value:
            raise ValueError("scopes must include openid")
        if any(not s or len(s) > 64 or not s.isascii() or " " in s or not s.isprintable() for s in value):
            raise ValueError("each scope is 1-64 printable ASCII characters without spaces")
        return value

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str) -> str:
        if not TENANT.match(value):
            raise ValueError("tenant must be empty or 1-63 lower-case letters, digits, _ and -")
        return value

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        refused = sorted(set(value) - ASYMMETRIC_ALGS)
        if refused:
            raise ValueError(f"algorithms {refused} are not accepted; choose from {sorted(ASYMMETRIC_ALGS)}")
        return value

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def managed_roles(self) -> frozenset[str]:
        """The roles the rule table hands out: at each login they follow the claims."""
        return frozenset(rule.role for rule in self.role_rules)

    def mapped_roles(self, claims: Mapping[str, Any]) -> list[str]:
        """The roles the rules grant for these claims, in rule order, without repeats."""
        out: list[str] = []
        for rule in self.role_rules:
            if rule.role not in out and rule.matches(claims):
                out.append(rule.role)
        return out

    def roles_at_login(self, current: Iterable[str] | None, claims: Mapping[str, Any]) -> list[str]:
        """A user's roles after a login with these claims.

        A new user (``current`` None): the default role plus the mapped ones. A known user keeps
        every role the rules do not manage (an administrator's grants) and gets the managed ones
        the claims grant now, so a role taken away at the provider is taken away here too.
        """
        mapped = self.mapped_roles(claims)
        base = [self.default_role] if current is None else [r for r in current if r not in self.managed_roles]
        out: list[str] = []
        for role in [*base, *mapped]:
            if role not in out:
                out.append(role)
        return out

    def all_roles(self) -> set[str]:
        return {self.default_role, *self.managed_roles}


def parse_providers(raw: Iterable[Mapping[str, Any]], redirect_base: str) -> dict[str, SsoProvider]:
    """The configured providers by name; :class:`SsoMisconfigured` names what is wrong."""
    out: dict[str, SsoProvider] = {}
    clients: dict[tuple[str, str], str] = {}
    for i, entry in enumerate(raw):
        try:
            provider = SsoProvider.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise SsoMisconfigured(f"[auth] sso_providers[{i}] {where}: {first.get('msg')}",
                                   setting=f"sso_providers[{i}]") from None
        if provider.name in out:
            raise SsoMisconfigured(f"[auth] sso_providers: the name {provider.name!r} is used twice",
                                   setting="sso_providers")
        # One client of one issuer is one provider: two entries for it would accept each other's
        # ID tokens (same iss and aud), so which entry a login came through would mean nothing.
        client = (provider.issuer.rstrip("/"), provider.client_id)
        if client in clients:
            raise SsoMisconfigured(f"[auth] sso_providers {clients[client]!r} and {provider.name!r} are the same "
                                   f"client ({provider.client_id!r}) of one issuer; give each its own client_id",
                                   setting=f"sso_providers[{i}]")
        clients[client] = provider.name
        out[provider.name] = provider
    if out:
        try:
            check_url(redirect_base, "[auth] sso_redirect_base")
        except ValueError as exc:
            raise SsoMisconfigured(f"{exc} (the gateway's public URL, e.g. https://aria.example.com); "
                                   "it is needed once sso_providers are set", setting="sso_redirect_base") from None
    return out
