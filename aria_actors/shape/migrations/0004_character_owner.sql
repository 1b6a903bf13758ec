-- aria_shape 0004: who owns a character and in which tenant it lives, so reading, evolving and
-- reading the history of one are decided on the record (owner, tenant) and not on the kind alone.
-- Characters made before this have no owner and no tenant: only holders of shape:character:*
-- on tenant-less resources (any tenant-scoped editor, @any roles) reach them, as before.
-- Runs with search_path = aria_shape, public.
ALTER TABLE aria_shape.characters ADD COLUMN owner text NOT NULL DEFAULT '';
ALTER TABLE aria_shape.characters ADD COLUMN tenant text;
CREATE INDEX characters_tenant_idx ON aria_shape.characters (tenant, created_at);
