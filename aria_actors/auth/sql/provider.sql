-- aria_auth's OpenID provider statements (schema aria_auth), one per function of
-- aria_actors/auth/provider_store.py. {oidc_client_columns} stands for that fragment.

-- name: oidc_client_columns
-- A client row as the service returns it: never the secret's digest (only whether it has one).
id, tenant, name, secret_digest IS NOT NULL AS confidential, redirect_uris, post_logout_redirect_uris,
scopes, trusted, created_at, updated_at

-- name: insert_client
INSERT INTO aria_auth.oidc_clients
    (id, tenant, name, secret_digest, redirect_uris, post_logout_redirect_uris, scopes, trusted)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING {oidc_client_columns};

-- name: client
SELECT {oidc_client_columns}, secret_digest FROM aria_auth.oidc_clients WHERE id = $1;

-- name: list_clients
SELECT {oidc_client_columns}
FROM aria_auth.oidc_clients
WHERE ($1::text IS NULL OR tenant = $1)
ORDER BY tenant, lower(name);

-- name: delete_client
DELETE FROM aria_auth.oidc_clients WHERE id = $1;

-- name: insert_request
INSERT INTO aria_auth.oidc_requests
    (id, csrf_digest, client_id, redirect_uri, scopes, state, nonce, code_challenge, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9));

-- name: request_for_update
-- The request, locked (a form posted twice at once is answered once), with whether it expired.
SELECT *, expires_at <= now() AS expired FROM aria_auth.oidc_requests WHERE id = $1 FOR UPDATE;

-- name: request_logged_in
UPDATE aria_auth.oidc_requests SET session_id = $2 WHERE id = $1;

-- name: finish_request
UPDATE aria_auth.oidc_requests SET finished_at = now() WHERE id = $1;

-- name: insert_code
INSERT INTO aria_auth.oidc_codes
    (digest, client_id, session_id, redirect_uri, scopes, nonce, code_challenge, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8));

-- name: code_for_update
SELECT *, expires_at <= now() AS expired FROM aria_auth.oidc_codes WHERE digest = $1 FOR UPDATE;

-- name: use_code
UPDATE aria_auth.oidc_codes SET used_at = now() WHERE digest = $1;

-- name: insert_oidc_session
INSERT INTO aria_auth.oidc_sessions (session_id, client_id, scopes) VALUES ($1, $2, $3)
ON CONFLICT (session_id) DO NOTHING;

-- name: oidc_session
SELECT o.client_id, o.scopes, s.created_at AS auth_time, s.amr, s.user_id, s.revoked_at, s.expires_at
FROM aria_auth.oidc_sessions o JOIN aria_auth.sessions s ON s.id = o.session_id
WHERE o.session_id = $1;

-- name: keys
SELECT kid, wrapped, public_jwk, created_at FROM aria_auth.oidc_keys ORDER BY created_at DESC, kid DESC;

-- name: insert_key
INSERT INTO aria_auth.oidc_keys (kid, wrapped, public_jwk) VALUES ($1, $2, $3) ON CONFLICT (kid) DO NOTHING;

-- name: prune_requests
-- Authorization requests and codes that expired more than $1 seconds ago.
DELETE FROM aria_auth.oidc_requests WHERE expires_at < now() - make_interval(secs => $1);

-- name: prune_codes
DELETE FROM aria_auth.oidc_codes WHERE expires_at < now() - make_interval(secs => $1);

-- name: prune_logouts
DELETE FROM aria_auth.oidc_logouts WHERE expires_at < now() - make_interval(secs => $1);

-- name: request_mfa
-- The digest of the MFA challenge this request's login form produced: only it completes the request.
UPDATE aria_auth.oidc_requests SET mfa_challenge_digest = $2 WHERE id = $1;

-- name: is_oidc_session
-- Whether an OpenID client holds this session (it refreshes at the provider's token endpoint only).
SELECT EXISTS (SELECT 1 FROM aria_auth.oidc_sessions WHERE session_id = $1);

-- name: insert_logout
INSERT INTO aria_auth.oidc_logouts
    (id, csrf_digest, client_id, session_id, user_id, redirect_uri, state, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8));

-- name: logout_for_update
SELECT *, expires_at <= now() AS expired FROM aria_auth.oidc_logouts WHERE id = $1 FOR UPDATE;

-- name: finish_logout
UPDATE aria_auth.oidc_logouts SET finished_at = now() WHERE id = $1;
