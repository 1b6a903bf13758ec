DROP TABLE IF EXISTS oidc_logouts;
ALTER TABLE oidc_requests DROP COLUMN IF EXISTS mfa_challenge_digest;
