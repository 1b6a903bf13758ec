"""Settings of aria_auth: ``[auth]`` in aria.toml, ``ARIA_AUTH_*`` in the environment."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aria_actors.runtime.section import SectionSettings


class AuthSettings(SectionSettings):
    """Token lifetimes, password policy, lockout and MFA of aria_auth."""

    section = "auth"
    model_config = SettingsConfigDict(env_prefix="ARIA_AUTH_", extra="forbid")

    access_ttl_s: int = Field(
        900, ge=30, le=86400, description="Lifetime of an access JWT. A revoked session's access "
        "tokens stay valid at the gateway until they expire; introspection sees the revocation at once.")
    refresh_ttl_s: int = Field(30 * 86400, ge=60, description="A session ends this long after login.")
    refresh_idle_s: int = Field(
        7 * 86400, ge=60, description="A session not refreshed for this long ends.")
    password_min_length: int = Field(12, ge=8, le=128)
    max_failed_logins: int = Field(5, ge=1, le=100, description="Wrong passwords in a row before a lockout.")
    lockout_s: int = Field(300, ge=1, description="First lockout; each further one in a row doubles it.")
    lockout_max_s: int = Field(3600, ge=1)
    mfa_issuer: str = Field("Aria", min_length=1, max_length=64, description="Issuer shown by authenticator apps.")
    mfa_valid_window: int = Field(1, ge=0, le=3, description="TOTP steps of clock skew accepted either side.")
    mfa_challenge_ttl_s: int = Field(300, ge=30, le=3600)
    mfa_challenge_attempts: int = Field(5, ge=1, le=20)
    recovery_codes: int = Field(10, ge=1, le=50)
    # argon2id cost (argon2-cffi's RFC 9106 low-memory profile is the default: t=3, 64 MiB, p=4).
    argon2_time_cost: int = Field(3, ge=1, le=20)
    argon2_memory_kib: int = Field(65536, ge=8192, le=1048576)
    argon2_parallelism: int = Field(4, ge=1, le=16)
    prune_interval_s: float = Field(3600.0, gt=0, description="How often ended sessions are forgotten.")
    prune_keep_s: int = Field(
        86400, ge=0, description="Ended sessions, spent refresh tokens and challenges are kept this long "
        "(so a reused token is still recognised as reused shortly after its session ended).")
    pool_size: int = Field(8, ge=2, le=100, description="asyncpg pool size of the service.")


    # Each part of the service keeps its settings in its own block below (in the order of PARTS).
    # -- revocation / endpoint protection --
    # -- resource grants --
    # -- passkeys --
    # -- WebRTC peers --
    # -- OpenID provider --
    # -- OpenID relying party --
