-- Named queries of aria_monitor (loaded by aria_actors.monitor.store). Batches are arrays
-- (unnest): one statement per batch, whatever its size.

-- name: merge_rollups
INSERT INTO aria_monitor.rollups AS r (resolution, panel, labels, bucket, min, max, sum, count, last, last_at)
SELECT * FROM unnest($1::integer[], $2::text[], $3::text[], $4::timestamptz[], $5::float8[], $6::float8[],
                     $7::float8[], $8::integer[], $9::float8[], $10::timestamptz[])
ON CONFLICT (resolution, panel, bucket, labels) DO UPDATE
SET min = least(r.min, excluded.min),
    max = greatest(r.max, excluded.max),
    sum = r.sum + excluded.sum,
    count = r.count + excluded.count,
    last = CASE WHEN excluded.last_at >= r.last_at THEN excluded.last ELSE r.last END,
    last_at = greatest(r.last_at, excluded.last_at)

-- name: rollup_range
SELECT labels, extract(epoch FROM bucket)::float8 AS t, min, max, sum / count AS avg, last
FROM aria_monitor.rollups
WHERE resolution = $1 AND panel = $2 AND bucket >= to_timestamp($3) AND bucket <= to_timestamp($4)
ORDER BY labels, bucket

-- name: expire_rollups
DELETE FROM aria_monitor.rollups WHERE resolution = $1 AND bucket < now() - make_interval(days => $2)

-- name: rollup_stats
SELECT resolution, count(*) AS rows, extract(epoch FROM min(bucket))::float8 AS oldest
FROM aria_monitor.rollups GROUP BY resolution ORDER BY resolution

-- name: merge_usage
INSERT INTO aria_monitor.usage_daily AS u (day, tenant, service, method, calls, errors, ok)
SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[])
ON CONFLICT (day, tenant, service, method) DO UPDATE
SET calls = u.calls + excluded.calls, errors = u.errors + excluded.errors, ok = u.ok + excluded.ok

-- name: add_subjects
INSERT INTO aria_monitor.usage_subjects (day, tenant, subject)
SELECT * FROM unnest($1::date[], $2::text[], $3::text[])
ON CONFLICT DO NOTHING

-- name: usage_rows
SELECT day, tenant, service, method, calls, errors, ok
FROM aria_monitor.usage_daily
WHERE day >= $1 AND ($2::text IS NULL OR tenant = $2) AND ($3::text IS NULL OR service = $3)
ORDER BY day, tenant, service, method
LIMIT $4

-- name: active_subjects
SELECT day, tenant, count(*) AS subjects
FROM aria_monitor.usage_subjects
WHERE day >= $1 AND ($2::text IS NULL OR tenant = $2)
GROUP BY day, tenant
ORDER BY day, tenant

-- name: expire_usage
WITH gone_rows AS (DELETE FROM aria_monitor.usage_daily WHERE day < current_date - $1::integer RETURNING 1),
     gone_subjects AS (DELETE FROM aria_monitor.usage_subjects WHERE day < current_date - $1::integer RETURNING 1)
SELECT (SELECT count(*) FROM gone_rows) + (SELECT count(*) FROM gone_subjects)
