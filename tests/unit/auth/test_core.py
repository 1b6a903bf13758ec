"""aria_auth's Ray-free parts: password policy and hashing, TOTP, opaque secrets, user fields."""

from __future__ import annotations

import pytest

from aria_actors.auth import credentials, totp
from aria_actors.auth.errors import InvalidUser, WeakPassword
from aria_actors.auth.passwords import PasswordHasher, PasswordPolicy
from aria_actors.auth.users import (
    check_email,
    check_roles,
    check_tenant,
    check_username,
    lockout_seconds,
)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_kib=8192, parallelism=1)


@pytest.mark.parametrize(("password", "why"), [
    ("short", "at least 12"), ("a" * 20, "repeated"), ("xx-alice-2026-xx", "username"), ("b" * 1025, "at most"),
])
def test_policy_refuses_weak_passwords_saying_why(password: str, why: str) -> None:
    with pytest.raises(WeakPassword, match=why):
        PasswordPolicy(12).check(password, "alice")


def test_policy_accepts_long_passphrases_without_composition_rules() -> None:
    PasswordPolicy(12).check("correct horse battery staple", "alice")
    PasswordPolicy(12).check("ünïcödé pässwörd ✓", "bob")


def test_argon2id_hash_verifies_only_its_password(hasher: PasswordHasher) -> None:
    stored = hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert hasher.verify(stored, "correct horse battery staple")
    assert not hasher.verify(stored, "correct horse battery stapler")
    assert not hasher.verify("not a hash", "x")
    assert not hasher.verify_unknown("anything")


def test_a_raised_cost_asks_for_a_rehash(hasher: PasswordHasher) -> None:
    stored = hasher.hash("correct horse battery staple")
    assert not hasher.needs_rehash(stored)
    assert PasswordHasher(time_cost=2, memory_kib=8192, parallelism=1).needs_rehash(stored)


def test_totp_matches_rfc6238_vector() -> None:
    # RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 s -> 94287082 (8 digits);
    # with 6 digits the code is its last six.
    import base64

    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp.code_at(secret, 59) == "287082"
    assert totp.code_at(secret, 1111111109) == "081804"


def test_totp_accepts_the_window_and_refuses_replays_and_junk() -> None:
    secret = totp.new_secret()
    now = 1_700_000_000.0
    step = int(now // totp.PERIOD_S)
    assert totp.verify(secret, totp.code_at(secret, now), now=now) == step
    assert totp.verify(secret, totp.code_at(secret, now - 30), now=now) == step - 1
    assert totp.verify(secret, totp.code_at(secret, now - 90), now=now) is None  # outside the window
    assert totp.verify(secret, totp.code_at(secret, now), last_step=step, now=now) is None  # replay
    assert totp.verify(secret, totp.code_at(secret, now + 30), last_step=step, now=now) == step + 1
    for junk in ("", "12345", "1234567", "abcdef", None, 123456, "١٢٣٤٥٦"):  # Arabic-Indic digits
        assert totp.verify(secret, junk, now=now) is None  # type: ignore[arg-type]


def test_provisioning_uri_names_issuer_and_account() -> None:
    uri = totp.provisioning_uri(totp.new_secret(), "alice@acme", "Aria")
    assert uri.startswith("otpauth://totp/Aria:alice%40acme?") and "issuer=Aria" in uri


def test_secrets_are_prefixed_random_and_stored_as_digests() -> None:
    a, b = (credentials.new_secret(credentials.REFRESH_PREFIX) for _ in range(2))
    assert a != b and a.startswith("aria_rt_") and len(a) >= 40
    assert credentials.digest(a) != credentials.digest(b) and len(credentials.digest(a)) == 32
    assert credentials.has_prefix(a, credentials.REFRESH_PREFIX)
    assert not credentials.has_prefix(a, credentials.CHALLENGE_PREFIX)
    assert not credentials.has_prefix(None, credentials.REFRESH_PREFIX)


def test_recovery_codes_are_typed_forgivingly() -> None:
    codes = credentials.new_recovery_codes(10)
    assert len(set(codes)) == 10 and all(len(c) == 17 and c.count("-") == 2 for c in codes)
    code = codes[0]
    sloppy = " " + code.upper().replace("-", " ") + " "
    assert credentials.recovery_digest(sloppy) == credentials.recovery_digest(code)
    assert credentials.recovery_digest(codes[1]) != credentials.recovery_digest(code)


@pytest.mark.parametrize("bad", ["", "a", "-alice", "al ice", "a" * 65, None, "alice/../x"])
def test_bad_usernames_are_refused(bad: object) -> None:
    with pytest.raises(InvalidUser):
        check_username(bad)


def test_good_fields_pass() -> None:
    assert check_username("alice.smith@acme") == "alice.smith@acme"
    assert check_tenant("") == "" and check_tenant("acme-1") == "acme-1"
    assert check_email(None) is None and check_email("a@b.io") == "a@b.io"
    assert check_roles(["user", "editor", "user"], {"user", "editor"}) == ["user", "editor"]


def test_bad_fields_name_themselves() -> None:
    with pytest.raises(InvalidUser) as err:
        check_tenant("Acme")
    assert err.value.fields["field"] == "tenant"
    with pytest.raises(InvalidUser, match="unknown role 'root'"):
        check_roles(["root"], {"user"})
    with pytest.raises(InvalidUser):
        check_email("not-an-address")


def test_lockouts_double_up_to_the_cap() -> None:
    assert [lockout_seconds(n, 60, 600) for n in range(6)] == [60, 120, 240, 480, 600, 600]
    assert lockout_seconds(10_000, 60, 600) == 600


@pytest.mark.parametrize("role", ["internal", "anonymous"])
@pytest.mark.parametrize("roles", [["{role}"], ["user", "{role}"], ["{role}", "admin"]])
def test_internal_and_anonymous_are_never_granted(role, roles) -> None:
    from aria_actors.security.rbac import DEFAULT_ROLES

    with pytest.raises(InvalidUser, match="cannot be granted") as err:
        check_roles([r.format(role=role) for r in roles], DEFAULT_ROLES)  # both are in the table
    assert err.value.status == 400 and err.value.fields == {"field": "roles", "role": role}


def test_the_roles_offered_in_errors_are_only_grantable_ones() -> None:
    with pytest.raises(InvalidUser) as err:
        check_roles(["root"], {"user", "internal", "anonymous"})
    assert "known roles: user" in err.value.message and "internal" not in err.value.message
    assert check_roles(["user"], {"user", "internal", "anonymous"}) == ["user"]
