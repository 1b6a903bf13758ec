-- The OpenID provider's bindings (security review): the MFA challenge an authorization
-- request's own login form produced (only that challenge completes the request), and
-- RP-initiated logouts waiting for the user's confirmation (no valid, recent id_token_hint).
ALTER TABLE oidc_requests ADD COLUMN mfa_challenge_digest bytea;   -- sha256 of the challenge

CREATE TABLE oidc_logouts (
    id            uuid PRIMARY KEY,
    csrf_digest   bytea NOT NULL,
    client_id     uuid REFERENCES oidc_clients (id) ON DELETE CASCADE,   -- NULL: no client named
    session_id    uuid,           -- the hint's sid (checked against oidc_sessions when confirmed)
    user_id       text,           -- the hint's sub
    redirect_uri  text,           -- a registered post_logout_redirect_uri, or NULL
    state         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    finished_at   timestamptz
);
CREATE INDEX oidc_logouts_expires ON oidc_logouts (expires_at);
