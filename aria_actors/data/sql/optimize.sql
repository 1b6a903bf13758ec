-- Named queries of query-optimization advice (aria_actors/data/optimize.py).

-- name: seq_scans
-- Large tables read mostly by sequential scans: a filter lacks an index.
SELECT schemaname || '.' || relname AS target, n_live_tup AS rows, seq_scan, seq_tup_read,
       coalesce(idx_scan, 0) AS idx_scan
FROM pg_stat_user_tables
WHERE n_live_tup >= $1
  AND seq_scan > coalesce(idx_scan, 0)
  AND seq_tup_read / greatest(seq_scan, 1) >= $1 / 2
ORDER BY seq_tup_read DESC;

-- name: unused_indexes
-- Indexes never used since the statistics were reset (not unique: those enforce constraints).
SELECT s.schemaname || '.' || s.indexrelname AS target, s.schemaname || '.' || s.relname AS tbl,
       pg_relation_size(s.indexrelid) AS bytes
FROM pg_stat_user_indexes s
JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
ORDER BY bytes DESC;

-- name: unindexed_foreign_keys
-- Foreign keys whose columns lead no index: deleting or updating a parent row scans the child.
SELECT c.conrelid::regclass::text AS tbl, c.conname AS target,
       array_agg(a.attname ORDER BY k.ord)::text[] AS columns
FROM pg_constraint c
CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
WHERE c.contype = 'f'
  AND c.connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
  AND NOT EXISTS (
      SELECT FROM pg_index i
      WHERE i.indrelid = c.conrelid
        AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey
  )
GROUP BY c.conrelid, c.conname;

-- name: dead_tuples
-- Tables with many dead rows: autovacuum is behind (or disabled) for them.
SELECT schemaname || '.' || relname AS target, n_live_tup AS rows, n_dead_tup AS dead,
       last_autovacuum, last_vacuum
FROM pg_stat_user_tables
WHERE n_dead_tup >= 1000 AND n_dead_tup > 0.2 * greatest(n_live_tup, 1)
ORDER BY n_dead_tup DESC;

-- The fragments below prefix a statement the caller of optimize.explain() passes in (EXPLAIN
-- takes no statement as a parameter).

-- name: explain
EXPLAIN (FORMAT JSON)

-- name: explain_analyze
EXPLAIN (FORMAT JSON, ANALYZE, BUFFERS)
