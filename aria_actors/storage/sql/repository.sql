-- Named queries of the asset repository (aria_actors/storage/repository.py).

-- name: next_version
-- $2 becomes the owner of a new asset; an existing asset keeps its owner (returned for the check).
INSERT INTO aria_storage.assets (name, latest, owner) VALUES ($1, 1, $2)
ON CONFLICT (name) DO UPDATE SET latest = aria_storage.assets.latest + 1
RETURNING latest, owner;

-- name: asset_owner
SELECT owner FROM aria_storage.assets WHERE name = $1;

-- name: version_owner
SELECT owner FROM aria_storage.versions WHERE name = $1 AND version = $2;

-- name: insert_version
INSERT INTO aria_storage.versions
    (name, version, size, content_type, metadata, tags, chunk_count, index_data, owner)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9)
RETURNING name, version, size, content_type, metadata, tags, chunk_count, created_at, owner;

-- name: get_version
SELECT name, version, size, content_type, metadata, tags, chunk_count, created_at, owner, index_data
FROM aria_storage.versions WHERE name = $1 AND version = $2;

-- name: get_latest
SELECT name, version, size, content_type, metadata, tags, chunk_count, created_at, owner, index_data
FROM aria_storage.versions WHERE name = $1 ORDER BY version DESC LIMIT 1;

-- name: list_versions
SELECT name, version, size, content_type, metadata, tags, chunk_count, created_at, owner
FROM aria_storage.versions WHERE name = $1 ORDER BY version;

-- name: search
-- $1 metadata containment (jsonb or null), $2 tags all present (text[] or null),
-- $3 name prefix (or null), $4 content type (or null), $5 latest only, $6 limit.
SELECT v.name, v.version, v.size, v.content_type, v.metadata, v.tags, v.chunk_count, v.created_at,
       v.owner
FROM aria_storage.versions v
WHERE ($1::jsonb IS NULL OR v.metadata @> $1::jsonb)
  AND ($2::text[] IS NULL OR v.tags @> $2::text[])
  AND ($3::text IS NULL OR starts_with(v.name, $3::text))
  AND ($4::text IS NULL OR v.content_type = $4::text)
  AND (NOT $5::boolean OR v.version = (SELECT max(w.version) FROM aria_storage.versions w
                                       WHERE w.name = v.name))
ORDER BY v.name, v.version
LIMIT $6;

-- name: delete_version
DELETE FROM aria_storage.versions WHERE name = $1 AND version = $2 RETURNING version;

-- name: names
SELECT name FROM aria_storage.assets ORDER BY name;

-- name: lifecycle_candidates
-- Versions of asset $1 beyond the newest $2 (null: no count rule) or created before $3 (null: no
-- age rule); the newest version is never a candidate.
SELECT version FROM (
    SELECT version, created_at,
           row_number() OVER (ORDER BY version DESC) AS rank
    FROM aria_storage.versions WHERE name = $1
) ranked
WHERE rank > 1
  AND (($2::integer IS NOT NULL AND rank > $2::integer)
       OR ($3::timestamptz IS NOT NULL AND created_at < $3::timestamptz))
ORDER BY version;

-- name: live_indexes
SELECT name, version, index_data FROM aria_storage.versions;

-- name: ping
SELECT count(*) AS versions FROM aria_storage.versions;

-- name: put_rule
INSERT INTO aria_storage.lifecycle_rules (name_prefix, keep_last, older_than_s) VALUES ($1, $2, $3)
ON CONFLICT (name_prefix) DO UPDATE
   SET keep_last = EXCLUDED.keep_last, older_than_s = EXCLUDED.older_than_s;

-- name: rules
SELECT name_prefix, keep_last, older_than_s FROM aria_storage.lifecycle_rules ORDER BY name_prefix;

-- name: delete_rule
DELETE FROM aria_storage.lifecycle_rules WHERE name_prefix = $1 RETURNING name_prefix;
