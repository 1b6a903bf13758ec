"""aria_tune's auto-tuning of Aria itself (feature ``auto-tuning``): knobs of the running system
(autotune_knobs.py: an aria_queue queue's concurrency) proposed from the services' own numbers,
applied, measured before and after on the same workload, kept only if better, rolled back
otherwise; every change recorded in ``aria_tune.autotune_changes``.

::

    autotune_scan (an editor, or the automatic loop): saturated targets (jobs waiting, all slots
        busy) -> a proposal per target: value doubled, at most max_step more, at most max
    autotune_propose(knob, target, value)      an operator's own proposal (any direction)
    autotune_apply(id)  [editor / admin, audited; or the loop when autotune_auto]
        -> measuring: window before (autotune_window_s) -> set the new value (audited)
           -> settle (autotune_settle_s) -> window after -> autotune_core.decide
           -> kept | rolled_back (old value set again, audited) | failed (error; old value restored)
    autotune_reject(id)                        a proposal dropped, nothing changed

Guarantees and caveats
----------------------
- Changing the running system needs ``tune:autotune:apply`` (proposing ``tune:autotune:write``):
  administrators and editors; a tenant-bound caller also needs the right ``@any`` (a queue is
  the whole system's, not a tenant's). Reading is ``tune:autotune:read`` / ``list`` (viewers too).
  Every apply, set and rollback is written to aria_security's audit log with who approved it; an
  apply that cannot be audited is not done (503).
- One open change per (knob, target) (the table's partial unique index): a second proposal, or an
  apply of a change already measuring, is a 409. Values outside the knob's limits (built in,
  ``[tune] autotune_limits``) or moving more than ``max_step`` are a 400 naming ``value``.
- A change whose before window shows no workload (nothing completed, nothing waiting) is
  ``rejected`` unapplied: there is nothing to measure it by.
- Stopping aria_tune mid-measurement sets the old value again and records ``rolled_back``; after a
  crash (kill -9) the next start does the same for every change left ``measuring``. If the value
  was changed by hand meanwhile, that change is overwritten by the restore.
- The automatic loop (``autotune_auto``, off by default) starts one change at a time, on targets
  matching ``autotune_targets``, and leaves a target alone for ``autotune_cooldown_s`` after a
  decision. Windows are wall-clock: other load on the machine during a window is measured too.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
from typing import TYPE_CHECKING, Any

from aria_actors.runtime.errors import BadRequest, Forbidden, ServiceUnavailable, brief
from aria_actors.runtime.periodic import periodic, stop_task
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import rpc
from aria_actors.tune.autotune_core import (
    FAILED,
    KEPT,
    PROPOSED,
    REJECTED,
    ROLLED_BACK,
    STATUSES,
    Limits,
    check_value,
    decide,
    proposed_value,
)
from aria_actors.tune.autotune_core import window as measure
from aria_actors.tune.autotune_knobs import Knob, default_knobs
from aria_actors.tune.autotune_store import AutotuneStore, ChangeStore
from aria_actors.tune.config import TuneSettings
from aria_actors.tune.errors import ChangeConflict, UnknownChange, UnknownKnob

log = logging.getLogger("aria.tune.autotune")
AUTOMATIC = "aria_tune (automatic)"
MAX_LIST = 1000
RESTORE_TIMEOUT_S = 10.0


def _change_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**63 - 1:
        raise BadRequest("change_id must be a positive integer", field="change_id")
    return value


def _text(value: Any, field: str, most: int, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= most or "\x00" in value:
        raise BadRequest(f"{field} must be 1-{most} characters", field=field)
    return value


class AutoTuning:
    """The auto-tuning RPCs, mixed into :class:`~aria_actors.tune.service.TuneService`, which
    supplies ``config``, ``_db``, ``_queue``, ``deps`` and ``_holds``. Tests set ``at_knobs``,
    ``at_store`` and ``at_audit`` before ``start``."""

    config: TuneSettings
    at_knobs: dict[str, Knob] | None = None
    at_store: ChangeStore | None = None
    at_audit: Any = None  # a test's async (subject, op, target, outcome) -> None
    _autotune_tasks: dict[int, asyncio.Task[None]]
    _autotune_loop: asyncio.Task[None] | None = None

    if TYPE_CHECKING:  # what TuneService supplies
        _db: Any
        _queue: Any
        deps: Any

        def _holds(self, caller: Principal, action: str, scope: str) -> bool: ...

    # -- lifecycle (called from TuneService.start / stop) ---------------------------------------
    async def _autotune_start(self) -> None:
        if self.at_store is None and self._db is not None:
            self.at_store = AutotuneStore(self._db)
        if self.at_knobs is None:
            self.at_knobs = default_knobs(self._queue)
        self._autotune_tasks = {}
        if self.at_store is None:
            return
        self._recover_again = False
        try:
            await self._autotune_recover()
        except Exception:  # the tick tries again; the changes stay `measuring` (listed) meanwhile
            log.warning("restoring changes left measuring failed", exc_info=True)
            self._recover_again = True
        self._autotune_loop = periodic(self.config.autotune_interval_s, self._autotune_tick,
                                       what="auto-tuning", log=log)

    async def _autotune_stop(self) -> None:
        await stop_task(self._autotune_loop)
        self._autotune_loop = None
        tasks = list(getattr(self, "_autotune_tasks", {}).values())
        for task in tasks:  # each sets its old value again and records the interruption
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if isinstance(self.at_store, AutotuneStore):  # its pool is TuneService's, closed after this
            self.at_store = None

    async def _autotune_recover(self) -> None:
        """Changes left ``measuring`` by a process that died: old value set again, rolled back."""
        for change in await self._at_changes().measuring():
            if change["id"] in self._autotune_tasks:
                continue
            knob = (self.at_knobs or {}).get(change["knob"])
            if knob is None:  # a knob no longer offered: nothing could be set back
                await self._at_changes().finish(change["id"], FAILED, None, None,
                                             "interrupted: aria_tune stopped while measuring, and the knob is "
                                             "no longer offered: the old value was not set again")
                continue
            try:
                await knob.write(change["target"], change["old_value"])
            except Exception as exc:  # the service unreachable now: left measuring, tried again later
                log.warning("change %s not set back yet: %s", change["id"], brief(exc))
                self._recover_again = True
                continue
            await self._at_audit(AUTOMATIC, "tune.autotune.rollback", _what(change, back=True), "ok", required=False)
            await self._at_changes().finish(change["id"], ROLLED_BACK, None, None,
                                         "interrupted: aria_tune stopped while measuring; the old value was "
                                         "set again at its next start")

    # -- helpers -----------------------------------------------------------------------------------
    def _at_changes(self) -> ChangeStore:
        if self.at_store is None:
            raise ServiceUnavailable("aria_tune has no database here (aria_data is not a dependency)",
                                     service="aria_data")
        return self.at_store

    def _at_knob(self, name: Any) -> Knob:
        name = _text(name, "knob", 64)
        knob = (self.at_knobs or {}).get(name)  # type: ignore[arg-type]
        if knob is None:
            raise UnknownKnob(f"no knob {name!r}; knobs: {sorted(self.at_knobs or {})}", knob=name)
        if name not in self.config.autotune_knobs:
            raise BadRequest(f"knob {name!r} is not in [tune] autotune_knobs {self.config.autotune_knobs}",
                             field="knob")
        return knob

    def _at_limits(self, knob: Knob) -> Limits:
        over = self.config.autotune_limits.get(knob.name, {})
        return Limits(low=over.get("min", knob.limits.low), high=over.get("max", knob.limits.high),
                      max_step=over.get("max_step", knob.limits.max_step))

    def _at_system_change(self, caller: Principal, action: str) -> None:
        if caller.tenant and not self._holds(caller, action, "any"):
            raise Forbidden(f"a knob is the whole system's: {action} needs a tenant-less account or the "
                            "right @any", action=action)

    async def _at_audit(self, subject: str, op: str, target: str, outcome: str = "ok", *,
                     required: bool = True) -> None:
        """Record ``op`` in aria_security's audit log. A required record that cannot be written
        stops the operation (503); others are best effort."""
        event = {"op": op, "target": target[:300], "outcome": outcome, "subject": subject[:120]}
        try:
            if self.at_audit is not None:
                await self.at_audit(**event)
            elif self.deps.get("aria_security") is not None:
                from aria_actors.security.client import SecurityClient  # only where aria_security runs

                await self.deps.of(SecurityClient).record_events(Principal.internal("aria_tune"), [event])
            else:
                raise LookupError("aria_security is not a dependency here")
        except Exception as exc:
            if not required:
                log.warning("cannot audit %s %s: %s", op, target, brief(exc))
                return
            raise ServiceUnavailable(f"{op} was not done: aria_security did not record it in the audit log "
                                     f"({type(exc).__name__})", service="aria_security") from None

    # -- the RPCs ----------------------------------------------------------------------------------
    @rpc("tune:autotune:read", scope="any", feature="auto-tuning")
    async def autotune_knobs(self, caller: Principal) -> dict[str, Any]:
        """The knobs, their limits and their targets' values now (whether a raise may help), and the
        auto-tuner's settings."""
        c = self.config
        out = []
        for name, knob in sorted((self.at_knobs or {}).items()):
            try:
                targets: list[dict[str, Any]] | None = await knob.targets()
                error = None
            except Exception as exc:  # one knob's service down: the others still answer
                targets, error = None, brief(exc)
            out.append({"name": name, "description": knob.description, "allowed": name in c.autotune_knobs,
                        "limits": self._at_limits(knob).to_dict(), "targets": targets, "error": error})
        return {"auto": c.autotune_auto, "auto_targets": c.autotune_targets, "interval_s": c.autotune_interval_s,
                "window_s": c.autotune_window_s, "settle_s": c.autotune_settle_s,
                "min_improvement": c.autotune_min_improvement, "wait_slack": c.autotune_wait_slack,
                "cooldown_s": c.autotune_cooldown_s, "knobs": out}

    @rpc("tune:autotune:write", scope="any", feature="auto-tuning")
    async def autotune_propose(self, caller: Principal, knob: str, target: str, value: int,
                             reason: str | None = None) -> dict[str, Any]:
        """Propose setting ``knob`` of ``target`` to ``value`` (within the knob's limits); nothing
        changes until ``autotune_apply``."""
        self._at_system_change(caller, "tune:autotune:write")
        found = self._at_knob(knob)
        target = _text(target, "target", 255)  # type: ignore[assignment]
        reason = _text(reason, "reason", 1000, optional=True)
        current = await found.read(target)
        value = check_value(current, value, self._at_limits(found))
        return await self._at_create(found.name, target, current, value, "operator", reason, caller.subject)

    async def _at_create(self, knob: str, target: str, old: int, new: int, source: str, reason: str | None,
                      by: str) -> dict[str, Any]:
        made = await self._at_changes().create({"knob": knob, "target": target, "old_value": old, "new_value": new,
                                             "source": source, "reason": reason, "proposed_by": by})
        if made is None:
            open_ = await self._at_changes().open_change(knob, target)
            raise ChangeConflict(f"change {open_ and open_['id']} of {knob} on {target!r} is open "
                                 f"({open_ and open_['status']}); wait for it or reject it",
                                 knob=knob, target=target, open_change=open_ and open_["id"])
        return made

    @rpc("tune:autotune:write", scope="any", feature="auto-tuning")
    async def autotune_scan(self, caller: Principal) -> dict[str, Any]:
        """Look at every allowed knob's targets now and propose a raise where jobs wait and every
        slot is busy. The proposals wait for ``autotune_apply``."""
        self._at_system_change(caller, "tune:autotune:write")
        made, skipped = await self._at_scan("scan", caller.subject, None, 0.0)
        return {"proposed": made, "skipped": skipped}

    async def _at_scan(self, source: str, by: str, patterns: list[str] | None,
                    cooldown_s: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        store = self._at_changes()
        made: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        for name, knob in sorted((self.at_knobs or {}).items()):
            if name not in self.config.autotune_knobs:
                continue
            limits = self._at_limits(knob)
            for t in await knob.targets():
                target = t["target"]
                if not t.get("saturated") or (patterns is not None
                                              and not any(fnmatch.fnmatchcase(target, p) for p in patterns)):
                    continue
                why = None
                open_ = await store.open_change(name, target)
                since = await store.since_decided(name, target) if cooldown_s else None
                new = proposed_value(int(t["value"]), limits)
                if open_ is not None:
                    if source == "auto" and open_["source"] == "auto" and open_["status"] == PROPOSED:
                        made.append(open_)  # the loop's own proposal, never started (a crash): start it
                        continue
                    why = f"change {open_['id']} is open ({open_['status']})"
                elif since is not None and since < cooldown_s:
                    why = f"a change was decided {since:.0f} s ago (cooldown {cooldown_s:g} s)"
                elif new is None:
                    why = f"at its limit ({t['value']}, max {limits.high})"
                if why is not None:
                    skipped.append({"knob": name, "target": target, "why": why})
                    continue
                reason = (f"saturated: {t.get('waiting')} jobs waiting, {t.get('executing')} running on "
                          f"{t.get('executors')} executor(s) at concurrency {t['value']}")
                with contextlib.suppress(ChangeConflict):  # proposed by someone else meanwhile
                    made.append(await self._at_create(name, target, int(t["value"]), new, source, reason, by))
        return made, skipped

    @rpc("tune:autotune:list", scope="any", feature="auto-tuning")
    async def autotune_changes(self, caller: Principal, knob: str | None = None, target: str | None = None,
                           status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Changes newest first: proposals, measurements and decisions (``status`` filters)."""
        if status is not None and status not in STATUSES:
            raise BadRequest(f"status must be one of {list(STATUSES)}", field="status")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise BadRequest(f"limit must be an integer from 1 to {MAX_LIST}", field="limit")
        return await self._at_changes().changes(_text(knob, "knob", 64, True), _text(target, "target", 255, True),
                                             status, limit)

    @rpc("tune:autotune:read", scope="any", feature="auto-tuning")
    async def autotune_change(self, caller: Principal, change_id: int) -> dict[str, Any]:
        """One change with its measurements and decision."""
        change_id = _change_id(change_id)
        got = await self._at_changes().get(change_id)
        if got is None:
            raise UnknownChange(f"no change {change_id}", change_id=change_id)
        return got

    @rpc("tune:autotune:apply", scope="any", feature="auto-tuning")
    async def autotune_apply(self, caller: Principal, change_id: int) -> dict[str, Any]:
        """Apply a proposal (audited as the caller): it is measured before and after, in the
        background, then kept or rolled back; ``autotune_change`` follows it."""
        self._at_system_change(caller, "tune:autotune:apply")
        change = await self.autotune_change(caller, change_id)
        if change["status"] != PROPOSED:
            raise ChangeConflict(f"change {change['id']} is {change['status']}, not proposed",
                                 change_id=change["id"], status=change["status"])
        return await self._at_apply(change, caller.subject)

    async def _at_apply(self, change: dict[str, Any], approver: str) -> dict[str, Any]:
        knob = self._at_knob(change["knob"])
        current = await knob.read(change["target"])
        if current != change["old_value"]:
            raise ChangeConflict(f"{change['target']} is at {current} now, not the proposal's {change['old_value']}: "
                                 "reject it and propose again", change_id=change["id"], current=current)
        check_value(current, change["new_value"], self._at_limits(knob))  # the limits may be narrower now
        await self._at_audit(approver, "tune.autotune.apply", _what(change))
        started = await self._at_changes().start(change["id"], approver)
        if started is None:
            raise ChangeConflict(f"change {change['id']} is being applied already", change_id=change["id"])
        task = asyncio.get_running_loop().create_task(self._at_measure(started, knob))
        self._autotune_tasks[started["id"]] = task
        task.add_done_callback(lambda _t, i=started["id"]: self._autotune_tasks.pop(i, None))
        return started

    async def _at_measure(self, change: dict[str, Any], knob: Knob) -> None:
        """Window before, set, settle, window after, decide; restore the old value unless kept."""
        c, store, target = self.config, self._at_changes(), change["target"]
        who = change["approved_by"] or AUTOMATIC
        before: dict[str, Any] | None = None
        after: dict[str, Any] | None = None
        applied = False
        try:
            first = await knob.sample(target)
            await asyncio.sleep(c.autotune_window_s)
            before = measure(first, await knob.sample(target))
            await store.measured_before(change["id"], before)
            if before["valid"] and before["completed"] == 0 and before["waiting"] == 0:
                await store.finish(change["id"], REJECTED, before, None,
                                   "no workload in the before window (nothing completed, nothing waiting): "
                                   "nothing to measure a change by; the value was not changed")
                return
            await self._at_audit(who, "tune.autotune.set", _what(change))
            applied = True  # from here a failure or a stop restores the old value
            await knob.write(target, change["new_value"])
            await asyncio.sleep(c.autotune_settle_s)
            first = await knob.sample(target)
            await asyncio.sleep(c.autotune_window_s)
            after = measure(first, await knob.sample(target))
            decision, why = decide(before, after, c.autotune_min_improvement, c.autotune_wait_slack)
            if decision != KEPT:
                await knob.write(target, change["old_value"])
                await self._at_audit(who, "tune.autotune.rollback", _what(change, back=True), required=False)
            await store.finish(change["id"], decision, before, after, why)
            log.info("change %s (%s): %s", change["id"], _what(change), why)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                if applied:
                    await asyncio.wait_for(knob.write(target, change["old_value"]), RESTORE_TIMEOUT_S)
                await asyncio.wait_for(store.finish(change["id"], ROLLED_BACK, before, after,
                                                    "interrupted: aria_tune stopped while measuring; the old "
                                                    "value was set again"), RESTORE_TIMEOUT_S)
            raise
        except Exception as exc:
            restored = not applied
            if applied:
                try:
                    await knob.write(target, change["old_value"])
                    restored = True
                except Exception:
                    log.exception("restoring %s failed", _what(change, back=True))
            said = "the old value is in place" if restored else "the old value could NOT be set again: set it by hand"
            log.warning("change %s failed: %s", change["id"], brief(exc))
            with contextlib.suppress(Exception):
                await store.finish(change["id"], FAILED, before, after, f"{brief(exc)}; {said}")

    @rpc("tune:autotune:apply", scope="any", feature="auto-tuning")
    async def autotune_reject(self, caller: Principal, change_id: int, reason: str | None = None) -> dict[str, Any]:
        """Drop a proposal (nothing is changed); recorded with who rejected it."""
        self._at_system_change(caller, "tune:autotune:apply")
        change = await self.autotune_change(caller, change_id)
        got = await self._at_changes().reject(change["id"], caller.subject, _text(reason, "reason", 1000, True))
        if got is None:
            raise ChangeConflict(f"change {change['id']} is {change['status']}, not proposed",
                                 change_id=change["id"], status=change["status"])
        return got

    # -- the automatic loop --------------------------------------------------------------------------
    async def _autotune_tick(self) -> None:
        """Set back what an earlier process left measuring (until it could), then, in the automatic
        mode, one cycle."""
        if getattr(self, "_recover_again", False):
            self._recover_again = False
            try:
                await self._autotune_recover()
            except Exception:
                self._recover_again = True
                raise
        if self.config.autotune_auto:
            await self.autotune_cycle()

    async def autotune_cycle(self) -> list[int]:
        """One turn of the automatic mode: when no change is being measured, propose for the
        saturated targets ``autotune_targets`` names and apply the first. The ids started."""
        if self._autotune_tasks:
            return []
        made, _ = await self._at_scan("auto", AUTOMATIC, list(self.config.autotune_targets),
                                   self.config.autotune_cooldown_s)
        for change in made:
            try:
                return [(await self._at_apply(change, AUTOMATIC))["id"]]
            except (ChangeConflict, BadRequest) as exc:  # moved meanwhile, or the limits narrowed
                await self._at_changes().reject(change["id"], AUTOMATIC, f"not applied: {exc.message}")
        return []


def _what(change: dict[str, Any], back: bool = False) -> str:
    old, new = change["old_value"], change["new_value"]
    if back:
        old, new = new, old
    return f"change {change['id']}: {change['knob']} {change['target']} {old} -> {new}"
