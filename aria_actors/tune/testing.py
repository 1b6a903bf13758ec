"""In-memory stand-ins for aria_tune's unit tests: :class:`MemoryStore` (the :class:`Store` of
PostgreSQL's rows, with the same once-only transitions) and :class:`FakeQueue` (the enqueues
the service makes, run by the test when it chooses)."""

from __future__ import annotations

import asyncio
import copy
import itertools
from datetime import UTC, datetime
from typing import Any

from aria_actors.runtime.principal import Principal
from aria_actors.tune.store import Propose


def _now() -> str:
    return datetime.now(UTC).isoformat()


class MemoryStore:
    """:class:`aria_actors.tune.store.Store` in memory; one lock plays the study's row lock."""

    def __init__(self) -> None:
        self._studies: dict[int, dict[str, Any]] = {}
        self._trials: dict[tuple[int, int], dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self.finishes = 0  # finish calls that changed a trial (what a double count would show)

    def _study_trials(self, study_id: int) -> list[dict[str, Any]]:
        return [t for (s, _), t in sorted(self._trials.items()) if s == study_id]

    async def create_study(self, tenant: str, row: dict[str, Any]) -> dict[str, Any] | None:
        if any(s["tenant"] == tenant and s["name"] == row["name"] for s in self._studies.values()):
            return None
        study = {**copy.deepcopy(row), "id": next(self._ids), "tenant": tenant, "status": "created",
                 "optimizer": None, "created_at": _now(), "updated_at": _now()}
        self._studies[study["id"]] = study
        return copy.deepcopy(study)

    async def study(self, tenant: str, name: str) -> dict[str, Any] | None:
        return next((copy.deepcopy(s) for s in self._studies.values()
                     if s["tenant"] == tenant and s["name"] == name), None)

    async def study_by_id(self, study_id: int) -> dict[str, Any] | None:
        found = self._studies.get(study_id)
        return copy.deepcopy(found) if found else None

    async def studies(self, tenant: str, owner: str | None, limit: int) -> list[dict[str, Any]]:
        out = []
        for s in sorted(self._studies.values(), key=lambda s: -s["id"]):
            if s["tenant"] != tenant or (owner is not None and s["owner"] != owner):
                continue
            trials = self._study_trials(s["id"])
            values = [t["value"] for t in trials if t["state"] == "complete"]
            best = (min if s["direction"] == "minimize" else max)(values) if values else None
            out.append({**copy.deepcopy(s), "trials": len(trials),
                        "running": sum(t["state"] == "running" for t in trials), "best_value": best})
        return out[:limit]

    async def update_study(self, study_id: int, status: str, budget: int, parallelism: int,
                           optimizer: dict[str, Any] | None) -> dict[str, Any] | None:
        s = self._studies.get(study_id)
        if s is None:
            return None
        s.update(status=status, budget=budget, parallelism=parallelism, updated_at=_now())
        if optimizer is not None:
            s["optimizer"] = copy.deepcopy(optimizer)
        return copy.deepcopy(s)

    async def delete_study(self, study_id: int) -> bool:
        if self._studies.pop(study_id, None) is None:
            return False
        for key in [k for k in self._trials if k[0] == study_id]:
            del self._trials[key]
        return True

    async def complete_if_done(self, study_id: int) -> bool:
        s = self._studies.get(study_id)
        trials = self._study_trials(study_id)
        if s is None or s["status"] != "running" or len(trials) < s["budget"] or \
                any(t["state"] == "running" for t in trials):
            return False
        s["status"] = "completed"
        return True

    async def running_studies(self, limit: int) -> list[dict[str, Any]]:
        return [copy.deepcopy(s) for s in self._studies.values() if s["status"] == "running"][:limit]

    async def counts(self, study_id: int) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self._study_trials(study_id):
            out[t["state"]] = out.get(t["state"], 0) + 1
        return out

    async def best(self, study_id: int, direction: str) -> dict[str, Any] | None:
        done = [t for t in self._study_trials(study_id) if t["state"] == "complete"]
        if not done:
            return None
        sign = 1 if direction == "minimize" else -1
        return copy.deepcopy(min(done, key=lambda t: (sign * t["value"], t["number"])))

    async def all_trials(self, study_id: int) -> list[dict[str, Any]]:
        return copy.deepcopy(self._study_trials(study_id))

    async def trials(self, study_id: int, state: str | None, after: int, limit: int) -> list[dict[str, Any]]:
        return copy.deepcopy([t for t in self._study_trials(study_id)
                              if (state is None or t["state"] == state) and t["number"] >= after][:limit])

    async def trial(self, study_id: int, number: int) -> dict[str, Any] | None:
        found = self._trials.get((study_id, number))
        return copy.deepcopy(found) if found else None

    async def reserve(self, study_id: int, propose: Propose) -> list[dict[str, Any]]:
        async with self._lock:
            s = self._studies.get(study_id)
            if s is None or s["status"] != "running":
                return []
            trials = copy.deepcopy(self._study_trials(study_id))
            room = min(s["parallelism"] - sum(t["state"] == "running" for t in trials), s["budget"] - len(trials))
            made = []
            for _ in range(max(0, room)):
                params = await propose(copy.deepcopy(s), trials)
                row = {"study_id": study_id, "number": len(trials), "tenant": s["tenant"], "params": params,
                       "state": "running", "value": None, "values": None, "intermediate": {}, "job_id": None,
                       "attempts": 0, "error": None, "created_at": _now(), "started_at": None, "finished_at": None}
                self._trials[(study_id, row["number"])] = row
                trials.append(copy.deepcopy(row))
                made.append(copy.deepcopy(row))
            return made

    async def set_job(self, study_id: int, number: int, job_id: int) -> None:
        t = self._trials.get((study_id, number))
        if t is not None and t["state"] == "running":
            t["job_id"] = job_id

    async def start_trial(self, study_id: int, number: int) -> dict[str, Any] | None:
        t = self._trials.get((study_id, number))
        if t is None or t["state"] != "running":
            return None
        t.update(started_at=_now(), attempts=t["attempts"] + 1, intermediate={})
        return copy.deepcopy(t)

    async def report(self, study_id: int, number: int, step: int, value: float) -> dict[str, Any] | None:
        t = self._trials.get((study_id, number))
        if t is None or t["state"] != "running":
            return None
        t["intermediate"][str(step)] = value
        return copy.deepcopy(t)

    async def finish(self, study_id: int, number: int, state: str, value: float | list[float] | None,
                     error: str | None) -> dict[str, Any] | None:
        t = self._trials.get((study_id, number))
        if t is None or t["state"] != "running":
            return None
        values = [float(v) for v in value] if isinstance(value, list) else None  # as TuneStore.finish
        t.update(state=state, value=values[0] if values else value, values=values, error=error, finished_at=_now())
        self.finishes += 1
        return copy.deepcopy(t)

    async def running_trials(self, limit: int) -> list[dict[str, Any]]:
        out = []
        for t in self._study_trials_all():
            if t["state"] == "running":
                age = (datetime.now(UTC) - datetime.fromisoformat(t["created_at"])).total_seconds()
                out.append({"study_id": t["study_id"], "number": t["number"], "job_id": t["job_id"],
                            "created_at": t["created_at"], "started_at": t["started_at"], "age_s": age})
        return out[:limit]

    def _study_trials_all(self) -> list[dict[str, Any]]:
        return [t for _, t in sorted(self._trials.items())]

    async def totals(self) -> dict[str, int]:
        return {"studies": len(self._studies),
                "running_trials": sum(t["state"] == "running" for t in self._trials.values())}

    def age(self, study_id: int, number: int, seconds: float) -> None:
        """Make a trial look ``seconds`` older (what the sweep's grace reads)."""
        t = self._trials[(study_id, number)]
        t["created_at"] = datetime.fromtimestamp(datetime.fromisoformat(t["created_at"]).timestamp() - seconds,
                                                 UTC).isoformat()


class FakeQueue:
    """The enqueues aria_tune makes (``service:aria_tune.run_trial`` jobs), with unique keys as
    the queue keeps them, and each job's state for the sweep to read."""

    def __init__(self) -> None:
        self.jobs: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self.fail_next = 0  # enqueues to refuse (a queue that is down)

    async def enqueue(self, caller: Principal, worker: str, args: dict[str, Any] | None = None,
                      **options: Any) -> dict[str, Any]:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("queue down")
        keys = (options.get("unique") or {}).get("keys") or []
        for job in self.jobs.values():
            if keys and job["worker"] == worker and all(job["args"].get(k) == (args or {}).get(k) for k in keys) \
                    and job["state"] not in ("cancelled", "discarded"):
                return {**job, "conflict": True}
        job = {"id": next(self._ids), "worker": worker, "args": dict(args or {}), "state": "available",
               "caller": caller, "options": options, "errors": []}
        self.jobs[job["id"]] = job
        return dict(job)

    async def get_job(self, caller: Principal, job_id: int) -> dict[str, Any]:
        return dict(self.jobs[job_id])

    def available(self) -> list[dict[str, Any]]:
        return [j for j in self.jobs.values() if j["state"] == "available"]
