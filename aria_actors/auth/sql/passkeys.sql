-- aria_auth's passkey statements (schema aria_auth), one per function of
-- aria_actors/auth/passkeys_store.py. {passkey_columns} stands for the fragment of that name.

-- name: passkey_columns
-- A passkey row as the service returns it: never the public key.
id, user_id, credential_id, sign_count, transports, aaguid, label, second_factor, user_verified,
backed_up, device_type, created_at, last_used_at, disabled_at, disabled_why

-- name: insert_passkey
-- Nothing (no row) when the credential is registered already, to this user or another.
INSERT INTO aria_auth.passkeys (id, user_id, credential_id, public_key, sign_count, transports, aaguid, label,
                                second_factor, user_verified, backed_up, device_type)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (credential_id) DO NOTHING
RETURNING {passkey_columns};

-- name: passkeys_of
SELECT {passkey_columns} FROM aria_auth.passkeys WHERE user_id = $1 ORDER BY created_at, id;

-- name: count_passkeys
SELECT count(*) FROM aria_auth.passkeys WHERE user_id = $1;

-- name: passkey_for_credential
-- The credential an assertion names, locked: two logins with one authenticator serialise on its counter.
SELECT {passkey_columns}, public_key FROM aria_auth.passkeys WHERE credential_id = $1 FOR UPDATE;

-- name: second_factor_passkeys
SELECT {passkey_columns} FROM aria_auth.passkeys
WHERE user_id = $1 AND second_factor AND disabled_at IS NULL
ORDER BY created_at, id;

-- name: usable_passkeys
SELECT {passkey_columns} FROM aria_auth.passkeys
WHERE user_id = $1 AND disabled_at IS NULL
ORDER BY created_at, id;

-- name: passkey_used
UPDATE aria_auth.passkeys SET sign_count = $2, backed_up = $3, last_used_at = now() WHERE id = $1;

-- name: disable_passkey
UPDATE aria_auth.passkeys SET disabled_at = now(), disabled_why = $2 WHERE id = $1 AND disabled_at IS NULL;

-- name: disable_user_passkeys
UPDATE aria_auth.passkeys SET disabled_at = now(), disabled_why = $2 WHERE user_id = $1 AND disabled_at IS NULL;

-- name: update_passkey
-- $3/$4 NULL: that field stays as it is.
UPDATE aria_auth.passkeys
SET label = coalesce($3, label), second_factor = coalesce($4, second_factor)
WHERE id = $1 AND user_id = $2
RETURNING {passkey_columns};

-- name: delete_passkey
DELETE FROM aria_auth.passkeys WHERE id = $1 AND user_id = $2;

-- name: insert_ceremony
INSERT INTO aria_auth.passkey_ceremonies (digest, purpose, challenge, user_id, named, tenant, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7));

-- name: ceremony_for_update
SELECT *, expires_at <= now() AS expired FROM aria_auth.passkey_ceremonies WHERE digest = $1 FOR UPDATE;

-- name: use_ceremony
UPDATE aria_auth.passkey_ceremonies SET used_at = now() WHERE digest = $1;

-- name: prune_ceremonies
-- Ceremonies that ended (used or expired) more than $1 seconds ago.
DELETE FROM aria_auth.passkey_ceremonies
WHERE least(coalesce(used_at, expires_at), expires_at) < now() - make_interval(secs => $1);

-- name: session_login
-- How and how long ago (seconds, by the database's clock) the caller's session was opened: its
-- primary authentication. A refresh keeps the session (and this), so a refreshed access token
-- does not make an old login look fresh.
SELECT user_id, amr, extract(epoch FROM now() - created_at)::float8 AS age_s,
       revoked_at IS NOT NULL OR expires_at <= now() AS ended
FROM aria_auth.sessions WHERE id = $1;
