"""/v1/auth declares, per route, the one service method it fronts; public routes are the logins."""

from __future__ import annotations

import pytest

from aria_actors.auth.api import router
from aria_actors.auth.service import AuthService
from aria_actors.coordinate.gateway import route_permits
from aria_actors.runtime.rpc import surface

PUBLIC = {("POST", "/v1/auth/login"), ("POST", "/v1/auth/login/mfa"), ("POST", "/v1/auth/refresh"),
          ("POST", "/v1/auth/logout"), ("POST", "/v1/auth/token"),
          ("POST", "/v1/auth/passkeys/login/options"), ("POST", "/v1/auth/passkeys/login"),
          ("POST", "/v1/auth/login/passkey"),
          # the OpenID provider's public doors: discovery, keys, the browser's pages, token, logout
          ("GET", "/v1/auth/oidc/.well-known/openid-configuration"), ("GET", "/v1/auth/oidc/jwks"),
          ("GET", "/v1/auth/oidc/authorize"), ("POST", "/v1/auth/oidc/authorize"),
          ("POST", "/v1/auth/oidc/authorize/login"), ("POST", "/v1/auth/oidc/authorize/mfa"),
          ("POST", "/v1/auth/oidc/authorize/consent"), ("POST", "/v1/auth/oidc/token"),
          ("GET", "/v1/auth/oidc/logout"), ("POST", "/v1/auth/oidc/logout"),
          ("POST", "/v1/auth/oidc/logout/confirm"),
          # logging in through an outside provider
          ("GET", "/v1/auth/sso/providers"), ("GET", "/v1/auth/sso/{provider}/login"),
          ("GET", "/v1/auth/sso/{provider}/callback")}


@pytest.mark.parametrize("route", router.routes, ids=lambda r: f"{sorted(r.methods)[0]} {r.path}")
def test_every_route_fronts_exactly_one_declared_method(route) -> None:
    [check] = route_permits(route)
    assert check.method in surface(AuthService)


def test_the_public_routes_are_the_logins_and_the_token_endpoint() -> None:
    public = {(m, r.path) for r in router.routes for m in r.methods if route_permits(r)[0].spec.public}
    assert public == PUBLIC


def test_account_management_is_declared_with_its_permission() -> None:
    declared = {name: spec.describe() for name, spec in surface(AuthService).items()}
    assert declared["create_user"] == "auth:user:write"
    assert declared["list_clients"] == "auth:client:list"
    assert declared["introspect"] == "auth:token:read"
    assert declared["login"] == declared["client_token"] == "public"
    # these decide on the record: a user on their own account, anyone else with auth:user:*
    assert declared["get_user"] == declared["set_password"] == "authenticated"
    assert not {"prune", "counts", "start", "stop", "health"} & set(declared)
    assert not any(spec.job for spec in surface(AuthService).values())
