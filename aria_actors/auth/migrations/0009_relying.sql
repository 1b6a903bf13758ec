-- aria_auth as an OpenID Connect relying party: logins through outside providers.

-- One row per login begun (GET /v1/auth/sso/<provider>/login): spent by its callback, once.
CREATE TABLE sso_states (
    digest          bytea PRIMARY KEY,                 -- sha256 of the state sent to the provider
    provider        text NOT NULL,
    nonce           text NOT NULL,                     -- sent in the authorization request, in the ID token
    verifier        text NOT NULL,                     -- PKCE code verifier (RFC 7636); lives minutes
    binding_digest  bytea,                             -- sha256 of the browser cookie's value (null: none)
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX sso_states_expires ON sso_states (expires_at);

-- An Aria user known to an outside provider as (issuer, sub): the only way a login finds a user.
CREATE TABLE sso_links (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       text NOT NULL,
    issuer         text NOT NULL,
    subject        text NOT NULL,
    email          text,                               -- as the provider said at the last login (shown only)
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);
CREATE UNIQUE INDEX sso_links_identity ON sso_links (issuer, subject);
CREATE INDEX sso_links_user ON sso_links (user_id);

-- ID tokens already accepted (by issuer and jti, or nonce), until they expire: none is taken twice.
CREATE TABLE sso_seen_tokens (
    digest      bytea PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sso_seen_tokens_expires ON sso_seen_tokens (expires_at);
