-- aria_auth's revocation feed (table aria_auth.revocations, migration 0004): what the gateway
-- polls to refuse revoked sessions, disabled clients and locked accounts at once.

-- name: snapshot_xmin
-- The oldest transaction still running: every transaction below it has ended, so every row it
-- wrote is visible from now on. Read before the feed: the next poll starts here.
SELECT pg_snapshot_xmin(pg_current_snapshot())::text;

-- name: feed
-- Rows of transactions from $1 on (NULL: all), after the page position ($2, $3) when paging,
-- written within the last $4 seconds, in (xid, id) order, at most $5.
SELECT id, xid::text AS xid, kind, subject, until, why, at
FROM aria_auth.revocations
WHERE at > now() - make_interval(secs => $4)
  AND ($1::text IS NULL OR xid >= $1::text::xid8)
  AND ($2::text IS NULL OR (xid, id) > ($2::text::xid8, $3::bigint))
ORDER BY xid, id
LIMIT $5;

-- name: prune
-- Rows older than $1 seconds: their tokens have expired and their lockouts ended.
DELETE FROM aria_auth.revocations WHERE at < now() - make_interval(secs => $1);
