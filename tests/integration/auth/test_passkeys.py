"""Passkeys through the real gateway app over real aria_auth (PostgreSQL) and aria_security, with a
software authenticator: registration, passwordless login, second factor, revocation, clones,
single-use and expiring ceremonies, malformed input."""

from __future__ import annotations

import copy
from typing import Any

import asyncpg
import pytest

from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.principal import Principal
from tests.fixtures.auth import admin_headers, assert_problem, bearer
from tests.unit.auth.test_passkeys_device import Authenticator, b64

pytestmark = pytest.mark.asyncio(loop_scope="session")
PASSWORD = "correct horse battery staple"
OP = Principal.operator()


async def make_user(auth_http, security, username: str = "alice") -> dict:
    r = await auth_http.post("/v1/auth/users", headers=await admin_headers(security),
                             json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return r.json()


async def password_login(auth_http, username: str = "alice") -> dict:
    r = await auth_http.post("/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()


async def register(auth_http, tokens: dict, device: Authenticator, **extra: Any) -> dict:
    """Run a registration ceremony with ``device``; the new passkey."""
    begun = await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(tokens))
    assert begun.status_code == 200, begun.text
    r = await auth_http.post("/v1/auth/passkeys/register", headers=bearer(tokens), json={
        "ceremony": begun.json()["ceremony"], "credential": device.create_json(begun.json()["options"]), **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def login_options(auth_http, **body: Any) -> dict:
    r = await auth_http.post("/v1/auth/passkeys/login/options", json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def passkey_login(auth_http, device: Authenticator, **body: Any) -> Any:
    """A passwordless login with ``device``: the response."""
    begun = await login_options(auth_http, **body)
    return await auth_http.post("/v1/auth/passkeys/login", json={
        "ceremony": begun["ceremony"], "credential": device.get_json(begun["options"])})


async def my_passkeys(auth_http, tokens: dict) -> list[dict]:
    r = await auth_http.get("/v1/auth/passkeys", headers=bearer(tokens))
    assert r.status_code == 200, r.text
    return r.json()


async def expire_ceremonies(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("UPDATE aria_auth.passkey_ceremonies SET expires_at = now() - interval '1 second'")
    finally:
        await conn.close()


async def age_session(dsn: str, session_id: str, seconds: int, amr: list[str] | None = None) -> None:
    """Make a session look opened ``seconds`` ago (and, with ``amr``, by those methods)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("UPDATE aria_auth.sessions SET created_at = now() - make_interval(secs => $2), "
                           "amr = coalesce($3, amr) WHERE id = $1::uuid", session_id, float(seconds), amr)
    finally:
        await conn.close()


async def test_registering_needs_a_recent_login_of_this_session(auth_http, auth, security, auth_database) -> None:
    alice = await make_user(auth_http, security)
    tokens = await password_login(auth_http)
    reauth = auth.config.passkey_reauth_s
    assert reauth == 300
    await age_session(auth_database, tokens["session_id"], reauth + 5)
    body = assert_problem(await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(tokens)),
                          401, "passkey-reauth-required")
    assert body["reason"] == "age"
    # a refresh gives a new access token, not a new login
    r = await auth_http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200, r.text
    refreshed = r.json()
    assert_problem(await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(refreshed)),
                   401, "passkey-reauth-required")
    # a ceremony begun in time may be finished within its own lifetime, not later
    fresh = await password_login(auth_http)
    device = Authenticator()
    begun = (await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(fresh))).json()
    await age_session(auth_database, fresh["session_id"], reauth + auth.config.passkey_timeout_s + 5)
    assert_problem(await auth_http.post("/v1/auth/passkeys/register", headers=bearer(fresh), json={
        "ceremony": begun["ceremony"], "credential": device.create_json(begun["options"])}),
        401, "passkey-reauth-required")
    begun = (await auth_http.post("/v1/auth/passkeys/register/options",
                                  headers=bearer(fresh := await password_login(auth_http)))).json()
    await age_session(auth_database, fresh["session_id"], reauth + 5)
    r = await auth_http.post("/v1/auth/passkeys/register", headers=bearer(fresh), json={
        "ceremony": begun["ceremony"], "credential": device.create_json(begun["options"]), "second_factor": False})
    assert r.status_code == 201, r.text
    # a session not opened by a password or a passkey (single sign-on) may not register
    other = await password_login(auth_http)
    await age_session(auth_database, other["session_id"], 0, ["sso"])
    body = assert_problem(await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(other)),
                          401, "passkey-reauth-required")
    assert body["reason"] == "method"
    # an OpenID client's token for the user, of a fresh password session, never may
    mine = await password_login(auth_http)
    claims = {"roles": ["user"], "sid": mine["session_id"], "amr": ["pwd"], "azp": "some-client"}
    client_token = await security.issue_token(OP, alice["id"], claims, 300)
    r = await auth_http.post("/v1/auth/passkeys/register/options", headers={"Authorization": f"Bearer {client_token}"})
    assert r.status_code == 403, r.text  # the gateway's answer: such a token opens only userinfo
    with pytest.raises(Forbidden):  # and the service's own, whoever calls it
        await auth.passkey_register_options(Principal.from_claims({"sub": alice["id"], **claims}), alice["id"])
    assert (await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(mine))).status_code == 200


async def test_only_second_factor_passkeys_answer_the_mfa_step(auth_http, security) -> None:
    await make_user(auth_http, security)
    tokens = await password_login(auth_http)
    second, passwordless = Authenticator(), Authenticator()
    await register(auth_http, tokens, second)
    await register(auth_http, tokens, passwordless, second_factor=False)
    step = await password_login(auth_http)
    assert [c["id"] for c in step["passkey"]["allowCredentials"]] == [b64(second.credential_id)]
    # a browser that offers the passwordless-only passkey anyway: refused (one attempt spent)
    body = assert_problem(await auth_http.post("/v1/auth/login/passkey", json={
        "challenge": step["challenge"], "credential": passwordless.get_json({**step["passkey"],
                                                                             "allowCredentials": []})}),
        401, "passkey-invalid")
    assert "second factor" in body["detail"]
    r = await auth_http.post("/v1/auth/login/passkey", json={"challenge": step["challenge"],
                                                             "credential": second.get_json(step["passkey"])})
    assert r.status_code == 200, r.text
    # it still logs in alone
    assert (await passkey_login(auth_http, passwordless)).status_code == 200


async def test_register_list_and_log_in_without_a_password(auth_http, security) -> None:
    alice = await make_user(auth_http, security)
    tokens = await password_login(auth_http)
    device = Authenticator()
    key = await register(auth_http, tokens, device, label="YubiKey", second_factor=False)
    assert key["label"] == "YubiKey" and key["user_verified"] and not key["disabled"] and key["transports"] == ["usb"]
    assert "public_key" not in key and key["user_id"] == alice["id"]
    assert [k["id"] for k in await my_passkeys(auth_http, tokens)] == [key["id"]]

    # discoverable: no username, the browser offers what it holds
    r = await passkey_login(auth_http, device)
    assert r.status_code == 200, r.text
    claims = await security.verify_token(OP, r.json()["access_token"])
    assert claims["sub"] == alice["id"] and claims["amr"] == ["hwk", "user"]
    me = await auth_http.get("/v1/auth/me", headers=bearer(r.json()))
    assert me.status_code == 200 and me.json()["username"] == "alice"

    # with a username: the options list that user's passkeys
    named = await login_options(auth_http, username="alice")
    assert [c["id"] for c in named["options"]["allowCredentials"]] == [b64(device.credential_id)]
    assert named["options"]["rpId"] == "localhost" and named["options"]["userVerification"] == "required"
    r = await auth_http.post("/v1/auth/passkeys/login", json={
        "ceremony": named["ceremony"], "credential": device.get_json(named["options"])})
    assert r.status_code == 200, r.text
    [listed] = await my_passkeys(auth_http, tokens)
    assert listed["sign_count"] == 2 and listed["last_used_at"] is not None

    # not a second factor: the password alone still logs in
    assert "access_token" in await password_login(auth_http)


async def test_a_passkey_as_second_factor_after_the_password(auth_http, security) -> None:
    await make_user(auth_http, security)
    await make_user(auth_http, security, "bob")
    device, bobs = Authenticator(), Authenticator()
    await register(auth_http, await password_login(auth_http), device)  # second_factor by default
    await register(auth_http, await password_login(auth_http, "bob"), bobs)

    step = await password_login(auth_http)
    assert step["mfa_required"] is True and step["methods"] == ["passkey"] and "access_token" not in step
    options = step["passkey"]
    assert [c["id"] for c in options["allowCredentials"]] == [b64(device.credential_id)]
    # bob's passkey does not answer alice's challenge (and spends one attempt)
    assert_problem(await auth_http.post("/v1/auth/login/passkey", json={
        "challenge": step["challenge"], "credential": bobs.get_json({**options, "allowCredentials": []})}),
        401, "passkey-invalid")
    # a TOTP code does not either: alice has no TOTP
    assert_problem(await auth_http.post("/v1/auth/login/mfa", json={"challenge": step["challenge"], "code": "123456"}),
                   401, "auth-invalid-challenge")
    r = await auth_http.post("/v1/auth/login/passkey", json={"challenge": step["challenge"],
                                                             "credential": device.get_json(options)})
    assert r.status_code == 200, r.text
    claims = await security.verify_token(OP, r.json()["access_token"])
    assert claims["amr"] == ["pwd", "mfa", "hwk", "user"] and claims["name"] == "alice"
    # the challenge is spent
    assert_problem(await auth_http.post("/v1/auth/login/passkey", json={
        "challenge": step["challenge"], "credential": device.get_json(options)}), 401, "auth-invalid-challenge")
    # a passkey's assertion never stands in for the password step's challenge of another login
    other = await password_login(auth_http)
    assert_problem(await auth_http.post("/v1/auth/login/passkey", json={
        "challenge": other["challenge"], "credential": device.get_json(options)}), 401, "passkey-invalid")

    # turned off as a second factor: the password alone logs in again
    tokens = await auth_http.post("/v1/auth/login/passkey", json={
        "challenge": (fresh := await password_login(auth_http))["challenge"],
        "credential": device.get_json(fresh["passkey"])})
    [key] = await my_passkeys(auth_http, tokens.json())
    r = await auth_http.patch(f"/v1/auth/passkeys/{key['id']}", headers=bearer(tokens.json()),
                              json={"second_factor": False, "label": "laptop"})
    assert r.status_code == 200 and r.json()["label"] == "laptop" and r.json()["second_factor"] is False
    assert "access_token" in await password_login(auth_http)


async def test_a_cloned_authenticator_is_refused_and_its_passkey_disabled(auth_http, security) -> None:
    await make_user(auth_http, security)
    tokens = await password_login(auth_http)
    device = Authenticator()
    await register(auth_http, tokens, device, second_factor=False)
    clone = copy.copy(device)  # the same key, its counter left behind
    for _ in range(2):
        assert (await passkey_login(auth_http, device)).status_code == 200
    body = assert_problem(await passkey_login(auth_http, clone), 401, "passkey-cloned")
    [key] = await my_passkeys(auth_http, tokens)
    assert body["passkey_id"] == key["id"] and key["disabled"] and "went back from 2 to 1" in key["disabled_why"]
    assert key["sign_count"] == 2
    [alert] = [r for r in await security.audit(Principal.operator(), 50, op="passkey-cloned")
               if r["target"] == f"passkey {key['id']}"]
    assert (alert["actor"], alert["outcome"]) == ("svc:aria_auth", "alert")
    # disabled for good: the genuine one is refused too, until registered again
    assert_problem(await passkey_login(auth_http, device), 401, "passkey-disabled")
    assert (await login_options(auth_http, username="alice"))["options"]["allowCredentials"] == []


async def test_ceremonies_are_used_once_bound_to_their_user_and_expire(auth_http, security, auth_database) -> None:
    await make_user(auth_http, security)
    await make_user(auth_http, security, "bob")
    alice, bob = await password_login(auth_http), await password_login(auth_http, "bob")
    device = Authenticator()

    # a registration ceremony is alice's: bob cannot finish it
    begun = (await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(alice))).json()
    credential = device.create_json(begun["options"])
    assert_problem(await auth_http.post("/v1/auth/passkeys/register", headers=bearer(bob), json={
        "ceremony": begun["ceremony"], "credential": credential}), 401, "passkey-challenge-invalid")
    assert (await auth_http.post("/v1/auth/passkeys/register", headers=bearer(alice), json={
        "ceremony": begun["ceremony"], "credential": credential})).status_code == 201
    # ... and used once
    assert_problem(await auth_http.post("/v1/auth/passkeys/register", headers=bearer(alice), json={
        "ceremony": begun["ceremony"], "credential": credential}), 401, "passkey-challenge-invalid")

    # a login ceremony is used once, even by a valid assertion
    begun = await login_options(auth_http)
    assertion = device.get_json(begun["options"])
    r = await auth_http.post("/v1/auth/passkeys/login", json={"ceremony": begun["ceremony"], "credential": assertion})
    assert r.status_code == 200, r.text
    assert_problem(await auth_http.post("/v1/auth/passkeys/login", json={
        "ceremony": begun["ceremony"], "credential": assertion}), 401, "passkey-challenge-invalid")
    # an assertion made for one ceremony does not answer another
    other = await login_options(auth_http)
    assert_problem(await auth_http.post("/v1/auth/passkeys/login", json={
        "ceremony": other["ceremony"], "credential": device.get_json(begun["options"])}), 401, "passkey-invalid")

    # expired ceremonies: registration and login
    reg = (await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(bob))).json()
    login = await login_options(auth_http)
    await expire_ceremonies(auth_database)
    assert_problem(await auth_http.post("/v1/auth/passkeys/register", headers=bearer(bob), json={
        "ceremony": reg["ceremony"], "credential": Authenticator().create_json(reg["options"])}),
        401, "passkey-challenge-expired")
    assert_problem(await auth_http.post("/v1/auth/passkeys/login", json={
        "ceremony": login["ceremony"], "credential": device.get_json(login["options"])}),
        401, "passkey-challenge-expired")
    assert await my_passkeys(auth_http, bob) == []
    # an unknown one
    assert_problem(await auth_http.post("/v1/auth/passkeys/login", json={
        "ceremony": "aria_pk_nope", "credential": device.get_json(login["options"])}),
        401, "passkey-challenge-invalid")


async def test_users_revoke_their_own_and_admins_anyones(auth_http, auth, security, monkeypatch) -> None:
    alice = await make_user(auth_http, security)
    await make_user(auth_http, security, "bob")
    tokens, bob = await password_login(auth_http), await password_login(auth_http, "bob")
    admin = await admin_headers(security)
    first, second = Authenticator(), Authenticator()
    one = await register(auth_http, tokens, first, second_factor=False)
    two = await register(auth_http, tokens, second, second_factor=False)

    # the same authenticator twice, and a limit per user
    begun = (await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(tokens))).json()
    assert [c["id"] for c in begun["options"]["excludeCredentials"]] == [b64(first.credential_id),
                                                                         b64(second.credential_id)]
    credential = first.create_json(begun["options"], reuse=True)  # an authenticator ignoring excludeCredentials
    assert_problem(await auth_http.post("/v1/auth/passkeys/register", headers=bearer(tokens), json={
        "ceremony": begun["ceremony"], "credential": credential}), 409, "passkey-exists")
    # a rawId that is not the attested credential's
    begun = (await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(tokens))).json()
    credential = Authenticator().create_json(begun["options"])
    credential["id"] = credential["rawId"] = b64(first.credential_id)
    assert_problem(await auth_http.post("/v1/auth/passkeys/register", headers=bearer(tokens), json={
        "ceremony": begun["ceremony"], "credential": credential}), 401, "passkey-invalid")
    monkeypatch.setattr(auth.config, "passkey_max_per_user", 2)
    assert_problem(await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(tokens)),
                   409, "passkey-limit")

    # bob sees and removes none of alice's
    assert_problem(await auth_http.get(f"/v1/auth/users/{alice['id']}/passkeys", headers=bearer(bob)),
                   403, "forbidden")
    assert_problem(await auth_http.delete(f"/v1/auth/users/{alice['id']}/passkeys/{one['id']}",
                                          headers=bearer(bob)), 403, "forbidden")
    assert_problem(await auth_http.delete(f"/v1/auth/passkeys/{one['id']}", headers=bearer(bob)),
                   404, "passkey-not-found")

    # alice removes her own; it no longer logs in
    assert (await auth_http.delete(f"/v1/auth/passkeys/{one['id']}", headers=bearer(tokens))).status_code == 204
    assert_problem(await passkey_login(auth_http, first), 401, "passkey-invalid")
    # an administrator lists and removes hers
    listed = await auth_http.get(f"/v1/auth/users/{alice['id']}/passkeys", headers=admin)
    assert [k["id"] for k in listed.json()] == [two["id"]]
    assert (await auth_http.delete(f"/v1/auth/users/{alice['id']}/passkeys/{two['id']}",
                                   headers=admin)).status_code == 204
    assert_problem(await auth_http.delete(f"/v1/auth/users/{alice['id']}/passkeys/{two['id']}", headers=admin),
                   404, "passkey-not-found")
    assert await my_passkeys(auth_http, tokens) == []


async def test_disabled_users_and_unverified_users_are_refused(auth_http, security) -> None:
    alice = await make_user(auth_http, security)
    tokens = await password_login(auth_http)
    # the policy requires user verification: an authenticator that does not verify is refused
    begun = (await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(tokens))).json()
    assert_problem(await auth_http.post("/v1/auth/passkeys/register", headers=bearer(tokens), json={
        "ceremony": begun["ceremony"], "credential": Authenticator(uv=False).create_json(begun["options"])}),
        401, "passkey-invalid")
    device = Authenticator()
    await register(auth_http, tokens, device)
    r = await auth_http.patch(f"/v1/auth/users/{alice['id']}", headers=await admin_headers(security),
                              json={"disabled": True})
    assert r.status_code == 200
    assert_problem(await passkey_login(auth_http, device), 403, "auth-account-disabled")


async def test_malformed_credentials_are_4xx_never_500(auth_http, security) -> None:
    await make_user(auth_http, security)
    tokens = await password_login(auth_http)
    device = Authenticator()
    begun = (await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(tokens))).json()
    good = device.create_json(begun["options"])

    def variant(**response: Any) -> dict:
        return {**good, "response": {**good["response"], **response}}

    for credential, status, slug in (
        (variant(attestationObject=b64(b"\xa1junk")), 401, "passkey-invalid"),
        (variant(clientDataJSON=b64(b"not json")), 401, "passkey-invalid"),
        (variant(attestationObject="A" * 70000), 422, "validation"),
        (variant(attestationObject="not base64!"), 422, "validation"),
        ({**good, "type": "password"}, 422, "validation"),
        ({**good, "admin": True}, 422, "validation"),
        ({**good, "id": "QUJD"}, 400, "passkey-malformed"),
        ({**good, "id": "A", "rawId": "A"}, 400, "passkey-malformed"),
    ):
        fresh = (await auth_http.post("/v1/auth/passkeys/register/options", headers=bearer(tokens))).json()
        r = await auth_http.post("/v1/auth/passkeys/register", headers=bearer(tokens),
                                 json={"ceremony": fresh["ceremony"], "credential": credential})
        assert_problem(r, status, slug)
    await register(auth_http, tokens, device)
    begun = await login_options(auth_http)
    assertion = device.get_json(begun["options"])
    for credential, status, slug in (
        ({**assertion, "response": {**assertion["response"], "signature": b64(b"\x30\x00")}}, 401, "passkey-invalid"),
        ({**assertion, "response": {**assertion["response"], "authenticatorData": b64(b"x")}}, 401,
         "passkey-invalid"),
        ({**assertion, "response": {**assertion["response"], "userHandle": b64(b"someone else")}}, 401,
         "passkey-invalid"),
        ({**assertion, "id": b64(b"unknown"), "rawId": b64(b"unknown")}, 401, "passkey-invalid"),
        ({**assertion, "response": {"clientDataJSON": "AAAA"}}, 422, "validation"),
    ):
        fresh = await login_options(auth_http)
        r = await auth_http.post("/v1/auth/passkeys/login", json={"ceremony": fresh["ceremony"],
                                                                  "credential": credential})
        assert_problem(r, status, slug)
    assert_problem(await auth_http.post("/v1/auth/login/passkey", json={
        "challenge": "aria_mc_made_up", "credential": assertion}), 401, "auth-invalid-challenge")
    assert_problem(await auth_http.post("/v1/auth/passkeys/login/options", json={"tenant": "Not A Tenant"}),
                   400, "passkey-bad-request")


async def test_a_tenants_user_logs_in_within_that_tenant_only(auth_http, auth, security) -> None:
    r = await auth_http.post("/v1/auth/users", headers=await admin_headers(security),
                             json={"username": "carol", "password": PASSWORD, "tenant": "acme"})
    assert r.status_code == 201, r.text
    tokens = (await auth_http.post("/v1/auth/login", json={"username": "carol", "password": PASSWORD,
                                                           "tenant": "acme"})).json()
    device = Authenticator()
    await register(auth_http, tokens, device, second_factor=False)
    assert_problem(await passkey_login(auth_http, device), 401, "passkey-invalid")  # the default tenant
    r = await passkey_login(auth_http, device, tenant="acme")
    assert r.status_code == 200, r.text
    assert (await security.verify_token(OP, r.json()["access_token"]))["tenant"] == "acme"
    named = await login_options(auth_http, username="carol", tenant="acme")
    assert len(named["options"]["allowCredentials"]) == 1
    # ended ceremonies are forgotten
    from aria_actors.auth import passkeys_store  # here: only this test reaches into the store

    async with auth._acquire() as conn:
        assert await passkeys_store.prune_ceremonies(conn, 0) >= 3


async def test_with_totp_on_too_either_answers_the_mfa_step(auth_http, security) -> None:
    import time  # here: only this test reads the clock (TOTP codes)

    from aria_actors.auth import totp

    await make_user(auth_http, security)
    tokens = await password_login(auth_http)
    secret = (await auth_http.post("/v1/auth/mfa/enroll", headers=bearer(tokens))).json()["secret"]
    r = await auth_http.post("/v1/auth/mfa/confirm", headers=bearer(tokens),
                             json={"code": totp.code_at(secret, time.time())})
    assert r.status_code == 200, r.text
    step = await password_login(auth_http)
    assert step["methods"] == ["totp"] and "passkey" not in step
    device = Authenticator()
    r = await auth_http.post("/v1/auth/login/mfa", json={"challenge": step["challenge"],
                                                         "code": totp.code_at(secret, time.time() + 30)})
    assert r.status_code == 200, r.text
    await register(auth_http, r.json(), device)
    step = await password_login(auth_http)
    assert step["methods"] == ["totp", "passkey"]
    r = await auth_http.post("/v1/auth/login/passkey", json={"challenge": step["challenge"],
                                                             "credential": device.get_json(step["passkey"])})
    assert r.status_code == 200, r.text


async def test_an_administrators_password_reset_disables_the_users_passkeys(auth_http, security) -> None:
    user = await make_user(auth_http, security)
    device = Authenticator()
    await register(auth_http, await password_login(auth_http), device, second_factor=False)
    assert (await passkey_login(auth_http, device)).status_code == 200
    own = await password_login(auth_http)  # the user's own change keeps them
    r = await auth_http.post(f"/v1/auth/users/{user['id']}/password", headers=bearer(own),
                             json={"new_password": PASSWORD + "!", "current_password": PASSWORD})
    assert r.status_code in (200, 204), r.text
    assert (await passkey_login(auth_http, device)).status_code == 200
    r = await auth_http.post(f"/v1/auth/users/{user['id']}/password", headers=await admin_headers(security),
                             json={"new_password": PASSWORD})
    assert r.status_code in (200, 204), r.text
    assert_problem(await passkey_login(auth_http, device), 401, "passkey-disabled")
    [key] = await my_passkeys(auth_http, await password_login(auth_http))
    assert key["disabled"] and key["disabled_why"] == "password reset by an administrator"

