"""aria_tune's resource optimisation: each service's CPU and memory reservation against its recorded
use, and a proposed reservation, recorded in PostgreSQL for an administrator to accept or reject.

::

    resources(window_s, service?)   aria_monitor's history, read as aria_tune itself:
        rate(process_cpu_seconds_total[r]) and process_resident_memory_bytes at every step of
        [now - window_s, now] (steps never closer than the collection interval, at most
        resources_samples) ─► per service: samples, mean, percentile, peak ─► the rule (propose)
        ─► verdict, flags, proposed cpus and memory, the changes an operator would make
    propose_resources(window_s, service?)  the same, each proposal written with its evidence
        (window, step, percentile, the samples) ─► aria_tune.resource_proposals (status proposed)
    decide_resource_proposal(id, accepted|rejected, note)  audited first (aria_security), then
        decided once: proposed ─► accepted | rejected

The rule (``propose``, pure):
- fewer than ``resources_min_samples`` CPU samples: ``no-data``, no proposal (a service that is not
  running, or a window shorter than a few collections);
- CPU: the window's ``resources_percentile`` (95) of cores used, plus ``resources_cpu_headroom``
  (25 %), rounded up to ``resources_cpu_step`` (0.05; Ray counts CPUs in 0.0001 steps), never below
  ``resources_cpu_floor`` (0.05) nor above the node's CPUs (flag ``capped``). The percentile, not
  the peak: a spike borrows idle CPU for a moment (flag ``spiky`` when the peak is over twice the
  percentile); a reservation sized to it would keep that CPU from other actors all the time;
- memory: the percentile plus ``resources_memory_headroom`` (20 %) but never below the window's
  peak (memory cannot be throttled like CPU), rounded up to ``resources_memory_step_bytes``
  (64 MiB), never below ``resources_memory_floor_bytes`` (128 MiB);
- verdict: ``under-reserved`` when the CPU percentile is above the reservation (use above the
  reservation: Ray packs more onto the node than it has, and they contend), ``over-reserved`` when
  the reservation is above the proposal (reserved CPU sits idle: the cluster could pack more),
  ``fit`` otherwise; ``saturated`` flags a percentile at 90 % of the node's CPUs or more.

Guarantees and caveats
----------------------
- Read-only towards the running system: Ray cannot change a live actor's reservation, so nothing
  is applied; a proposal names where the reservation comes from (``SPEC.num_cpus`` in the
  service's ``spec.py``, read by ``runtime/placement.actor_options`` when the service's actor or
  Serve replica is created) and takes effect on the next ``aria up``. Aria asks Ray for no memory
  reservation today (``actor_options`` passes ``num_cpus`` and ``num_gpus`` only), so the memory
  proposal has no key to change: it says so. Processes a service starts itself (queue workers,
  planner actors, model replicas) reserve through their own settings (listed as ``related``);
  their use is not in these numbers.
- aria_monitor is read as aria_tune itself (``monitor:metrics:read@any``): the caller's
  ``tune:resources:*@any`` grant is the check (administrators, operators and services hold it;
  editors' ``tune:*:*`` is their tenant's only), and the answer is a derived summary.
- Per process: the longest CPU and memory series of a service (its actor, or one Serve replica),
  as a reservation is per actor or replica.
- The node is aria_tune's (``os.cpu_count()``, or the ``num_cpus`` setting Ray was started
  with); on a multi-node cluster every service is compared with it.
- Decisions are audited before they are written (``tune.resources.decide``): a decision that
  cannot be audited is not taken (503); one already taken is final (409).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from aria_actors.data.pool import Database
from aria_actors.monitor.client import MonitorClient
from aria_actors.runtime.errors import BadRequest, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.spec import ServiceSpec
from aria_actors.tune.audit import Hook, record_event
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import ProposalDecided, UnknownProposal, UnknownService
from aria_actors.tune.resources_store import Proposals, ProposalStore
from aria_actors.tune.spec import SPEC

ME = Principal.internal(SPEC.name)
CPU = "process_cpu_seconds_total"
MEMORY = "process_resident_memory_bytes"
MIN_WINDOW_S = 60.0
MAX_WINDOW_S = 7 * 86400.0
DEFAULT_INTERVAL_S = 10.0
# aria_monitor's history: raw points for its retention_s, one-minute summaries for a day (series.py)
SUMMARIES_KEPT_S = 86400.0
SATURATED = 0.9  # of the node's CPUs
SPIKY = 2.0  # peak over this many times the percentile
DECISIONS = ("accepted", "rejected")
STATUSES = ("proposed", "accepted", "rejected")
MAX_LIST = 1000
MAX_NOTE = 1000
NOT_APPLIED = ("not applied live: Ray cannot change a running actor's reservation; edit the key and restart "
               "the service (the next `aria up`) for it to take effect")
NO_MEMORY_KEY = ("Aria asks Ray for no memory reservation (runtime/placement.actor_options passes num_cpus and "
                 "num_gpus only): there is no key to set; the figure is what a `memory` option would ask for")
# Processes a service starts itself reserve through their own settings; their use is not measured here.
RELATED: dict[str, tuple[str, str, str]] = {
    "aria_engine": ("engine", "actor_num_cpus", "planner actors"),
    "aria_interpret": ("interpret", "serve_num_cpus", "scoring replicas"),
    "aria_queue": ("queue", "worker_num_cpus", "worker actors"),
    "aria_shape": ("shape", "inference_num_cpus", "inference replicas"),
}


# -- the rule (pure) ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Rule:
    """How a proposal is made from samples (the ``resources_*`` settings)."""

    percentile: float = 95.0
    cpu_headroom: float = 0.25
    memory_headroom: float = 0.2
    cpu_step: float = 0.05
    cpu_floor: float = 0.05
    memory_step_bytes: int = 64 * 2**20
    memory_floor_bytes: int = 128 * 2**20
    min_samples: int = 5

    @classmethod
    def of(cls, config: TuneSettings) -> Rule:
        return cls(config.resources_percentile, config.resources_cpu_headroom, config.resources_memory_headroom,
                   config.resources_cpu_step, config.resources_cpu_floor, config.resources_memory_step_bytes,
                   config.resources_memory_floor_bytes, config.resources_min_samples)


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The ``pct`` percentile of ``values`` with linear interpolation between ranks (numpy's
    default); None without values."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * pct / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def round_up(value: float, step: float) -> float:
    """``value`` rounded up to a multiple of ``step`` (float noise below 1e-9 of a step ignored),
    to Ray's 0.0001 granularity."""
    return round(math.ceil(value / step - 1e-9) * step, 4)


def summary(values: Sequence[float], pct: float) -> dict[str, Any]:
    if not values:
        return {"samples": 0, "mean": None, "percentile": None, "peak": None}
    return {"samples": len(values), "mean": math.fsum(values) / len(values), "percentile": percentile(values, pct),
            "peak": max(values)}


def propose(rule: Rule, reserved_cpus: float, cpu: Sequence[float], memory: Sequence[float],
            node_cpus: float) -> dict[str, Any]:
    """Verdict, flags and proposed reservation of one service from its CPU samples (cores) and
    memory samples (bytes) over a window (see the module docstring for the rule)."""
    cpu_use, mem_use = summary(cpu, rule.percentile), summary(memory, rule.percentile)
    out: dict[str, Any] = {"cpu": cpu_use, "memory": mem_use, "verdict": "no-data", "flags": [], "reason": None,
                           "cpus": None, "memory_bytes": None}
    if len(cpu) < rule.min_samples:
        out["reason"] = f"{len(cpu)} CPU samples in the window, {rule.min_samples} needed"
        return out
    p, peak = cpu_use["percentile"], cpu_use["peak"]
    flags: list[str] = []
    cpus = max(rule.cpu_floor, round_up(p * (1 + rule.cpu_headroom), rule.cpu_step))
    if cpus > node_cpus:
        cpus = node_cpus
        flags.append("capped")
    if p >= SATURATED * node_cpus:
        flags.append("saturated")
    if peak > SPIKY * p and peak - p >= rule.cpu_step:
        flags.append("spiky")
    if p > reserved_cpus + 1e-9:
        verdict = "under-reserved"
    elif reserved_cpus > cpus + 1e-9:
        verdict = "over-reserved"
    else:
        verdict = "fit"
    memory_bytes = None
    if memory:
        basis = max(mem_use["percentile"] * (1 + rule.memory_headroom), mem_use["peak"])
        memory_bytes = max(rule.memory_floor_bytes,
                           math.ceil(basis / rule.memory_step_bytes - 1e-9) * rule.memory_step_bytes)
    out.update(verdict=verdict, flags=flags, cpus=cpus, memory_bytes=memory_bytes,
               reason=_reason(verdict, p, peak, reserved_cpus, cpus, rule))
    return out


def _reason(verdict: str, p: float, peak: float, reserved: float, cpus: float, rule: Rule) -> str:
    used = f"p{rule.percentile:g} {p:.3f} cores (peak {peak:.3f})"
    if verdict == "under-reserved":
        return f"uses {used}, above its reservation of {reserved:g} CPUs: it contends with what Ray packs beside it"
    if verdict == "over-reserved":
        return f"reserves {reserved:g} CPUs and uses {used}: {reserved - cpus:g} reserved CPUs sit idle"
    return f"uses {used} within its reservation of {reserved:g} CPUs"


def by_service(matrix: dict[str, Any]) -> dict[str, list[float]]:
    """The longest series of each ``service`` in a range query's answer, its finite values in time order."""
    out: dict[str, list[float]] = {}
    for row in matrix.get("result") or []:
        name = (row.get("metric") or {}).get("service")
        values = [float(v) for _, v in row.get("values") or []]
        values = [v for v in values if math.isfinite(v)]
        if name and len(values) > len(out.get(name, [])):
            out[name] = values
    return out


def _window(value: Any, longest: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not MIN_WINDOW_S <= value <= longest:
        raise BadRequest(f"window_s must be a number of seconds from {MIN_WINDOW_S:g} to {longest:g} "
                         "(the history aria_monitor keeps)", field="window_s")
    return float(value)


def _specs(service: Any) -> list[ServiceSpec]:
    specs = all_specs()
    if service is None:
        return list(specs)
    found = [s for s in specs if s.name == service] if isinstance(service, str) else []
    if not found:
        raise UnknownService(f"no service {str(service)[:80]!r}; services are {', '.join(s.name for s in specs)}",
                             service=str(service)[:80])
    return found


# -- the RPC surface ---------------------------------------------------------------------------------
class Resources:
    """Mixed into :class:`~aria_actors.tune.service.TuneService`; tests set the three seams below."""

    config: TuneSettings
    settings: Any
    deps: Any
    _db: Database | None
    _resource_monitor: Any = None  # a MonitorClient-like object (tests); else the dependency's client
    _resource_proposals: Proposals | None = None  # MemoryProposals (tests); else PostgreSQL over _db
    _resource_audit: Hook | None = None

    def _monitor(self) -> Any:
        if self._resource_monitor is not None:
            return self._resource_monitor
        if self.deps.get("aria_monitor") is None:
            raise ServiceUnavailable("resource proposals read aria_monitor, which is not a dependency here",
                                     service="aria_monitor")
        return self.deps.of(MonitorClient)

    def _proposal_records(self) -> Proposals:
        if self._resource_proposals is not None:
            return self._resource_proposals
        if self._db is not None:
            return ProposalStore(self._db)  # over the pool open now (a restart opens another)
        raise ServiceUnavailable("aria_tune has no database here (aria_data is not a dependency)", service="aria_data")

    async def _audit_resources(self, caller: Principal, target: str, outcome: str = "ok") -> None:
        await record_event(self.deps, self._resource_audit, caller, "tune.resources.decide", target, outcome=outcome,
                           refused="the decision was not taken")

    def _monitor_setting(self, name: str, default: float) -> float:
        monitor = getattr(self.settings, "monitor", None)
        value = getattr(monitor, name, None)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default

    def _node_cpus(self) -> float:
        configured = getattr(self.settings, "num_cpus", None)
        return float(configured if isinstance(configured, int) and configured > 0 else os.cpu_count() or 1)

    async def _measure(self, window_s: Any, service: Any) -> dict[str, Any]:
        longest = max(self._monitor_setting("retention_s", MAX_WINDOW_S), SUMMARIES_KEPT_S)
        window = _window(window_s, min(MAX_WINDOW_S, longest))
        specs = _specs(service)
        interval = self._monitor_setting("interval_s", DEFAULT_INTERVAL_S)
        step = max(window / self.config.resources_samples, interval)
        # the rate's range spans at least two collections, so a late collection never reads as idle
        rate_range_ms = math.ceil(max(step, 2 * interval) * 1000)
        end = time.time()
        start = end - window
        monitor = self._monitor()
        cpu = by_service(await monitor.query_range(ME, f"rate({CPU}[{rate_range_ms}ms])", start, end, step))
        memory = by_service(await monitor.query_range(ME, MEMORY, start, end, step))
        rule, node_cpus = Rule.of(self.config), self._node_cpus()
        rows = [self._row(spec, rule, cpu.get(spec.name, []), memory.get(spec.name, []), node_cpus)
                for spec in specs]
        return {"at": end, "window_s": window, "step_s": step, "rate_range_s": rate_range_ms / 1000,
                "node": {"cpus": node_cpus, "measured": "aria_tune's node: the num_cpus setting, else os.cpu_count()"},
                "rule": asdict(rule), "services": rows, "applied": NOT_APPLIED}

    def _row(self, spec: ServiceSpec, rule: Rule, cpu: list[float], memory: list[float],
             node_cpus: float) -> dict[str, Any]:
        got = propose(rule, spec.num_cpus, cpu, memory, node_cpus)
        proposal = None
        if got["verdict"] != "no-data":
            proposal = {"cpus": got["cpus"], "memory_bytes": got["memory_bytes"],
                        "changes": self._changes(spec, got["cpus"], got["memory_bytes"]), "applied_live": False,
                        "how": NOT_APPLIED}
        return {"service": spec.name, "kind": spec.kind, "running": bool(cpu or memory),
                "reservation": {"cpus": spec.num_cpus, "gpus": spec.num_gpus, "memory_bytes": None},
                "use": {"cpu_cores": got["cpu"], "memory_bytes": got["memory"]},
                "verdict": got["verdict"], "flags": got["flags"], "reason": got["reason"], "proposal": proposal,
                "samples": {"cpu_cores": [round(v, 4) for v in cpu], "memory_bytes": [int(v) for v in memory]}}

    def _changes(self, spec: ServiceSpec, cpus: float, memory_bytes: int | None) -> list[dict[str, Any]]:
        package = spec.name.removeprefix("aria_")
        out: list[dict[str, Any]] = [{
            "what": "cpus", "key": f"SPEC.num_cpus in aria_actors/{package}/spec.py", "from": spec.num_cpus,
            "to": cpus, "change": cpus != spec.num_cpus,
            "effect": f"the {'Serve replica' if spec.kind == 'deployment' else 'actor'} asks Ray for it when created"}]
        if memory_bytes is not None:
            out.append({"what": "memory_bytes", "key": None, "from": None, "to": memory_bytes, "change": False,
                        "effect": NO_MEMORY_KEY})
        if spec.name in RELATED:
            section, field, what = RELATED[spec.name]
            current = getattr(getattr(self.settings, section, None), field, None)
            out.append({"what": "related", "key": f"[{section}] {field} (ARIA_{section.upper()}_{field.upper()})",
                        "from": current, "to": None, "change": False,
                        "effect": f"the CPUs its {what} reserve; their use is not in these numbers"})
        return out

    @rpc("tune:resources:read", scope="any", feature="resource-optimization")
    async def resources(self, caller: Principal, window_s: float = 3600.0,
                        service: str | None = None) -> dict[str, Any]:
        """Every service's CPU and memory use over the window against its reservation, with a verdict
        (under-reserved, over-reserved, fit, no-data) and a proposed reservation (not recorded)."""
        return await self._measure(window_s, service)

    @rpc("tune:resources:write", scope="any", feature="resource-optimization")
    async def propose_resources(self, caller: Principal, window_s: float = 3600.0,
                                service: str | None = None) -> dict[str, Any]:
        """Measure as :meth:`resources` and record each service's proposal with its evidence (status
        ``proposed``); services without data are listed under ``skipped``."""
        got = await self._measure(window_s, service)
        store = self._proposal_records()
        made, skipped = [], []
        for row in got["services"]:
            if row["proposal"] is None:
                skipped.append({"service": row["service"], "reason": row["reason"]})
                continue
            evidence = {"at": got["at"], "window_s": got["window_s"], "step_s": got["step_s"],
                        "rate_range_s": got["rate_range_s"], "percentile": got["rule"]["percentile"],
                        "rule": got["rule"], "node": got["node"], "use": row["use"], "flags": row["flags"],
                        "reason": row["reason"], "samples": row["samples"]}
            made.append(await store.add({
                "service": row["service"], "verdict": row["verdict"], "reserved_cpus": row["reservation"]["cpus"],
                "proposed_cpus": row["proposal"]["cpus"], "proposed_memory_bytes": row["proposal"]["memory_bytes"],
                "evidence": evidence, "changes": row["proposal"]["changes"], "proposed_by": caller.subject}))
        return {"proposals": made, "skipped": skipped, "applied": NOT_APPLIED}

    @rpc("tune:resources:list", scope="any", feature="resource-optimization")
    async def list_resource_proposals(self, caller: Principal, service: str | None = None,
                                      status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Recorded proposals, newest first, with their evidence and decision."""
        if service is not None:
            _specs(service)
        if status is not None and status not in STATUSES:
            raise BadRequest(f"status must be one of {', '.join(STATUSES)}", field="status")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise BadRequest(f"limit must be an integer from 1 to {MAX_LIST}", field="limit")
        return await self._proposal_records().list(service, status, limit)

    async def _proposal(self, proposal_id: Any) -> dict[str, Any]:
        if isinstance(proposal_id, bool) or not isinstance(proposal_id, int) or not 1 <= proposal_id < 2**63:
            raise BadRequest("a proposal id is a positive integer", field="id")
        got = await self._proposal_records().get(proposal_id)
        if got is None:
            raise UnknownProposal(f"no resource proposal {proposal_id}", id=proposal_id)
        return got

    @rpc("tune:resources:read", scope="any", feature="resource-optimization")
    async def get_resource_proposal(self, caller: Principal, proposal_id: int) -> dict[str, Any]:
        """One recorded proposal with its evidence and decision."""
        return await self._proposal(proposal_id)

    @rpc("tune:resources:decide", scope="any", feature="resource-optimization")
    async def decide_resource_proposal(self, caller: Principal, proposal_id: int, decision: str,
                                       note: str | None = None) -> dict[str, Any]:
        """Accept or reject a proposal (administrators; audited; once). Accepting records the
        decision only: the operator edits the named key and restarts the service."""
        if decision not in DECISIONS:
            raise BadRequest(f"decision must be one of {', '.join(DECISIONS)}", field="decision")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
            raise BadRequest(f"note must be at most {MAX_NOTE} characters", field="note")
        found = await self._proposal(proposal_id)
        if found["status"] != "proposed":
            raise ProposalDecided(f"proposal {proposal_id} was {found['status']} already", id=proposal_id,
                                  decided=found["status"])
        target = f"proposal={proposal_id} service={found['service']} decision={decision}"
        await self._audit_resources(caller, target)
        try:
            got = await self._proposal_records().decide(proposal_id, decision, caller.subject, note)
        except Exception:
            await self._audit_resources(caller, target, outcome="error")
            raise
        if got is None:  # decided meanwhile by someone else
            latest = await self._proposal(proposal_id)
            raise ProposalDecided(f"proposal {proposal_id} was {latest['status']} already", id=proposal_id,
                                  decided=latest["status"])
        return got

