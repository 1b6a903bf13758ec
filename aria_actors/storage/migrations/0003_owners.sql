-- Who created each asset (its owner: a role holding storage:asset:write/delete only @own, such as
-- `user`, may add versions to or delete versions of the assets it owns) and who uploaded each
-- version. Rows from before this migration have no owner: only roles granted those permissions
-- beyond @own (editor, admin, services) may change them.
ALTER TABLE assets ADD COLUMN owner text;
ALTER TABLE versions ADD COLUMN owner text;
