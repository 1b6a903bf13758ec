-- aria_tune 0002: resource proposals (resources.py). Runs with search_path = aria_tune, public.
-- A proposal is about the whole system (a service's reservation), not a tenant's: no tenant
-- column, no tenant isolation; the RPCs need @any permissions.

-- One service's proposed CPU and memory reservation, with the evidence it came from (window,
-- percentile, samples), the changes an operator would make, and its decision. Decided once:
-- proposed -> accepted | rejected (`decided_*` set together).
CREATE TABLE aria_tune.resource_proposals (
    id               bigserial PRIMARY KEY,
    service          text NOT NULL CHECK (service ~ '^aria_[a-z_]{1,60}$'),
    verdict          text NOT NULL CHECK (verdict IN ('under-reserved', 'over-reserved', 'fit', 'no-data')),
    reserved_cpus    double precision NOT NULL CHECK (reserved_cpus >= 0),
    proposed_cpus    double precision CHECK (proposed_cpus IS NULL OR proposed_cpus >= 0),
    proposed_memory_bytes bigint CHECK (proposed_memory_bytes IS NULL OR proposed_memory_bytes >= 0),
    evidence         jsonb NOT NULL CHECK (jsonb_typeof(evidence) = 'object'),
    changes          jsonb NOT NULL CHECK (jsonb_typeof(changes) = 'array'),
    status           text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'accepted', 'rejected')),
    proposed_by      text NOT NULL,
    decided_by       text,
    decision_note    text CHECK (decision_note IS NULL OR length(decision_note) <= 1000),
    decided_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'proposed') = (decided_at IS NULL)),
    CHECK ((decided_at IS NULL) = (decided_by IS NULL))
);
CREATE INDEX resource_proposals_service_idx ON aria_tune.resource_proposals (service, id DESC);
