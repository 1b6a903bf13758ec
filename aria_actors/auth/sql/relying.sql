-- aria_auth's OpenID relying party (schema aria_auth, migrations 0009 and 0011), one statement per function
-- of aria_actors/auth/relying_store.py.

-- name: insert_state
INSERT INTO aria_auth.sso_states (digest, provider, nonce, verifier, binding_digest, expires_at)
VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6));

-- name: state_for_update
-- The state row, locked: two callbacks with one state serialise, and only the first spends it.
SELECT digest, provider, nonce, verifier, binding_digest, used_at, expires_at <= now() AS expired
FROM aria_auth.sso_states WHERE digest = $1
FOR UPDATE;

-- name: use_state
UPDATE aria_auth.sso_states SET used_at = now() WHERE digest = $1;

-- name: see_token
-- Record an accepted ID token; nothing is inserted when it was seen before.
INSERT INTO aria_auth.sso_seen_tokens (digest, expires_at) VALUES ($1, $2)
ON CONFLICT (digest) DO NOTHING;

-- name: identity_lock
-- One login of an identity through one provider at a time: two first logins at once make one
-- user, not two.
SELECT pg_advisory_xact_lock(hashtextextended($1::text || chr(10) || $2::text || chr(10) || $3::text, 9));

-- name: link_for_identity
-- The link a provider made for this identity (migration 0011: unique per provider, issuer, subject);
-- another provider's link of the same issuer and subject is not this one's.
SELECT l.*, u.tenant AS user_tenant
FROM aria_auth.sso_links l JOIN aria_auth.users u ON u.id = l.user_id
WHERE l.provider = $1 AND l.issuer = $2 AND l.subject = $3;

-- name: insert_link
INSERT INTO aria_auth.sso_links (id, user_id, provider, issuer, subject, email, last_login_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
RETURNING *;

-- name: link_logged_in
UPDATE aria_auth.sso_links SET last_login_at = now(), email = $2 WHERE id = $1;

-- name: links_of_user
SELECT * FROM aria_auth.sso_links WHERE user_id = $1 ORDER BY created_at, id;

-- name: link
SELECT * FROM aria_auth.sso_links WHERE id = $1;

-- name: delete_link
DELETE FROM aria_auth.sso_links WHERE id = $1;

-- name: count_links
SELECT count(*) FROM aria_auth.sso_links WHERE user_id = $1;

-- name: prune_states
DELETE FROM aria_auth.sso_states WHERE expires_at < now() - make_interval(secs => $1);

-- name: prune_seen_tokens
DELETE FROM aria_auth.sso_seen_tokens WHERE expires_at < now();
