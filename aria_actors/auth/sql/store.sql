-- aria_auth's statements (schema aria_auth), one per function of aria_actors/auth/store.py.
-- {user_columns} and {client_columns} stand for the fragments of those names: store.py puts them
-- in once per statement, so a user or client row has the same columns in every statement.

-- name: user_columns
-- A user row as the service returns it: never the password hash nor the MFA secret.
id, tenant, username, email, display_name, roles, disabled, failed_logins, lockouts, locked_until,
mfa_enabled, mfa_secret IS NOT NULL AS mfa_pending,
cardinality(recovery_codes) AS recovery_codes_left, created_at, updated_at, last_login_at

-- name: client_columns
-- A machine client row as the service returns it: never the secret's digest.
id, tenant, name, roles, disabled, created_at, updated_at, last_used_at

-- name: insert_user
INSERT INTO aria_auth.users (id, tenant, username, email, display_name, password_hash, roles)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING {user_columns};

-- name: user
SELECT {user_columns} FROM aria_auth.users WHERE id = $1;

-- name: user_for_login
SELECT {user_columns}, password_hash
FROM aria_auth.users WHERE tenant = $1 AND lower(username) = lower($2);

-- name: user_for_login_locked
SELECT {user_columns}, password_hash
FROM aria_auth.users WHERE tenant = $1 AND lower(username) = lower($2)
FOR UPDATE;

-- name: user_secrets
SELECT {user_columns}, password_hash, mfa_secret, mfa_last_step, recovery_codes
FROM aria_auth.users WHERE id = $1;

-- name: user_secrets_locked
SELECT {user_columns}, password_hash, mfa_secret, mfa_last_step, recovery_codes
FROM aria_auth.users WHERE id = $1
FOR UPDATE;

-- name: list_users
SELECT {user_columns}
FROM aria_auth.users
WHERE ($1::text IS NULL OR tenant = $1) AND (tenant || '/' || lower(username)) > $2
ORDER BY tenant || '/' || lower(username)
LIMIT $3;

-- name: update_user
-- {sets}: the changed columns, each set from the next parameter after the id. Which columns
-- change is decided at run time and a column name cannot be a bind parameter, so store.py builds
-- it from column names in its own code (never from a request), each quoted.
UPDATE aria_auth.users SET {sets}, updated_at = now() WHERE id = $1
RETURNING {user_columns};

-- name: begin_mfa
-- A new, unconfirmed TOTP secret, unless MFA is on (a confirm may have just landed).
UPDATE aria_auth.users SET mfa_secret = $2, mfa_last_step = 0, updated_at = now()
WHERE id = $1 AND NOT mfa_enabled;

-- name: delete_user
DELETE FROM aria_auth.users WHERE id = $1;

-- name: count_users
SELECT count(*) FROM aria_auth.users;

-- name: insert_session
INSERT INTO aria_auth.sessions (id, user_id, amr, expires_at, user_agent, address)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: insert_refresh_token
INSERT INTO aria_auth.refresh_tokens (digest, session_id) VALUES ($1, $2);

-- name: refresh_token_for_update
-- The token with its session, both locked: two refreshes of one token serialise.
SELECT t.used_at, s.id AS session_id, s.user_id, s.amr, s.expires_at, s.last_used_at, s.revoked_at
FROM aria_auth.refresh_tokens t JOIN aria_auth.sessions s ON s.id = t.session_id
WHERE t.digest = $1
FOR UPDATE OF t, s;

-- name: use_refresh_token
UPDATE aria_auth.refresh_tokens SET used_at = now() WHERE digest = $1;

-- name: touch_session
UPDATE aria_auth.sessions SET last_used_at = now(), refreshes = refreshes + 1 WHERE id = $1;

-- name: revoke_sessions
-- One session ($1), or every open session of a user ($2).
UPDATE aria_auth.sessions SET revoked_at = now(), revoked_why = $3
WHERE revoked_at IS NULL AND ($1::uuid IS NULL OR id = $1) AND ($2::uuid IS NULL OR user_id = $2);

-- name: session
SELECT s.*, u.disabled
FROM aria_auth.sessions s JOIN aria_auth.users u ON u.id = s.user_id
WHERE s.id = $1;

-- name: open_sessions
SELECT * FROM aria_auth.sessions
WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
  AND last_used_at > now() - make_interval(secs => $2)
ORDER BY created_at;

-- name: count_open_sessions
SELECT count(*) FROM aria_auth.sessions WHERE revoked_at IS NULL AND expires_at > now();

-- name: prune_sessions
-- Sessions (and, by cascade, their tokens) that ended more than $1 seconds ago.
DELETE FROM aria_auth.sessions
WHERE coalesce(revoked_at, expires_at) < now() - make_interval(secs => $1);

-- name: prune_challenges
DELETE FROM aria_auth.challenges WHERE expires_at < now() - make_interval(secs => $1);

-- name: insert_challenge
INSERT INTO aria_auth.challenges (digest, user_id, expires_at, user_agent, address)
VALUES ($1, $2, now() + make_interval(secs => $3), $4, $5);

-- name: challenge_for_update
SELECT *, expires_at <= now() AS expired FROM aria_auth.challenges WHERE digest = $1 FOR UPDATE;

-- name: update_challenge
UPDATE aria_auth.challenges
SET attempts = attempts + 1, used_at = CASE WHEN $2 THEN now() ELSE used_at END
WHERE digest = $1;

-- name: insert_client
INSERT INTO aria_auth.clients (id, tenant, name, secret_digest, roles) VALUES ($1, $2, $3, $4, $5)
RETURNING {client_columns};

-- name: client
SELECT {client_columns}, secret_digest
FROM aria_auth.clients WHERE id = $1;

-- name: list_clients
SELECT {client_columns}
FROM aria_auth.clients
WHERE ($1::text IS NULL OR tenant = $1)
ORDER BY tenant, lower(name);

-- name: update_client
-- {sets}: as in update_user.
UPDATE aria_auth.clients SET {sets}, updated_at = now() WHERE id = $1
RETURNING {client_columns};

-- name: delete_client
DELETE FROM aria_auth.clients WHERE id = $1;

-- name: client_used
UPDATE aria_auth.clients SET last_used_at = now() WHERE id = $1;
