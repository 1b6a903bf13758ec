-- SSO links are per configured provider: one issuer may stand behind several providers (one
-- client_id per tenant), and a login through one of them must never find the user another one
-- linked (it would sign in to that user's tenant and apply this provider's role rules to them).
-- The identity is now (provider, issuer, subject); existing links keep the provider that made them.
DROP INDEX IF EXISTS sso_links_identity;
CREATE UNIQUE INDEX sso_links_identity ON sso_links (provider, issuer, subject);
