-- aria_auth passkeys (WebAuthn): registered credentials and the server side of each ceremony.
-- Neither table carries a tenant nor is granted to aria_tenant (like sessions): a credential
-- belongs to a user, whose tenant row-level security already guards.

-- One row per registered credential (an authenticator's key pair for this relying party).
CREATE TABLE passkeys (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id  bytea NOT NULL CHECK (octet_length(credential_id) BETWEEN 1 AND 1023),
    public_key     bytea NOT NULL,                    -- COSE_Key, as the authenticator gave it
    sign_count     bigint NOT NULL DEFAULT 0,         -- the authenticator's counter, last seen
    transports     text[] NOT NULL DEFAULT '{}',
    aaguid         text NOT NULL,                     -- the authenticator model (zeros: not told)
    label          text NOT NULL,
    second_factor  boolean NOT NULL DEFAULT true,     -- asked for after a password login
    user_verified  boolean NOT NULL,                  -- at registration
    backed_up      boolean NOT NULL DEFAULT false,    -- a synced (multi-device) passkey
    device_type    text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz,
    disabled_at    timestamptz,                       -- set when its counter went back (a clone)
    disabled_why   text
);
CREATE UNIQUE INDEX passkeys_credential ON passkeys (credential_id);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A registration or passwordless login in progress: the challenge handed to the browser, used once.
CREATE TABLE passkey_ceremonies (
    digest      bytea PRIMARY KEY,                    -- sha256 of the ceremony handle (aria_pk_...)
    purpose     text NOT NULL CHECK (purpose IN ('register', 'login')),
    challenge   bytea NOT NULL,
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    named       boolean NOT NULL DEFAULT false,       -- a login that named a user (user_id NULL: unknown)
    tenant      text NOT NULL DEFAULT '',
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
