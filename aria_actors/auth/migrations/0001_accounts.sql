-- aria_auth: users, login sessions, rotating refresh tokens, MFA challenges.
CREATE TABLE users (
    id               uuid PRIMARY KEY,
    tenant           text NOT NULL DEFAULT '',
    username         text NOT NULL,
    email            text,
    display_name     text,
    password_hash    text NOT NULL,
    roles            text[] NOT NULL DEFAULT '{user}',
    disabled         boolean NOT NULL DEFAULT false,
    failed_logins    integer NOT NULL DEFAULT 0,
    lockouts         integer NOT NULL DEFAULT 0,      -- lockouts in a row: the next one doubles
    locked_until     timestamptz,
    mfa_secret       text,                            -- aria_security transit ciphertext
    mfa_enabled      boolean NOT NULL DEFAULT false,
    mfa_last_step    bigint NOT NULL DEFAULT 0,       -- last accepted TOTP step (replay guard)
    recovery_codes   text[] NOT NULL DEFAULT '{}',    -- sha256 hex of the unused codes
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    last_login_at    timestamptz
);
CREATE UNIQUE INDEX users_tenant_username ON users (tenant, lower(username));

-- One row per login. A refresh replaces the session's token; the session id is the JWT's `sid`.
CREATE TABLE sessions (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amr           text[] NOT NULL,                   -- how the user proved who they are (RFC 8176)
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    last_used_at  timestamptz NOT NULL DEFAULT now(),
    refreshes     integer NOT NULL DEFAULT 0,
    revoked_at    timestamptz,
    revoked_why   text,
    user_agent    text,
    address       text
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

-- Every refresh token ever handed out, by digest: a used one that comes back is a stolen copy.
CREATE TABLE refresh_tokens (
    digest      bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Second step of a login with MFA on: the password was right, a code is still owed.
CREATE TABLE challenges (
    digest      bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    used_at     timestamptz,
    user_agent  text,
    address     text
);
