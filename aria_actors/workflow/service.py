"""aria_workflow: durable, versioned workflows (SOPs) that orchestrate the other services.

::

    publish(document) --validate (catalog of the services it may call)--> definitions vN, released
    @workflow Python code (modules in [workflow] modules) -----------------> definitions (tenant '')
    start_run(name, input) -> runs row -> Engine: body(ctx, input), every step recorded in PostgreSQL
        ctx.call("aria_shape", "generate", ...)   as the run's starter, through the typed client
        ctx.job(worker, args)                     an aria_queue job enqueued as the starter
    pause / resume / cancel / edit / migrate / retry / skip / signal   an operator's controls
    runs / run / history / stats / metrics                            what happened, and how fast

Guarantees and caveats
----------------------
- Only the ``@rpc`` methods are callable from outside, each checked as its caller: definitions
  ``workflow:definition:*`` (a tenant's documents; Python workflows are code and serve every
  tenant: rolling one back needs ``@any``), runs ``workflow:run:*`` scoped ``own`` (a run is its
  starter's; ``@tenant``/``@any`` rights reach others'), statistics ``workflow:analytics:read``.
  A run another caller may not read is answered as unknown (404), never as forbidden.
- A run acts as its starter, as recorded when it started: each service it calls decides with the
  starter's rights (the same check as any other door). It can reach only the services
  aria_workflow depends on (its spec's ``depends_on``), never aria_workflow itself.
- Definitions are immutable versions; a run keeps the version it started with until an operator
  migrates it; rollback releases the previous version for new runs and touches no run.
- Edits of a run (add or replace steps) apply to document workflows only, on a paused or dead
  run, and never to a step already recorded; the edited document is validated like a new one and
  stored with the run (the definition is untouched); each control is in the run's history.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from aria_actors.data.client import DataClient
from aria_actors.data.pool import Database
from aria_actors.queue.client import QueueClient
from aria_actors.runtime.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable, Unauthorized, brief
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import client_class
from aria_actors.runtime.rpc import Gate, RpcSpec, bind, client_methods, default_gate, rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.spec import Health, Status
from aria_actors.workflow import definition as code
from aria_actors.workflow import document as documents
from aria_actors.workflow.catalog import Catalog
from aria_actors.workflow.config import WorkflowSettings
from aria_actors.workflow.definition import NAME, WorkflowDef, check_input
from aria_actors.workflow.engine import Engine
from aria_actors.workflow.errors import (
    InvalidDefinition,
    InvalidInput,
    RunStateConflict,
    UnknownRun,
    UnknownVersion,
    UnknownWorkflow,
)
from aria_actors.workflow.metrics import METRICS
from aria_actors.workflow.spec import SPEC
from aria_actors.workflow.store import ENGINE_STATES, WorkflowStore, dumps

log = logging.getLogger("aria.workflow")
ME = Principal.internal(SPEC.name)
SIGNAL = r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$"
MAX_LIST = 1000
MAX_SHOWN_STEPS = 1000  # steps one `run` answer lists (the newest); the count says how many there are
MAX_TIMELINE = 5000  # events one `history` answer lists
LIVE = (*ENGINE_STATES, "paused")
STATES = ("pending", "running", "waiting", "paused", "completed", "failed", "cancelled", "dead")


def _tenant(caller: Principal) -> str:
    return caller.tenant or ""


def _name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str) or not re.fullmatch(NAME, value):
        raise BadRequest(f"{field} must be a workflow name (lowercase letters, digits, - and _, 1-64)", field=field)
    return value


def _version(value: Any, field: str = "version") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1_000_000:
        raise BadRequest(f"{field} must be a positive integer", field=field)
    return value


def _limit(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_LIST:
        raise BadRequest(f"limit must be 1-{MAX_LIST}", field="limit")
    return value


class WorkflowService(Service):
    SPEC = SPEC

    def __init__(self, settings: Any, config: WorkflowSettings | None = None, gate: Gate | None = None) -> None:
        super().__init__(settings)
        self.config = config or settings.workflow
        self.gate = gate
        self._db: Database | None = None
        self._store: WorkflowStore | None = None
        self._engine: Engine | None = None
        self._queue: Any = None
        self._problems: dict[str, str] = {}
        self._compiled: dict[tuple[str, str, int], WorkflowDef] = {}
        self._started = False
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        for module in self.config.modules:
            importlib.import_module(module)  # registers its @workflow and @step functions
        data = deps.of(DataClient)
        dsn = await data.dsn(ME)
        await data.migrate(ME, SPEC.name)
        self._db = await Database.connect(dsn, name=SPEC.name, min_size=1, max_size=8)
        self._store = WorkflowStore(self._db)
        for (name, version), wf in sorted(code.registered().items()):
            changed = await self._store.register_code(name, version, wf.code_ref, wf.code_hash, wf.description)
            if changed is not None:
                self._problems[f"code:{name}@{version}"] = (
                    f"the code of {name} version {version} changed since it was registered; its running "
                    "instances replay against the new code: publish changed code as a new version")
        if deps.get("aria_queue") is not None:
            self._queue = deps.of(QueueClient)
        self._engine = Engine(self._store, self._resolve, owner=f"{SPEC.name}@{socket.gethostname()}",
                              services=self._call_service, queue=self._queue, lease_s=self.config.lease_s,
                              heartbeat_s=self.config.heartbeat_s, poll_s=self.config.poll_s,
                              max_running=self.config.max_running)
        await self._engine.start()
        self._started = True

    async def health(self) -> Health:
        if not self._started:
            return Health(Status.STOPPED if self._stopped else Status.STARTING, "not started")
        engine = self._engine
        details: dict[str, Any] = {"running": len(engine.runners) if engine else 0,
                                   "python_workflows": len(code.registered())}
        try:
            await self._db.ping(self.settings.health_timeout_s)  # type: ignore[union-attr]
        except Exception as exc:  # the probe's job is to report it
            return Health(Status.DEGRADED, f"database unreachable: {brief(exc)}", details)
        if self._problems:
            details["problems"] = dict(self._problems)
            return Health(Status.DEGRADED, "; ".join(self._problems.values()), details)
        return Health(Status.READY, f"{details['running']} runs in progress", details)

    async def stop(self) -> None:
        if self._engine is not None:
            await self._engine.stop()
            self._engine = None
        if self._db is not None:
            await self._db.close()
            self._db = self._store = None
        self._started = False
        self._stopped = True

    def _records(self) -> WorkflowStore:
        if self._store is None:
            raise ServiceUnavailable("aria_workflow is not started", service=SPEC.name)
        return self._store

    def _runner(self) -> Engine:
        if self._engine is None:
            raise ServiceUnavailable("aria_workflow is not started", service=SPEC.name)
        return self._engine

    # -- what runs may call ------------------------------------------------------------------------
    def _callable(self) -> dict[str, type]:
        """The typed clients of the services a run may call: aria_workflow's dependencies."""
        out = {}
        for name in self.deps.names:
            proto = client_class(name)
            if proto is not None and name != SPEC.name:
                out[name] = proto
        return out

    async def _catalog(self) -> Catalog:
        workers: list[str] = []
        if self._queue is not None:
            try:
                workers = list(await self._queue.workers(ME))
            except Exception as exc:  # documents naming jobs are then refused, with the reason
                log.warning("aria_queue's workers unknown: %s", brief(exc))
        return Catalog.from_clients(self._callable(), workers=workers, python_steps=code.python_steps())

    async def _call_service(self, caller: Principal, service: str, method: str, args: dict[str, Any]) -> Any:
        proto = self._callable().get(service)
        if proto is None:
            raise NotFound(f"a workflow may call only {sorted(self._callable())}, not {service!r}", service=service)
        if method not in client_methods(proto):
            raise NotFound(f"{service} declares no method {method!r}", service=service, method=method)
        client = bind(proto, self.deps[service])
        return await getattr(client, method)(caller, **args)

    async def _resolve(self, row: dict[str, Any]) -> WorkflowDef:
        """The definition a run executes: its own edited document, or its version's."""
        if row.get("document") is not None:
            doc = documents.parse(row["document"])
            return self._from_document(doc, row["version"])
        key = (row["def_tenant"], row["name"], row["version"])
        if key in self._compiled:
            return self._compiled[key]
        if row["def_tenant"] == "":
            found = code.get(row["name"], row["version"])
            if found is not None:
                return found
        stored = await self._records().definition(row["def_tenant"], row["name"], row["version"])
        if stored is None or stored["kind"] != "document":
            raise UnknownVersion(f"{row['name']} version {row['version']} is not defined here (its code is not "
                                 "in [workflow] modules?)", name=row["name"], version=row["version"])
        compiled = self._from_document(documents.parse(stored["document"]), row["version"])
        self._compiled[key] = compiled
        return compiled

    def _from_document(self, doc: Any, version: int) -> WorkflowDef:
        body = documents.compile(doc, python_steps=code.python_steps())
        return WorkflowDef(name=doc.name, version=version, body=body, kind="document", input=dict(doc.input),
                           on_failure=doc.on_failure, description=doc.description)

    # -- authorization helpers ---------------------------------------------------------------------
    def _gate(self) -> Gate:
        return self.gate or default_gate()

    def _holds(self, caller: Principal, action: str, scope: str) -> bool:
        try:
            self._gate().check(RpcSpec(action, action, scope), caller)  # type: ignore[arg-type]
        except (Forbidden, Unauthorized):
            return False
        return True

    async def _run_for(self, caller: Principal, run_id: Any, action: str) -> dict[str, Any]:
        """The run ``run_id`` when ``caller`` may do ``action`` on it; else unknown (404)."""
        if not isinstance(run_id, str) or len(run_id) > 64:
            raise BadRequest("run_id must be a run id (a UUID)", field="run_id")
        row = await self._records().run(run_id)
        if row is None:
            raise UnknownRun(f"no workflow run {run_id!r}", run_id=run_id)
        if not row["tenant"] and caller.tenant:
            # A tenant-less run (an operator's) is outside every tenant: only @any rights reach it
            # (RBAC's @tenant scope would match a resource without a tenant).
            allowed = self._holds(caller, action, "any")
        else:
            resource = {"owner": row["started_by"], "tenant": row["tenant"] or None}
            allowed = self._gate().allowed(caller, action, resource)
        if not allowed:
            raise UnknownRun(f"no workflow run {run_id!r}", run_id=run_id)
        return row

    def _may_rewrite(self, caller: Principal, row: dict[str, Any], what: str) -> None:
        """Changing what a run will do (edit, migrate, skip) is its starter's, or needs
        workflow:run:rewrite@any: the run acts with its starter's rights, so whoever rewrites it
        must not gain them."""
        starter = caller.subject == row["started_by"] and (caller.tenant or "") == row["tenant"]
        if not starter and not self._holds(caller, "workflow:run:rewrite", "any"):
            raise Forbidden(f"only the run's starter may {what} it (it acts with the starter's rights), or a holder "
                            "of workflow:run:rewrite@any", action="workflow:run:rewrite")

    def _payload(self, value: Any, field: str) -> Any:
        try:
            size = len(dumps(value))
        except (TypeError, ValueError):
            raise InvalidInput(f"{field} must be JSON (no NaN or infinities)", field=field) from None
        if size > self.config.max_input_bytes:
            raise InvalidInput(f"{field} is {size} bytes; at most {self.config.max_input_bytes}", field=field)
        return value

    # -- definitions -----------------------------------------------------------------------------
    def _parse(self, document: Any) -> Any:
        if isinstance(document, str | bytes) and len(document) > self.config.max_document_bytes:
            raise InvalidDefinition(f"a document is at most {self.config.max_document_bytes} bytes", where="",
                                    problem="too-large")
        return documents.parse(document)

    def _may_share(self, caller: Principal, where: str, name: str) -> None:
        """Definitions without a tenant (Python code, documents of tenant-less callers) serve every
        tenant: changing them needs workflow:definition:write@any."""
        if where == "" and not self._holds(caller, "workflow:definition:write", "any"):
            raise Forbidden(f"{name!r} is shared by every tenant: changing it needs workflow:definition:write@any",
                            action="workflow:definition:write")

    async def _checked(self, document: Any) -> Any:
        """The parsed and validated document; in a thread: a large YAML text takes seconds to read,
        which must not stall the runs' heartbeats on the event loop."""
        catalog = await self._catalog()

        def check() -> Any:
            doc = self._parse(document)
            documents.validate(doc, catalog)
            return doc

        return await asyncio.to_thread(check)

    @rpc("workflow:definition:read", features=("sop-definition", "parallel-steps", "conditional-branching"))
    async def validate(self, caller: Principal, document: Any) -> dict[str, Any]:
        """Check a document as publish would, storing nothing: its steps, or a 422 naming the place."""
        doc = await self._checked(document)
        return {"valid": True, "name": doc.name, "steps": [s.id for s in doc.steps]}

    @rpc("workflow:definition:write", features=("sop-definition", "versioning-rollback"))
    async def publish(self, caller: Principal, document: Any) -> dict[str, Any]:
        """Validate a document and store it as the next version of its name, released for new runs."""
        doc = await self._checked(document)
        if any(name == doc.name for name, _ in code.registered()):
            raise InvalidDefinition(f"{doc.name!r} is a Python workflow's name; choose another", where="name",
                                    problem="name-taken")
        self._may_share(caller, _tenant(caller), doc.name)
        stored = await self._records().add_document(_tenant(caller), doc.name, doc.model_dump(mode="json"),
                                                    doc.description, caller.subject or "")
        return {**stored, "steps": [s.id for s in doc.steps]}

    @rpc("workflow:definition:list", feature="sop-definition")
    async def definitions(self, caller: Principal) -> list[dict[str, Any]]:
        """The caller's tenant's documents and every Python workflow, with their current version."""
        store = self._records()
        own = await store.definitions(_tenant(caller)) if caller.tenant else []
        return own + await store.definitions("")

    async def _where(self, caller: Principal, name: str) -> str:
        """The tenant whose definitions hold ``name`` for this caller: its own, else the shared ones."""
        store = self._records()
        if caller.tenant and await store.current_version(_tenant(caller), name) is not None:
            return _tenant(caller)
        if await store.current_version("", name) is not None:
            return ""
        raise UnknownWorkflow(f"no workflow named {name!r}", name=name)

    @rpc("workflow:definition:read", feature="versioning-rollback")
    async def definition(self, caller: Principal, name: str, version: int | None = None) -> dict[str, Any]:
        """One version of a definition (default: the current one), with its document or code."""
        name = _name(name)
        where = await self._where(caller, name)
        store = self._records()
        version = _version(version) if version is not None else await store.current_version(where, name)
        found = await store.definition(where, name, version)  # type: ignore[arg-type]
        if found is None:
            raise UnknownVersion(f"{name} has no version {version}", name=name, version=version)
        wf = code.get(name, version) if where == "" else None  # type: ignore[arg-type]
        if wf is not None:
            found["input"] = wf.input
            found["on_failure"] = wf.on_failure
        return found

    @rpc("workflow:definition:read", feature="versioning-rollback")
    async def versions(self, caller: Principal, name: str) -> dict[str, Any]:
        """Every version of ``name``, the current one, and its release history (newest first)."""
        name = _name(name)
        where = await self._where(caller, name)
        store = self._records()
        return {"name": name, "current": await store.current_version(where, name),
                "versions": await store.versions(where, name), "releases": await store.releases(where, name)}

    @rpc("workflow:definition:write", feature="versioning-rollback")
    async def rollback(self, caller: Principal, name: str, version: int | None = None) -> dict[str, Any]:
        """Release ``version`` (default: the one released before the current) for new runs; running
        instances keep theirs. A shared workflow (Python code, or a document published without a
        tenant) serves every tenant: rolling it back needs @any."""
        name = _name(name)
        where = await self._where(caller, name)
        self._may_share(caller, where, name)
        store = self._records()
        current = await store.current_version(where, name)
        if version is None:
            older = [v["version"] for v in await store.versions(where, name) if v["version"] < (current or 0)]
            if not older:
                raise RunStateConflict(f"{name} version {current} has no earlier version to roll back to",
                                       name=name, version=current)
            version = older[-1]
        version = _version(version)
        found = await store.definition(where, name, version)
        if found is None:
            raise UnknownVersion(f"{name} has no version {version}", name=name, version=version)
        if found["kind"] == "python" and code.get(name, version) is None:
            raise UnknownVersion(f"the code of {name} version {version} is not loaded here", name=name,
                                 version=version)
        await store.release(where, name, version, "rollback", caller.subject or "")
        return {"name": name, "current": version, "previous": current}

    # -- runs ------------------------------------------------------------------------------------
    @rpc("workflow:run:start", job=True, features=("execution-state", "multi-service", "parallel-steps",
                                                   "conditional-branching"))
    async def start_run(self, caller: Principal, name: str, input: Any = None,
                        version: int | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
        """Start a run of ``name`` (its current version unless ``version``) acting as the caller. With
        an ``idempotency_key`` already used for ``name``, the earlier run is answered instead."""
        name = _name(name)
        if idempotency_key is not None and (not isinstance(idempotency_key, str)
                                            or not 1 <= len(idempotency_key) <= 200):
            raise BadRequest("idempotency_key must be 1-200 characters", field="idempotency_key")
        self._payload(input, "input")
        where = await self._where(caller, name)
        store = self._records()
        version = _version(version) if version is not None else await store.current_version(where, name)
        row = {"def_tenant": where, "name": name, "version": version, "document": None}
        if await store.definition(where, name, version) is None:  # type: ignore[arg-type]
            raise UnknownVersion(f"{name} has no version {version}", name=name, version=version)
        wf = await self._resolve(row)
        check_input(wf.input, input)
        run_id, created = await self._runner().submit(wf, input, caller, tenant=_tenant(caller), def_tenant=where,
                                                      idempotency_key=idempotency_key)
        if not created:
            earlier = await self._records().run(run_id)
            if earlier is None or earlier["started_by"] != (caller.subject or ""):
                raise RunStateConflict("this idempotency key was used by another caller for this workflow; use "
                                       "your own key", state="taken")
        return {"run_id": run_id, "name": name, "version": version, "created": created}

    @rpc("workflow:run:list", scope="own", feature="execution-state")
    async def runs(self, caller: Principal, name: str | None = None, state: str | None = None,
                   limit: int = 50) -> list[dict[str, Any]]:
        """Runs the caller may see, newest first: its own, its tenant's (@tenant), all (@any)."""
        if name is not None:
            _name(name)
        if state is not None and state not in STATES:
            raise BadRequest(f"state must be one of {', '.join(STATES)}", field="state")
        limit = _limit(limit)
        if self._holds(caller, "workflow:run:list", "any"):
            rows = await self._records().runs(None, name, state, None, limit)
        else:
            mine = None if self._holds(caller, "workflow:run:list", "tenant") else (caller.subject or "")
            # explicit tenant filter: a tenant-less caller's query runs without row-level security
            rows = await self._records().runs(_tenant(caller), name, state, mine, limit)
        return [{"run_id": r["id"], **r} for r in rows]

    @rpc("workflow:run:read", scope="own", feature="execution-state")
    async def run(self, caller: Principal, run_id: str) -> dict[str, Any]:
        """A run: state, input, output or error, version, and its recorded steps."""
        row = await self._run_for(caller, run_id, "workflow:run:read")
        row.pop("starter", None)
        row.pop("owner", None)
        row["run_id"] = row["id"]
        steps = await self._records().steps(run_id)
        row["steps_total"] = len(steps)
        row["steps"] = [{k: s[k] for k in ("key", "name", "kind", "state", "attempts", "started_at",
                                           "finished_at", "output", "error")}
                        for s in steps[-MAX_SHOWN_STEPS:]]
        return row

    @rpc("workflow:run:read", scope="own", feature="workflow-analytics")
    async def history(self, caller: Principal, run_id: str) -> dict[str, Any]:
        """A run's timeline: each step's start and end, each retry, control and signal, in order."""
        row = await self._run_for(caller, run_id, "workflow:run:read")
        store = self._records()
        events: list[dict[str, Any]] = [{"at": row["created_at"], "kind": "started", "key": None,
                                         "detail": {"version": row["version"]}}]
        for s in await store.steps(run_id):
            events.append({"at": s["started_at"], "kind": "step-started", "key": s["key"],
                           "detail": {"name": s["name"]}})
            events.append({"at": s["finished_at"], "kind": f"step-{s['state']}", "key": s["key"],
                           "detail": {"name": s["name"], "attempts": s["attempts"],
                                      **({"error": s["error"]} if s["error"] else {})}})
        events.extend(await store.history(run_id))
        if row["finished_at"]:
            events.append({"at": row["finished_at"], "kind": row["state"], "key": None, "detail": {}})
        events.sort(key=lambda e: e["at"])
        return {"run_id": run_id, "name": row["name"], "state": row["state"], "events_total": len(events),
                "events": events[-MAX_TIMELINE:]}

    @rpc("workflow:run:signal", scope="own", feature="execution-state")
    async def signal(self, caller: Principal, run_id: str, name: str, payload: Any = None) -> dict[str, Any]:
        """Send signal ``name`` to a live run (one wait for it consumes it, once)."""
        if not isinstance(name, str) or not re.fullmatch(SIGNAL, name):
            raise BadRequest("a signal name is 1-64 letters, digits and _.:- starting with a letter", field="name")
        self._payload(payload, "payload")
        row = await self._run_for(caller, run_id, "workflow:run:signal")
        if row["state"] not in LIVE:
            raise RunStateConflict(f"run {run_id} is {row['state']}: it takes no more signals", state=row["state"])
        signal_id = await self._records().add_signal(run_id, name, payload, caller.subject or "")
        self._runner().notify_signal(run_id, name)
        return {"run_id": run_id, "signal": name, "id": signal_id}

    # -- controls --------------------------------------------------------------------------------
    async def _control(self, caller: Principal, run_id: str) -> dict[str, Any]:
        return await self._run_for(caller, run_id, "workflow:run:control")

    async def _note(self, run_id: str, kind: str, caller: Principal, **detail: Any) -> None:
        await self._records().add_history(run_id, kind, None, {"by": caller.subject, **detail})

    @rpc("workflow:run:control", scope="own", feature="dynamic-adaptation")
    async def pause(self, caller: Principal, run_id: str) -> dict[str, Any]:
        """Pause a run at its next step or wait; it holds no task until resumed."""
        row = await self._control(caller, run_id)
        if row["state"] not in ENGINE_STATES:
            raise RunStateConflict(f"run {run_id} is {row['state']}; only a pending, running or waiting run pauses",
                                   state=row["state"])
        await self._note(run_id, "pause-requested", caller)
        if self._runner().request(run_id, "pause"):
            return {"run_id": run_id, "requested": "pause"}
        store = self._records()
        # Held by no engine: paused at once; held by another instance: it pauses at its heartbeat.
        done = await store.pause_idle(run_id, None) if row["owner"] is None else await store.control(run_id, "pause")
        if not done:
            raise RunStateConflict(f"run {run_id} ended meanwhile", state="finished")
        return {"run_id": run_id, "requested": "pause"}

    @rpc("workflow:run:control", scope="own", feature="dynamic-adaptation")
    async def resume(self, caller: Principal, run_id: str) -> dict[str, Any]:
        """Resume a paused run from its records."""
        row = await self._control(caller, run_id)
        if not await self._records().resume(run_id, ["paused"]):
            raise RunStateConflict(f"run {run_id} is {row['state']}; only a paused run resumes", state=row["state"])
        await self._note(run_id, "resumed", caller)
        await self._runner().claim()
        return {"run_id": run_id, "state": "running"}

    @rpc("workflow:run:control", scope="own", features=("dynamic-adaptation", "error-recovery"))
    async def cancel(self, caller: Principal, run_id: str, compensate: bool = False) -> dict[str, Any]:
        """Cancel a run now (with ``compensate``, completed steps' compensations run first)."""
        if not isinstance(compensate, bool):
            raise BadRequest("compensate must be true or false", field="compensate")
        row = await self._control(caller, run_id)
        control = "cancel-compensate" if compensate else "cancel"
        await self._note(run_id, "cancel-requested", caller, compensate=compensate)
        store = self._records()
        idle = row["state"] in ("paused", "dead")
        if idle and await store.cancel_idle(run_id, {"type": "Cancelled", "message": "cancelled by an operator"}):
            return {"run_id": run_id, "state": "cancelled"}
        live = row["state"] in ENGINE_STATES
        if live and (self._runner().request(run_id, control) or await store.control(run_id, control)):
            return {"run_id": run_id, "requested": control}
        raise RunStateConflict(f"run {run_id} is {row['state']}; it cannot be cancelled", state=row["state"])

    @rpc("workflow:run:control", scope="own", feature="error-recovery")
    async def retry(self, caller: Principal, run_id: str) -> dict[str, Any]:
        """Run a dead-lettered run again from its records: its failed steps run again."""
        row = await self._control(caller, run_id)
        if row["state"] != "dead":
            raise RunStateConflict(f"run {run_id} is {row['state']}; only a dead run is retried", state=row["state"])
        store = self._records()
        # The step that killed the run (its error names it) runs again; failures the body caught
        # and went past stay recorded, so its replay takes the same path.
        culprit = (row.get("error") or {}).get("step")
        failed = [culprit] if culprit else await store.failed_steps(run_id)
        await store.delete_failed_steps(run_id, failed)
        if not await store.resume(run_id, ["dead"]):
            raise RunStateConflict(f"run {run_id} changed meanwhile", state="changed")
        await self._note(run_id, "retried", caller, steps=failed)
        await self._runner().claim()
        return {"run_id": run_id, "state": "running", "retried_steps": failed}

    @rpc("workflow:run:control", scope="own", feature="error-recovery")
    async def skip(self, caller: Principal, run_id: str, output: Any = None) -> dict[str, Any]:
        """Mark a dead run's failed step done with ``output`` (what later steps read) and go on."""
        self._payload(output, "output")
        row = await self._control(caller, run_id)
        self._may_rewrite(caller, row, "skip a step of")
        if row["state"] != "dead":
            raise RunStateConflict(f"run {run_id} is {row['state']}; only a dead run's step is skipped",
                                   state=row["state"])
        store = self._records()
        failed = await store.failed_steps(run_id)
        if not failed:
            raise RunStateConflict(f"run {run_id} has no failed step to skip (retry it instead)", state="dead")
        await store.skip_failed_step(run_id, failed[-1], output)
        if not await store.resume(run_id, ["dead"]):
            raise RunStateConflict(f"run {run_id} changed meanwhile", state="changed")
        await self._note(run_id, "skipped", caller, step=failed[-1])
        await self._runner().claim()
        return {"run_id": run_id, "state": "running", "skipped_step": failed[-1]}

    @rpc("workflow:run:control", scope="own", features=("dynamic-adaptation", "versioning-rollback"))
    async def migrate(self, caller: Principal, run_id: str, version: int) -> dict[str, Any]:
        """Move a waiting, paused or dead run to another version of its workflow; it resumes from
        its records under that version (steps keep their keys)."""
        version = _version(version)
        row = await self._control(caller, run_id)
        self._may_rewrite(caller, row, "migrate")
        if row["state"] not in ("waiting", "paused", "dead"):
            raise RunStateConflict(f"run {run_id} is {row['state']}; pause it first (only waiting, paused or "
                                   "dead runs migrate)", state=row["state"])
        store = self._records()
        if await store.definition(row["def_tenant"], row["name"], version) is None:
            raise UnknownVersion(f"{row['name']} has no version {version}", name=row["name"], version=version)
        await self._resolve({**row, "version": version, "document": None})  # loadable before anything changes
        if not await store.set_version(run_id, version, ["waiting", "paused", "dead"]):
            raise RunStateConflict(f"run {run_id} changed meanwhile", state="changed")
        await self._note(run_id, "migrated", caller, **{"from": row["version"], "to": version})
        self._runner().request(run_id, "restart")
        return {"run_id": run_id, "version": version, "previous": row["version"]}

    @rpc("workflow:run:control", scope="own", feature="dynamic-adaptation")
    async def edit(self, caller: Principal, run_id: str, add: list[dict[str, Any]] | None = None,
                   replace: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Add steps to, or replace pending steps of, a paused or dead document run (this run only)."""
        row = await self._control(caller, run_id)
        self._may_rewrite(caller, row, "edit")
        if row["state"] not in ("paused", "dead"):
            raise RunStateConflict(f"run {run_id} is {row['state']}; pause it before editing", state=row["state"])
        store = self._records()
        if row["document"] is not None:
            base = row["document"]
        else:
            stored = await store.definition(row["def_tenant"], row["name"], row["version"])
            if stored is None or stored["kind"] != "document":
                raise RunStateConflict("a Python workflow's steps are its code: publish a new version and migrate",
                                       state=row["state"])
            base = stored["document"]
        for field, value in (("add", add), ("replace", replace)):
            if value is not None and (not isinstance(value, list) or len(value) > 100
                                      or not all(isinstance(s, dict) for s in value)):
                raise InvalidInput(f"{field} must be a list of at most 100 step objects", field=field)
        # a document step's records: its id, map items "id[i]", loop rounds "id#n", job tickets
        # "id@job", signal deadlines "id@deadline", compensations "id:compensate"
        recorded = {re.split(r"[\[#@:]", s["key"], maxsplit=1)[0] for s in await store.steps(run_id)
                    if s["state"] != "failed"}
        steps = list(base["steps"])
        ids = [s["id"] for s in steps]
        for i, new in enumerate(replace or []):
            if new.get("id") not in ids:
                raise InvalidInput(f"replace[{i}]: no step {new.get('id')!r} in this run", field=f"replace[{i}].id")
            if new["id"] in recorded:
                raise RunStateConflict(f"step {new['id']!r} already ran; only pending steps are replaced",
                                       state=row["state"])
            steps[ids.index(new["id"])] = new
        steps.extend(add or [])
        doc = await self._checked({**base, "steps": steps})
        await store.delete_companions(run_id, [s["id"] for s in replace or []])
        if not await store.set_document(run_id, doc.model_dump(mode="json")):
            raise RunStateConflict(f"run {run_id} changed meanwhile", state="changed")
        await self._note(run_id, "edited", caller, added=[s.get("id") for s in add or []],
                         replaced=[s.get("id") for s in replace or []])
        return {"run_id": run_id, "steps": [s.id for s in doc.steps]}

    # -- analytics -------------------------------------------------------------------------------
    @rpc("workflow:analytics:read", feature="workflow-analytics")
    async def stats(self, caller: Principal, name: str | None = None, since_s: float = 86400.0) -> dict[str, Any]:
        """Per workflow: runs by state, durations (mean, p50, p95), failure rate; per step: counts,
        retries, durations, failures. Of the caller's tenant, or of all with @any."""
        if name is not None:
            _name(name)
        if not isinstance(since_s, int | float) or isinstance(since_s, bool) or not 0 < since_s <= 366 * 86400:
            raise BadRequest("since_s must be 1 second to 366 days", field="since_s")
        tenant = None if self._holds(caller, "workflow:analytics:read", "any") else _tenant(caller)
        raw = await self._records().stats(tenant, name, datetime.now(UTC) - timedelta(seconds=since_s))
        workflows: dict[str, dict[str, Any]] = {}
        for r in raw["runs"]:
            w = workflows.setdefault(r["name"], {"runs": 0, "by_state": {}, "durations_s": {}})
            w["runs"] += r["n"]
            w["by_state"][r["state"]] = r["n"]
            if r["mean_s"] is not None:
                w["durations_s"][r["state"]] = {"mean": r["mean_s"], "p50": r["p50_s"], "p95": r["p95_s"]}
        for w in workflows.values():
            ended = sum(w["by_state"].get(s, 0) for s in ("completed", "failed", "dead", "cancelled"))
            bad = sum(w["by_state"].get(s, 0) for s in ("failed", "dead"))
            w["failure_rate"] = bad / ended if ended else None
        steps = [{"workflow": r["workflow"], "step": r["step"], "state": r["state"], "count": r["n"],
                  "retries": int(r["retries"] or 0), "mean_s": r["mean_s"], "p95_s": r["p95_s"]}
                 for r in raw["steps"]]
        return {"since_s": since_s, "workflows": workflows, "steps": steps}

    @rpc("workflow:analytics:read", scope="any", feature="workflow-analytics")
    async def metrics(self, caller: Principal) -> str:
        """Prometheus text of this instance's workflow metrics (runs, step durations, failures)."""
        return await self.exposition()

    async def exposition(self) -> str:
        return METRICS.registry.render()

    @rpc("workflow:definition:read", feature="sop-definition")
    async def catalog(self, caller: Principal) -> dict[str, Any]:
        """What documents may name: services and methods (with parameters), queue workers, Python steps."""
        return (await self._catalog()).describe()
