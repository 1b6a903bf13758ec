-- Back to one link per (issuer, subject): fails while two providers of one issuer link the same
-- subject (remove one of those links first).
DROP INDEX IF EXISTS sso_links_identity;
CREATE UNIQUE INDEX sso_links_identity ON sso_links (issuer, subject);
