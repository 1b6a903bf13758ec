-- aria_shape 0001: templates, characters with their history of versions, and model versions.
-- Runs with search_path = aria_shape, public.

CREATE TABLE aria_shape.templates (
    name        text PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 64),
    body        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE aria_shape.characters (
    id          uuid PRIMARY KEY,
    template    text NOT NULL,
    name        text NOT NULL DEFAULT '',
    version     integer NOT NULL CHECK (version >= 1),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every version of every character, never updated: the character's evolution over time.
CREATE TABLE aria_shape.character_versions (
    character_id uuid NOT NULL REFERENCES aria_shape.characters (id) ON DELETE CASCADE,
    version      integer NOT NULL CHECK (version >= 1),
    body         jsonb NOT NULL,
    change       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (character_id, version)
);

CREATE TABLE aria_shape.model_versions (
    id              text PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 128),
    parent          text REFERENCES aria_shape.model_versions (id),
    path            text NOT NULL,
    metrics         jsonb NOT NULL DEFAULT '{}'::jsonb,
    training_config jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
