"""aria_auth over a real PostgreSQL and a real aria_security (OpenBao): users, logins, lockout,
refresh rotation with reuse detection, revocation, role changes, TOTP MFA."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from aria_actors.auth import totp
from aria_actors.auth.errors import (
    AccountDisabled,
    AccountLocked,
    ClientNotFound,
    InvalidChallenge,
    InvalidCredentials,
    InvalidMfaCode,
    InvalidRefreshToken,
    InvalidUser,
    MfaState,
    RefreshTokenReused,
    UserExists,
    WeakPassword,
)
from aria_actors.runtime.principal import Principal

pytestmark = pytest.mark.asyncio(loop_scope="session")
PASSWORD = "correct horse battery staple"
OP = Principal.operator()
ANON = Principal.anonymous()


def as_user(user_id: str) -> Principal:
    """The user through one of their sessions (what the gateway builds from their access token)."""
    return Principal(user_id, ("user",), session="a-session")


async def alice(auth, **kw):
    return await auth.create_user(OP, "alice", PASSWORD, **kw)


async def test_login_gives_a_signed_access_token_and_a_refresh_token(auth, security) -> None:
    user = await alice(auth, tenant="acme", email="alice@acme.io", roles=["user", "editor"])
    assert "password_hash" not in user and user["roles"] == ["user", "editor"]
    tokens = await auth.login(ANON, "ALICE", PASSWORD, tenant="acme", user_agent="pytest", address="127.0.0.1")
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"].startswith("aria_rt_")
    claims = await security.verify_token(OP, tokens["access_token"])
    assert claims["sub"] == user["id"] and claims["sid"] == tokens["session_id"]
    assert claims["roles"] == ["user", "editor"] and claims["tenant"] == "acme" and claims["amr"] == ["pwd"]
    assert claims["exp"] - claims["iat"] == auth.config.access_ttl_s
    [session] = await auth.sessions(OP, user["id"])
    assert session["id"] == tokens["session_id"] and session["user_agent"] == "pytest"
    assert (await auth.get_user(OP, user["id"]))["last_login_at"] is not None


async def test_bad_users_are_refused_and_nothing_is_stored(auth) -> None:
    await alice(auth)
    with pytest.raises(UserExists):
        await auth.create_user(OP, "Alice", PASSWORD)  # usernames are case-insensitive per tenant
    await auth.create_user(OP, "alice", PASSWORD, tenant="other")  # another tenant may reuse it
    with pytest.raises(WeakPassword):
        await auth.create_user(OP, "bob", "short")
    with pytest.raises(InvalidUser, match="unknown role"):
        await auth.create_user(OP, "bob", PASSWORD, roles=["root"])
    with pytest.raises(InvalidUser):
        await auth.create_user(OP, "bob smith", PASSWORD)
    assert [u["username"] for u in await auth.list_users(OP)] == ["alice", "alice"]


async def test_wrong_password_and_unknown_user_look_the_same(auth) -> None:
    await alice(auth)
    with pytest.raises(InvalidCredentials) as wrong:
        await auth.login(ANON, "alice", "wrong password here")
    with pytest.raises(InvalidCredentials) as unknown:
        await auth.login(ANON, "nobody", PASSWORD)
    assert wrong.value.message == unknown.value.message


async def test_lockout_after_failures_refuses_even_the_right_password_until_unlocked(auth) -> None:
    user = await alice(auth)
    for _ in range(auth.config.max_failed_logins - 1):
        with pytest.raises(InvalidCredentials):
            await auth.login(ANON, "alice", "wrong password here")
    with pytest.raises(AccountLocked) as locked:
        await auth.login(ANON, "alice", "wrong password here")
    assert locked.value.fields["retry_after_s"] == auth.config.lockout_s
    with pytest.raises(AccountLocked):
        await auth.login(ANON, "alice", PASSWORD)
    assert (await auth.get_user(OP, user["id"]))["locked_until"] is not None
    await auth.update_user(OP, user["id"], unlock=True)
    assert (await auth.login(ANON, "alice", PASSWORD))["access_token"]


async def test_parallel_guesses_get_no_more_tries_than_the_limit(auth) -> None:
    # All verified at once: once the lockout is in, every answer is "locked", so a guess that
    # was right cannot be told from the wrong ones.
    user = await alice(auth)
    guesses = [f"wrong password {i:02d}" for i in range(9)] + [PASSWORD]
    results = await asyncio.gather(*(auth.login(ANON, "alice", g) for g in guesses), return_exceptions=True)
    wrong = [r for r in results if isinstance(r, InvalidCredentials)]
    locked = [r for r in results if isinstance(r, AccountLocked)]
    assert len(wrong) + len(locked) + sum(isinstance(r, dict) for r in results) == len(guesses)
    # The right password, when its turn under the row lock comes before the lockout (the order of
    # parallel logins is the scheduler's: a busy CI machine had it), resets the count as any login
    # does: one more run of wrong ones, never more.
    successes = sum(isinstance(r, dict) for r in results)
    assert len(wrong) <= (auth.config.max_failed_logins - 1) * (1 + successes)
    if not successes:  # the right one came after the lockout
        assert len(locked) == len(guesses) - len(wrong)
    assert (await auth.get_user(OP, user["id"]))["locked_until"] is not None


async def test_wrong_codes_count_toward_the_lockout(auth) -> None:
    user = await alice(auth)
    secret, _ = await enrol(auth, user["id"])
    for i in range(auth.config.max_failed_logins):
        challenge = (await auth.login(ANON, "alice", PASSWORD))["challenge"]  # a new challenge each time
        with pytest.raises(AccountLocked if i == auth.config.max_failed_logins - 1 else InvalidMfaCode):
            await auth.login_mfa(ANON, challenge, "000000")
    with pytest.raises(AccountLocked):
        await auth.login(ANON, "alice", PASSWORD)
    with pytest.raises(AccountLocked):
        await auth.mfa_disable(as_user(user["id"]), user["id"], totp.code_at(secret, time.time() + 30))


async def test_wrong_current_passwords_count_toward_the_lockout(auth) -> None:
    user = await alice(auth)
    me, new = as_user(user["id"]), "another long passphrase"
    for _ in range(auth.config.max_failed_logins - 1):
        with pytest.raises(InvalidCredentials):
            await auth.set_password(me, user["id"], new, current_password="wrong")
    with pytest.raises(AccountLocked):
        await auth.set_password(me, user["id"], new, current_password="wrong")
    with pytest.raises(AccountLocked):
        await auth.set_password(me, user["id"], new, current_password=PASSWORD)


async def test_a_token_whose_session_id_is_no_uuid_is_inactive(auth, security) -> None:
    token = await security.issue_token(OP, "someone", {"sid": "not-a-uuid", "roles": ["user"]}, 60)
    assert await auth.introspect(OP, token) == {"active": False}


async def test_a_success_resets_the_failure_count(auth) -> None:
    await alice(auth)
    for _ in range(3):  # more failures than the limit, but never that many in a row
        for _ in range(auth.config.max_failed_logins - 1):
            with pytest.raises(InvalidCredentials):
                await auth.login(ANON, "alice", "wrong password here")
        await auth.login(ANON, "alice", PASSWORD)


async def test_refresh_rotates_and_a_reused_token_ends_the_session(auth) -> None:
    await alice(auth)
    first = await auth.login(ANON, "alice", PASSWORD)
    second = await auth.refresh(ANON, first["refresh_token"])
    assert second["session_id"] == first["session_id"] and second["refresh_token"] != first["refresh_token"]
    assert (await auth.introspect(OP, second["access_token"]))["active"] is True
    with pytest.raises(RefreshTokenReused):
        await auth.refresh(ANON, first["refresh_token"])  # a stolen copy of the spent token
    with pytest.raises(InvalidRefreshToken):
        await auth.refresh(ANON, second["refresh_token"])  # the whole session is over
    assert (await auth.introspect(OP, second["access_token"])) == {"active": False}


async def test_concurrent_refreshes_of_one_token_let_exactly_one_through(auth) -> None:
    await alice(auth)
    tokens = await auth.login(ANON, "alice", PASSWORD)
    results = await asyncio.gather(*(auth.refresh(ANON, tokens["refresh_token"]) for _ in range(8)),
                                   return_exceptions=True)
    ok = [r for r in results if isinstance(r, dict)]
    assert len(ok) == 1
    assert all(isinstance(r, RefreshTokenReused) for r in results if not isinstance(r, dict))
    with pytest.raises(InvalidRefreshToken):  # reuse ended the session the winner got too
        await auth.refresh(ANON, ok[0]["refresh_token"])


@pytest.mark.parametrize("token", ["", "aria_rt_unknown", "eyJhbGciOi.x.y", None, "aria_rt_" + "x" * 400])
async def test_unknown_or_malformed_refresh_tokens_are_refused(auth, token) -> None:
    with pytest.raises(InvalidRefreshToken):
        await auth.refresh(ANON, token)


async def test_logout_ends_the_session(auth) -> None:
    await alice(auth)
    tokens = await auth.login(ANON, "alice", PASSWORD)
    await auth.logout(ANON, tokens["refresh_token"])
    with pytest.raises(InvalidRefreshToken):
        await auth.refresh(ANON, tokens["refresh_token"])
    assert (await auth.introspect(OP, tokens["access_token"]))["active"] is False
    assert await auth.introspect(OP, "garbage") == {"active": False}


async def test_a_role_change_reaches_the_session_at_its_next_refresh(auth, security) -> None:
    user = await alice(auth)
    tokens = await auth.login(ANON, "alice", PASSWORD)
    await auth.update_user(OP, user["id"], roles=["editor"])
    refreshed = await auth.refresh(ANON, tokens["refresh_token"])
    assert (await security.verify_token(OP, refreshed["access_token"]))["roles"] == ["editor"]
    assert await security.authorize(OP, await security.verify_token(OP, refreshed["access_token"]),
                                    "shape:character:write", {})


async def test_disabling_a_user_ends_sessions_and_refuses_logins(auth) -> None:
    user = await alice(auth)
    tokens = await auth.login(ANON, "alice", PASSWORD)
    await auth.update_user(OP, user["id"], disabled=True)
    with pytest.raises(InvalidRefreshToken):
        await auth.refresh(ANON, tokens["refresh_token"])
    with pytest.raises(AccountDisabled):
        await auth.login(ANON, "alice", PASSWORD)
    await auth.update_user(OP, user["id"], disabled=False)
    await auth.login(ANON, "alice", PASSWORD)


async def test_a_password_change_ends_every_session(auth) -> None:
    user = await alice(auth)
    tokens = [await auth.login(ANON, "alice", PASSWORD) for _ in range(2)]
    with pytest.raises(InvalidCredentials):
        await auth.set_password(as_user(user["id"]), user["id"], "another long passphrase", current_password="wrong")
    await auth.set_password(as_user(user["id"]), user["id"], "another long passphrase", current_password=PASSWORD)
    for t in tokens:
        with pytest.raises(InvalidRefreshToken):
            await auth.refresh(ANON, t["refresh_token"])
    with pytest.raises(InvalidCredentials):
        await auth.login(ANON, "alice", PASSWORD)
    await auth.login(ANON, "alice", "another long passphrase")


async def test_a_failed_signature_spends_nothing(auth, security) -> None:
    await alice(auth)
    tokens = await auth.login(ANON, "alice", PASSWORD)
    await security.seal(OP)  # aria_security cannot sign now: a real failure mid-refresh
    try:
        with pytest.raises(Exception) as err:
            await auth.refresh(ANON, tokens["refresh_token"])
        assert not isinstance(err.value, InvalidRefreshToken)
    finally:
        await security.unseal(OP)
    assert (await auth.refresh(ANON, tokens["refresh_token"]))["access_token"]  # the old token still works


async def enrol(auth, user_id: str) -> tuple[str, list[str]]:
    enrolment = await auth.mfa_enroll(as_user(user_id), user_id)
    confirmed = await auth.mfa_confirm(as_user(user_id), user_id, totp.code_at(enrolment["secret"], time.time()))
    return enrolment["secret"], confirmed["recovery_codes"]


async def test_mfa_login_needs_a_fresh_code_and_refuses_replays(auth, auth_database) -> None:
    user = await alice(auth)
    secret, codes = await enrol(auth, user["id"])
    assert len(codes) == auth.config.recovery_codes
    conn = await asyncpg.connect(auth_database)
    try:
        stored = await conn.fetchval("SELECT mfa_secret FROM aria_auth.users WHERE id = $1::uuid", user["id"])
    finally:
        await conn.close()
    assert stored.startswith("vault:v") and secret not in stored  # wrapped by aria_security
    step = await auth.login(ANON, "alice", PASSWORD)
    assert step["mfa_required"] is True and "access_token" not in step
    used = totp.code_at(secret, time.time())  # confirm already spent this step
    with pytest.raises(InvalidMfaCode):
        await auth.login_mfa(ANON, step["challenge"], used)
    tokens = await auth.login_mfa(ANON, step["challenge"], totp.code_at(secret, time.time() + 30))
    assert tokens["access_token"]
    with pytest.raises(InvalidChallenge):  # a challenge is used once
        await auth.login_mfa(ANON, step["challenge"], totp.code_at(secret, time.time() + 30))


async def test_recovery_codes_work_once(auth, security) -> None:
    user = await alice(auth)
    _, codes = await enrol(auth, user["id"])
    tokens = await auth.login_mfa(ANON, (await auth.login(ANON, "alice", PASSWORD))["challenge"], codes[0].upper())
    assert (await security.verify_token(OP, tokens["access_token"]))["amr"] == ["pwd", "mfa", "kba"]
    with pytest.raises(InvalidMfaCode):
        await auth.login_mfa(ANON, (await auth.login(ANON, "alice", PASSWORD))["challenge"], codes[0])
    assert (await auth.get_user(OP, user["id"]))["mfa"]["recovery_codes_left"] == len(codes) - 1


async def test_a_challenge_allows_only_a_few_attempts(auth) -> None:
    auth.config.mfa_challenge_attempts = auth.config.max_failed_logins - 1  # before the lockout
    user = await alice(auth)
    secret, _ = await enrol(auth, user["id"])
    challenge = (await auth.login(ANON, "alice", PASSWORD))["challenge"]
    for _ in range(auth.config.mfa_challenge_attempts):
        with pytest.raises(InvalidMfaCode):
            await auth.login_mfa(ANON, challenge, "000000")
    with pytest.raises(InvalidChallenge):
        await auth.login_mfa(ANON, challenge, totp.code_at(secret, time.time() + 30))


async def test_mfa_state_changes_are_checked(auth) -> None:
    user = await alice(auth)
    with pytest.raises(MfaState):
        await auth.mfa_confirm(as_user(user["id"]), user["id"], "123456")
    secret, _ = await enrol(auth, user["id"])
    with pytest.raises(MfaState):
        await auth.mfa_enroll(as_user(user["id"]), user["id"])
    with pytest.raises(InvalidMfaCode):
        await auth.mfa_disable(as_user(user["id"]), user["id"], "000000")
    await auth.mfa_disable(as_user(user["id"]), user["id"], totp.code_at(secret, time.time() + 30))
    assert (await auth.get_user(OP, user["id"]))["mfa"] == {"enabled": False, "pending": False,
                                                         "recovery_codes_left": 0}
    assert "access_token" in await auth.login(ANON, "alice", PASSWORD)


async def test_health_counts_users_and_sessions(auth) -> None:
    await alice(auth)
    await auth.login(ANON, "alice", PASSWORD)
    health = await auth.health()
    assert health.status.value == "ready"
    assert health.details["users"] == 1 and health.details["open_sessions"] == 1
    assert health.details["missing"] == []  # all ten seed features built


async def test_prune_forgets_only_long_ended_sessions(auth) -> None:
    await alice(auth)
    ended = await auth.login(ANON, "alice", PASSWORD)
    await auth.logout(ANON, ended["refresh_token"])
    live = await auth.login(ANON, "alice", PASSWORD)
    assert await auth.prune() == 0  # ended, but within prune_keep_s: a reuse is still recognised
    assert await auth.prune(keep_s=0) == 1
    with pytest.raises(InvalidRefreshToken):
        await auth.refresh(ANON, ended["refresh_token"])
    assert (await auth.refresh(ANON, live["refresh_token"]))["access_token"]


async def test_every_door_meets_the_same_checks(auth, security, monkeypatch) -> None:
    # Through the service's RPC surface (what Ray, another service or a queue job reach), not the
    # router: the caller travels with the call and the service decides on the record itself.
    import json

    from aria_actors.runtime.errors import Forbidden, NotFound, Unauthorized
    from aria_actors.runtime.local import LocalClient
    from aria_actors.runtime.rpc import default_gate

    door = LocalClient(auth)
    user = await door.call("create_user", OP, "alice", PASSWORD)
    bob = await door.call("create_user", OP, "bob", PASSWORD)
    tokens = await door.call("login", ANON, "alice", PASSWORD)  # public: no token needed
    claims = await security.verify_token(OP, tokens["access_token"])
    alice = Principal.from_claims(claims)
    assert (await door.call("me", alice))["id"] == user["id"]
    assert (await door.call("get_user", alice, user["id"]))["username"] == "alice"
    with pytest.raises(Forbidden):  # another user's record: auth:user:read, which `user` lacks
        await door.call("get_user", alice, bob["id"])
    with pytest.raises(Forbidden):  # declared auth:user:write: refused before the method runs
        await door.call("create_user", alice, "eve", PASSWORD)
    with pytest.raises(Forbidden):  # one's own roles are changed by an administrator only
        await door.call("update_user", alice, user["id"], roles=["admin"])
    with pytest.raises(Forbidden):  # enrolling someone else's authenticator
        await door.call("mfa_enroll", alice, bob["id"])
    with pytest.raises(InvalidCredentials):  # one's own password: the current one is required
        await door.call("set_password", alice, user["id"], "another long passphrase")
    with pytest.raises(Unauthorized):
        await door.call("get_user", ANON, user["id"])
    service = Principal("svc:aria_storage", ("service",), kind="service")
    with pytest.raises(Forbidden):  # a service token is no user session, even naming the user
        await door.call("me", Principal(user["id"], ("service",), kind="service"))
    with pytest.raises(Forbidden):  # and services never manage accounts
        await door.call("set_password", service, user["id"], "taken over passphrase")
    assert (await door.call("introspect", service, tokens["access_token"]))["active"] is True
    for internal in ("prune", "counts", "start", "stop", "health", "_user"):
        with pytest.raises(NotFound):  # undeclared: not callable from outside the process
            await door.call(internal, OP)
    # A tenant-scoped role assigner (a deployment's own role) grants only roles it holds.
    monkeypatch.setenv("ARIA_SECURITY_ROLES", json.dumps({"tenant-admin": ["auth:*:*"]}))
    default_gate.cache_clear()
    auth.roles = auth.roles | {"tenant-admin"}
    try:
        ta = Principal("ta", ("tenant-admin",), tenant="acme")
        with pytest.raises(Forbidden, match="does not hold: admin"):
            await door.call("create_client", ta, "etl", ["admin"], tenant="acme")
        made = await door.call("create_client", ta, "etl", ["tenant-admin"], tenant="acme")
        with pytest.raises(Forbidden):
            await door.call("update_client", ta, made["client_id"], roles=["admin"])
        other = await door.call("create_client", OP, "etl", ["service"], tenant="globex")
        with pytest.raises(ClientNotFound):  # another tenant's client: confined to acme, it finds none
            await door.call("get_client", ta, other["client_id"])
        assert [c["tenant"] for c in await door.call("list_clients", ta)] == ["acme"]
    finally:
        monkeypatch.delenv("ARIA_SECURITY_ROLES")
        default_gate.cache_clear()


@pytest.mark.parametrize("role", ["internal", "anonymous"])
async def test_internal_and_anonymous_roles_are_not_grantable(auth, role) -> None:
    """Neither role is anybody's to hold: not a user's, not a client's, not even from the operator."""
    with pytest.raises(InvalidUser, match="cannot be granted") as err:
        await auth.create_user(OP, "bob", PASSWORD, roles=["user", role])
    assert err.value.status == 400
    user = await alice(auth)
    with pytest.raises(InvalidUser, match="cannot be granted"):
        await auth.update_user(OP, user["id"], roles=[role])
    assert (await auth.get_user(OP, user["id"]))["roles"] == ["user"]
    with pytest.raises(InvalidUser, match="cannot be granted"):
        await auth.create_client(OP, "etl", [role])
    client = await auth.create_client(OP, "etl", ["service"])
    with pytest.raises(InvalidUser, match="cannot be granted"):
        await auth.update_client(OP, client["client_id"], roles=["service", role])
    assert (await auth.get_client(OP, client["client_id"]))["roles"] == ["service"]
    assert [u["username"] for u in await auth.list_users(OP)] == ["alice"]
