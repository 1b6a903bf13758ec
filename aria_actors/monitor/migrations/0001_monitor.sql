-- aria_monitor 0001: the dashboards' history, downsampled, and daily usage. Runs with
-- search_path = aria_monitor, public. Only aria_monitor reads and writes these tables, and it
-- filters by tenant itself (its reads are @any, or narrowed to the caller's tenant in code).

-- One rollup bucket of one panel series: min, max, sum and count (avg = sum / count) and the
-- last value with its time. Rows are merged by upsert (least, greatest, sums, newest last), so a
-- bucket written in several batches adds up to the same row as one written at once.
CREATE TABLE aria_monitor.rollups (
    resolution integer NOT NULL CHECK (resolution IN (60, 3600)),
    panel      text NOT NULL,             -- '<dashboard>/<panel>'
    labels     text NOT NULL,             -- the series' labels, canonical JSON (sorted keys)
    bucket     timestamptz NOT NULL,      -- start of the bucket
    min        double precision NOT NULL,
    max        double precision NOT NULL,
    sum        double precision NOT NULL,
    count      integer NOT NULL CHECK (count >= 1),
    last       double precision NOT NULL,
    last_at    timestamptz NOT NULL,
    PRIMARY KEY (resolution, panel, bucket, labels)
);

-- Calls per UTC day, tenant ('' for none), service and RPC method: all calls, failed ones and
-- successful ones (business metrics count the successful calls of named methods).
CREATE TABLE aria_monitor.usage_daily (
    day     date NOT NULL,
    tenant  text NOT NULL,
    service text NOT NULL,
    method  text NOT NULL,
    calls   bigint NOT NULL DEFAULT 0 CHECK (calls >= 0),
    errors  bigint NOT NULL DEFAULT 0 CHECK (errors >= 0),
    ok      bigint NOT NULL DEFAULT 0 CHECK (ok >= 0),
    PRIMARY KEY (day, tenant, service, method)
);
CREATE INDEX usage_daily_tenant_idx ON aria_monitor.usage_daily (tenant, day);

-- Who called on a day (a digest of the subject, never the name): active users = count per day.
CREATE TABLE aria_monitor.usage_subjects (
    day     date NOT NULL,
    tenant  text NOT NULL,
    subject text NOT NULL,
    PRIMARY KEY (day, tenant, subject)
);
