"""Settings of aria_security: ``[security]`` in aria.toml, ``ARIA_SECURITY_*`` in the environment;
the OpenBao URL itself is ``ARIA_OPENBAO_URL``.

Guarantees and caveats
----------------------
- Every crypto option fails closed: an unknown algorithm or a TTL outside its range is refused at
  load time, never silently replaced by a default.
- ``hsm_pin`` given here (environment) keeps the PIN off disk; left empty, Aria generates one and
  keeps it in ``ARIA_HOME/security/hsm/pin`` (mode 0600). That file is the trust root of the
  embedded setup: whoever can read it and the token directory can unwrap the unseal key.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from aria_actors.runtime.section import SectionSettings


class SecuritySettings(SectionSettings):
    """Knobs of the security service. Unknown keys are refused."""

    section = "security"
    model_config = SettingsConfigDict(env_prefix="ARIA_SECURITY_", extra="forbid", frozen=True)

    openbao_port: int = Field(
        0, ge=0, le=65535,
        description="API port of the embedded OpenBao on 127.0.0.1; 0 picks a free one (kept).",
    )
    openbao_token: SecretStr = Field(
        SecretStr(""), description="Token for an external OpenBao (ARIA_OPENBAO_URL set).",
    )
    approle_role_id: str = Field("", description="AppRole role_id for an external OpenBao.")
    approle_secret_id: SecretStr = Field(SecretStr(""), description="AppRole secret_id (external).")
    hsm_module: str = Field(
        "/usr/lib/softhsm/libsofthsm2.so", min_length=1, description="PKCS#11 module of the HSM.",
    )
    hsm_pin: SecretStr = Field(
        SecretStr(""), description="User PIN of the HSM token; empty generates one kept in a 0600 file.",
    )
    request_timeout_s: float = Field(
        5.0, gt=0, le=60, description="Timeout of one call to OpenBao; callers fail fast after it.",
    )
    start_timeout_s: float = Field(60.0, gt=0, le=600, description="Wait for OpenBao to be ready.")
    openbao_repair_grace_s: float = Field(
        30.0, gt=0, le=3600, description="How long aria_security tries to restart a dead embedded "
        "OpenBao itself before it reports failed, so the supervisor restarts the whole service.",
    )
    jwt_issuer: str = Field("aria", min_length=1, description="`iss` of the tokens Aria issues.")
    roles: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Extra RBAC roles (name -> permissions, JSON), added to the "
        "built-in table or replacing a built-in role of the same name; checked at start.")
    jwt_key: str = Field("aria-jwt", pattern=r"^[a-z0-9-]+$", description="Transit key that signs JWTs.")
    jwt_default_ttl_s: int = Field(900, ge=1, le=86400, description="Lifetime of a token by default.")
    jwt_max_ttl_s: int = Field(
        3600, ge=1, le=7 * 86400,
        description="Longest token lifetime; also the overlap window after a key rotation.",
    )
    jwt_leeway_s: int = Field(5, ge=0, le=300, description="Clock skew accepted on exp/nbf.")
    service_token_ttl_s: int = Field(
        900, ge=60, le=86400, description="Lifetime of the OpenBao tokens handed to services.",
    )
    rotation_interval_s: int = Field(
        30 * 86400, ge=60, description="Transit and JWT keys older than this are rotated.",
    )
    rotation_check_s: float = Field(
        3600.0, ge=0, description="How often the rotation schedule is checked; 0 turns it off.",
    )
    lockout_threshold: int = Field(
        10, ge=1, le=10000, description="Denied authorisations in the window that lock a principal out.",
    )
    lockout_window_s: float = Field(60.0, gt=0, description="Window in which denials are counted.")
    lockout_s: float = Field(300.0, gt=0, description="How long a locked-out principal stays locked.")

    @model_validator(mode="after")
    def _ttls_consistent(self) -> SecuritySettings:
        if self.jwt_default_ttl_s > self.jwt_max_ttl_s:
            raise ValueError(f"jwt_default_ttl_s ({self.jwt_default_ttl_s}) exceeds jwt_max_ttl_s "
                             f"({self.jwt_max_ttl_s}); the overlap window would not cover it")
        return self


SecurityConfig = SecuritySettings  # the former name
