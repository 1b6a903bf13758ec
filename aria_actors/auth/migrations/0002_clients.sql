-- Machine clients (OAuth 2.0 client credentials, RFC 6749 4.4): services and integrations that
-- call Aria without a user. Only the SHA-256 of a client secret is kept.
CREATE TABLE clients (
    id             uuid PRIMARY KEY,
    tenant         text NOT NULL DEFAULT '',
    name           text NOT NULL,
    secret_digest  bytea NOT NULL,
    roles          text[] NOT NULL,
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz
);
CREATE UNIQUE INDEX clients_tenant_name ON clients (tenant, lower(name));
