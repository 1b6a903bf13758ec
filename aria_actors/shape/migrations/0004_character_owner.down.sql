-- Runs with search_path = aria_shape, public.
DROP INDEX IF EXISTS aria_shape.characters_tenant_idx;
ALTER TABLE aria_shape.characters DROP COLUMN IF EXISTS tenant;
ALTER TABLE aria_shape.characters DROP COLUMN IF EXISTS owner;
