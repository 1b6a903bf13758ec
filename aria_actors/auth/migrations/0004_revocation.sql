-- Endpoint protection: a feed of ended sessions, disabled machine clients and account lockouts,
-- which the gateway polls so that it refuses a revoked session's access tokens within a second.
-- Written by triggers, so every place that ends a session (logout, revoke, revoke_all, a password
-- change, disabling or deleting a user, a reused refresh token) records to it without its code
-- knowing. A row's `xid` is the writing transaction's id: the feed's cursor is the oldest
-- transaction still running when it was read (see sql/revocation.sql), so a row committed late by
-- a slow transaction is never skipped.
CREATE TABLE revocations (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid       xid8 NOT NULL DEFAULT pg_current_xact_id(),
    kind      text NOT NULL CHECK (kind IN ('session', 'client', 'lock')),
    subject   text NOT NULL,                -- session id, client id, or tenant/lower(username) of a lock
    until     timestamptz,                  -- a lock's end (NULL: unlocked)
    why       text,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revocations_xid ON revocations (xid);
CREATE INDEX revocations_at ON revocations (at);

-- SECURITY DEFINER: users and clients are also written by tenant transactions (role aria_tenant),
-- which may not touch this table; the trigger writes as its owner, with a fixed search_path.
CREATE FUNCTION record_session_end() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, aria_auth
    AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO aria_auth.revocations (kind, subject, why) VALUES ('session', OLD.id::text, 'deleted');
        RETURN OLD;
    END IF;
    INSERT INTO aria_auth.revocations (kind, subject, why) VALUES ('session', NEW.id::text, NEW.revoked_why);
    RETURN NEW;
END
$$;

CREATE FUNCTION record_client_end() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, aria_auth
    AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO aria_auth.revocations (kind, subject, why) VALUES ('client', OLD.id::text, 'deleted');
        RETURN OLD;
    END IF;
    INSERT INTO aria_auth.revocations (kind, subject, why) VALUES ('client', NEW.id::text, 'disabled');
    RETURN NEW;
END
$$;

CREATE FUNCTION record_lock() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, aria_auth
    AS $$
BEGIN
    INSERT INTO aria_auth.revocations (kind, subject, until, why)
    VALUES ('lock', NEW.tenant || '/' || lower(NEW.username), NEW.locked_until,
            CASE WHEN NEW.locked_until IS NULL THEN 'unlocked' ELSE 'locked' END);
    RETURN NEW;
END
$$;

-- Only open sessions: pruning ended ones and ending an ended one again record nothing.
CREATE TRIGGER sessions_revoked AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION record_session_end();
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND OLD.expires_at > now()) EXECUTE FUNCTION record_session_end();
CREATE TRIGGER clients_disabled AFTER UPDATE OF disabled ON clients
    FOR EACH ROW WHEN (NEW.disabled AND NOT OLD.disabled) EXECUTE FUNCTION record_client_end();
CREATE TRIGGER clients_deleted AFTER DELETE ON clients
    FOR EACH ROW WHEN (NOT OLD.disabled) EXECUTE FUNCTION record_client_end();
CREATE TRIGGER users_lock AFTER UPDATE OF locked_until ON users
    FOR EACH ROW WHEN (NEW.locked_until IS DISTINCT FROM OLD.locked_until) EXECUTE FUNCTION record_lock();
