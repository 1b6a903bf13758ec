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
    revocation_page: int = Field(
        1000, ge=10, le=100_000, description="Most rows of the revocation feed in one answer (the gateway asks "
        "again at once for the rest).")
    revocation_prune_s: float = Field(300.0, gt=0, description="How often feed rows past their horizon are forgotten.")
    # -- resource grants --
    grants_poll_s: float = Field(
        1.0, gt=0, le=300, description="How often a replica checks the grants' version and reloads its "
        "in-memory index when another replica (or SQL) changed grants, groups or resources.")
    grants_listen: bool = Field(
        True, description="Also LISTEN for the grants' NOTIFY (holds one pooled connection): another "
        "replica's change is seen at once rather than at the next poll.")
    # -- passkeys --
    passkey_rp_id: str = Field(
        "localhost", min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.-]+$",
        description="WebAuthn relying party id: the site's domain (a passkey works only there). Never "
        "taken from a request.")
    passkey_rp_name: str = Field("Aria", min_length=1, max_length=64, description="Shown by the authenticator.")
    passkey_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:8000", "http://127.0.0.1:8000"], min_length=1, max_length=16,
        description="Origins (scheme://host[:port]) a ceremony may run on; the browser reports its own.")
    passkey_user_verification: str = Field(
        "required", pattern="^(required|preferred|discouraged)$",
        description="User verification (PIN, biometrics) for registration and passwordless logins; "
        "'required' refuses an authenticator that did not verify the user.")
    passkey_timeout_s: int = Field(
        300, ge=30, le=900, description="A ceremony's challenge lives this long (also the browser's timeout).")
    passkey_max_per_user: int = Field(10, ge=1, le=100, description="Passkeys one user may register.")
    passkey_reauth_s: int = Field(
        300, ge=30, le=86400, description="Registering a passkey needs a session whose password or passkey "
        "login is at most this old (else 401 passkey-reauth-required: log in again).")
    # -- WebRTC peers --
    peer_grant_ttl_s: int = Field(
        120, ge=10, le=300, description="Lifetime of a peer grant (joining a WebRTC room on the channel).")
    peer_turn_ttl_s: int = Field(
        3600, ge=60, le=86400, description="Lifetime of TURN REST credentials (coturn checks the expiry "
        "in the username). At most a day: the shared secret rotates no more often than that.")
    peer_turn_uris: list[str] = Field(
        default_factory=list, max_length=16, description="TURN/STUN URIs handed out with the credentials "
        "(turn:host:3478?transport=udp, turns:..., stun:...); never taken from a request.")
    peer_secret_rotate_s: int = Field(
        7 * 86400, ge=86400, description="How often the TURN secret and the grant key rotate; the previous "
        "one stays valid until the next rotation (configure coturn with both static-auth-secret lines).")
    peer_room_max_members: int = Field(16, ge=2, le=256, description="Members one WebRTC room may have.")
    # -- OpenID provider --
    oidc_public_url: str | None = Field(
        None, max_length=200, pattern=r"^https?://[^/?#\s]+(/[^?#\s]*[^/?#\s])?$",
        description="The gateway's public base URL (no trailing slash); the OpenID issuer is it + "
        "/v1/auth/oidc. Default http://127.0.0.1:<ARIA_PORT>. Never taken from request headers.")
    oidc_code_ttl_s: int = Field(60, ge=5, le=60, description="Lifetime of an authorization code.")
    oidc_request_ttl_s: int = Field(
        600, ge=60, le=3600, description="How long a login/consent page stays answerable.")
    oidc_id_token_ttl_s: int = Field(300, ge=60, le=3600, description="Lifetime of an ID token.")
    oidc_logout_hint_max_age_s: int = Field(
        86400, ge=60, le=30 * 86400, description="RP-initiated logout ends a session at once only for an "
        "id_token_hint issued at most this long ago; an older (or no) hint gets a confirmation page.")
    # -- OpenID relying party --
    sso_providers: list[dict[str, object]] = Field(
        default_factory=list, description="Outside OpenID providers users may log in through, each a table "
        "(name, issuer, client_id, client_secret_name, scopes, jit, default_role, tenant, role_rules, "
        "algorithms): see docs/auth-relying.md. Checked when aria_auth starts.")
    sso_redirect_base: str = Field(
        "", max_length=200, description="The gateway's public URL as browsers reach it (e.g. "
        "https://aria.example.com): a provider sends the browser back to <it>/v1/auth/sso/<name>/callback. "
        "Needed once sso_providers are set; never taken from a request.")
    sso_state_ttl_s: int = Field(600, ge=30, le=3600, description="How long a begun SSO login may take.")
    sso_bind_browser: bool = Field(
        True, description="Bind each SSO login to the browser that began it with a cookie (the callback "
        "is refused without it).")
    sso_leeway_s: int = Field(60, ge=0, le=300, description="Clock skew allowed on ID-token times.")
    sso_http_timeout_s: float = Field(5.0, gt=0, le=60, description="Timeout of each call to a provider.")
    sso_max_response_bytes: int = Field(1 << 20, ge=4096, le=16 << 20,
                                        description="Largest answer read from a provider.")
    sso_metadata_ttl_s: float = Field(3600.0, ge=0, le=86400,
                                      description="How long discovery documents and JWKS are cached.")
