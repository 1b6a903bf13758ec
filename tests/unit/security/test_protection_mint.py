"""A token a user (or a machine client) mints for itself stays bound to the caller's session (or
client): the gateway's revocation feed names sessions and clients, so ending the caller's session
must end the tokens it minted too."""

from __future__ import annotations

import pytest

from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.security.tokens import mintable_claims

USER = Principal.from_claims({"sub": "alice", "roles": ["editor"], "tenant": "t1", "sid": "sess-1"})
ROBOT = Principal.from_claims({"sub": "robot", "roles": ["service"], "client_id": "c1"})


def test_a_self_minted_token_carries_the_callers_session() -> None:
    assert mintable_claims(USER, "alice", {"roles": ["editor"]}) == {"roles": ["editor"], "tenant": "t1",
                                                                     "sid": "sess-1"}
    assert mintable_claims(USER, "alice", None)["sid"] == "sess-1"


def test_a_self_minted_token_of_a_machine_client_carries_its_client() -> None:
    assert mintable_claims(ROBOT, "robot", None) == {"client_id": "c1"}


def test_an_openid_clients_token_mints_only_tokens_of_that_client() -> None:
    oidc = Principal.from_claims({"sub": "alice", "roles": [], "sid": "sess-1", "azp": "rp-1"})
    assert mintable_claims(oidc, "alice", None) == {"sid": "sess-1", "azp": "rp-1"}


def test_a_caller_still_cannot_choose_a_session() -> None:
    with pytest.raises(Forbidden):
        mintable_claims(USER, "alice", {"sid": "sess-of-someone-else"})
    plain = Principal.from_claims({"sub": "bob", "roles": ["editor"]})  # no session (a hand-minted token)
    assert "sid" not in mintable_claims(plain, "bob", None)


def test_operators_and_services_mint_as_asked() -> None:
    assert mintable_claims(Principal.operator(), "alice", {"roles": ["admin"]}) == {"roles": ["admin"]}
    internal = Principal.internal("aria_auth")
    assert mintable_claims(internal, "user-7", {"sid": "s9"}) == {"sid": "s9"}
