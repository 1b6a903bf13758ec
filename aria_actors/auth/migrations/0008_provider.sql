-- Aria as an OpenID Connect provider: registered relying parties, pending authorization
-- requests (the browser's login and consent), authorization codes, the sessions an OIDC login
-- opened (bound to their client) and the ID-token signing keys. Secrets and codes are kept only
-- as SHA-256 digests; the signing keys' private halves only wrapped by aria_security's transit.
CREATE TABLE oidc_clients (
    id                         uuid PRIMARY KEY,
    tenant                     text NOT NULL DEFAULT '',
    name                       text NOT NULL,
    secret_digest              bytea,                 -- NULL: a public client (PKCE, no secret)
    redirect_uris              text[] NOT NULL,
    post_logout_redirect_uris  text[] NOT NULL DEFAULT '{}',
    scopes                     text[] NOT NULL,
    trusted                    boolean NOT NULL DEFAULT false,   -- first-party: no consent page
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX oidc_clients_tenant_name ON oidc_clients (tenant, lower(name));

-- One row per authorization request being answered in a browser (login, MFA, consent).
CREATE TABLE oidc_requests (
    id              uuid PRIMARY KEY,
    csrf_digest     bytea NOT NULL,
    client_id       uuid NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    redirect_uri    text NOT NULL,
    scopes          text[] NOT NULL,
    state           text,
    nonce           text,
    code_challenge  text NOT NULL,
    session_id      uuid REFERENCES sessions (id) ON DELETE CASCADE,   -- set once the user logged in
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    finished_at     timestamptz
);
CREATE INDEX oidc_requests_expires ON oidc_requests (expires_at);

-- Authorization codes: single use, short-lived, bound to client, redirect URI and PKCE challenge.
CREATE TABLE oidc_codes (
    digest          bytea PRIMARY KEY,
    client_id       uuid NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    session_id      uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    redirect_uri    text NOT NULL,
    scopes          text[] NOT NULL,
    nonce           text,
    code_challenge  text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX oidc_codes_expires ON oidc_codes (expires_at);

-- The aria_auth session an OIDC login opened, and the client and scopes it was granted to.
CREATE TABLE oidc_sessions (
    session_id  uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    client_id   uuid NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    scopes      text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oidc_sessions_client ON oidc_sessions (client_id);

-- ID-token signing keys (RS256): the private JWK wrapped by aria_security's transit key.
CREATE TABLE oidc_keys (
    kid         text PRIMARY KEY,
    wrapped     text NOT NULL,
    public_jwk  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
