-- Named queries of aria_data's health probe (aria_actors/data/service.py, pool.py).

-- name: ping
SELECT 1;

-- name: connections
SELECT count(*) FROM pg_stat_activity WHERE datname = current_database();

-- name: table_sizes
SELECT n.nspname || '.' || c.relname AS name, pg_total_relation_size(c.oid) AS bytes,
       c.reltuples::bigint AS rows_estimate
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname LIKE 'aria\_%'
ORDER BY bytes DESC LIMIT 100;  -- every Aria table (about 60 with all fourteen services), largest first
