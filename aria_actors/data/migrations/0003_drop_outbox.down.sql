-- The outbox table as 0001 created it (its rows are not restored).
CREATE TABLE aria_data.outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic         text        NOT NULL CHECK (topic <> ''),
    key           text,
    payload       jsonb       NOT NULL,
    tenant_id     text        DEFAULT aria_data.current_tenant(),
    created_at    timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz,
    attempts      integer     NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON aria_data.outbox (id) WHERE delivered_at IS NULL;
GRANT INSERT, SELECT (id) ON aria_data.outbox TO aria_tenant;
GRANT USAGE ON SEQUENCE aria_data.outbox_id_seq TO aria_tenant;
