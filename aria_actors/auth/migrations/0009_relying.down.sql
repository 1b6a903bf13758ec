DROP TABLE IF EXISTS sso_seen_tokens;
DROP TABLE IF EXISTS sso_links;
DROP TABLE IF EXISTS sso_states;
