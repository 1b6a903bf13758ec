-- aria_storage: assets and their versions. The blob itself lives in the chunk store; a version
-- row keeps the .caibx index that names its chunks (so the live set for gc is this table).
CREATE TABLE assets (
    name        text PRIMARY KEY CHECK (name <> '' AND length(name) <= 512),
    latest      integer NOT NULL DEFAULT 0,   -- last version number handed out (never reused)
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE versions (
    name          text NOT NULL REFERENCES assets (name) ON DELETE CASCADE,
    version       integer NOT NULL CHECK (version > 0),
    size          bigint NOT NULL CHECK (size >= 0),
    content_type  text NOT NULL DEFAULT 'application/octet-stream',
    metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
    tags          text[] NOT NULL DEFAULT '{}',
    chunk_count   integer NOT NULL,
    index_data    bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

CREATE INDEX versions_metadata_idx ON versions USING gin (metadata jsonb_path_ops);
CREATE INDEX versions_tags_idx ON versions USING gin (tags);
CREATE INDEX versions_created_idx ON versions (created_at);
