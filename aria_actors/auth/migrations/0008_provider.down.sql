DROP TABLE IF EXISTS oidc_keys;
DROP TABLE IF EXISTS oidc_sessions;
DROP TABLE IF EXISTS oidc_codes;
DROP TABLE IF EXISTS oidc_requests;
DROP TABLE IF EXISTS oidc_clients;
