"""aria_debugger's hot reload and live dependency graph: the supervisor's view and its restart.

A mixin of :class:`~aria_actors.debugger.service.DebuggerService`; both go through
``Deps.supervisor`` (the boot actor's ``status`` and ``restart``, opened by the shell for
aria_debugger only: runtime/reload.py).

``reload(service)``::

    audit (debugger.reload) ─► inspect door: old pid, code digest ─► supervisor.restart(service):
    the actor is killed and a new one made, a new process importing the code from disk, started
    on its dependencies, until ready ─► inspect door: new pid, code digest ─► answer

Guarantees and caveats:
- The other services keep running: only the named one is replaced (its dependents see it down
  for the restart and are told when it is back, as after a crash). Requests to it meanwhile get
  503. A Serve deployment (aria_interface) is deleted and deployed again.
- Refused (409): aria_debugger itself (the restart would kill the process answering) and
  aria_coordinate (the gateway: the caller's own request goes through it); restart those with
  ``aria restart``. One reload per service at a time (409). Administrators only
  (``debugger:reload:run@any``), audited before it runs (nothing done without the event: 503).
- ``code_changed`` compares the package digests the old and the new process computed when they
  imported it (runtime/reload.py): sources edited on disk since the old process started show as a
  change; code outside the service's package (the runtime, libraries) is not in the digest.
- The graph (``debugger:graph:read@any``: administrators and operators) is the supervisor's state
  now (depgraph.py), not a history: aria_monitor's ``/v1/monitor/dependencies`` has that.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from aria_actors.debugger import depgraph
from aria_actors.runtime.errors import AriaError, Conflict, ServiceUnavailable
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.rpc import rpc
from aria_actors.runtime.spec import Status

if TYPE_CHECKING:
    from aria_actors.runtime.service import Deps

# Together inside the gateway's 90 s wait for aria_debugger: a restart, a read before, a read after
# and its retries (60 + 5 + 5 + 3 x (1 + 5) = 88 s at worst).
RESTART_TIMEOUT_S = 60.0
STATUS_TIMEOUT_S = 10.0
INSPECT_TIMEOUT_S = 5.0
AFTER_TRIES = 3
AFTER_PAUSE_S = 1.0
NOT_RELOADABLE = {
    "aria_debugger": "reloading aria_debugger would kill the process answering this request",
    "aria_coordinate": "aria_coordinate is the gateway this request goes through: reloading it cuts the caller off",
}


class ReloadParts:
    """The reload and graph RPCs; the service's helpers do the auditing and door opening."""

    if TYPE_CHECKING:
        deps: Deps

        def _service(self, name: Any) -> str: ...
        async def _audit(self, caller: Principal, op: str, target: str, outcome: str = "ok") -> None: ...
        async def _door(self, service: str, door: str, timeout_s: float, **kwargs: Any) -> Any: ...
        def _one(self, service: str, kind: str) -> contextlib.AbstractContextManager[None]: ...

    async def _supervisor(self, op: str, timeout_s: float, **kwargs: Any) -> Any:
        try:
            return await self.deps.supervisor(op, timeout_s, **kwargs)
        except Exception as exc:
            cause = getattr(exc, "cause", None)  # raised in the boot actor, wrapped by Ray
            if isinstance(cause, AriaError):
                raise cause from None
            if isinstance(exc, AriaError):
                raise
            raise ServiceUnavailable(f"the supervisor's {op} failed: {type(exc).__name__}") from None

    async def _loaded(self, name: str) -> dict[str, Any] | None:
        """pid and code digest of the process running ``name``, None when it does not answer."""
        try:
            got = await self._door(name, "inspect", INSPECT_TIMEOUT_S)
        except AriaError:
            return None
        return {"pid": got.get("pid"), "node_id": got.get("node_id"), "code": got.get("code")}

    @rpc("debugger:reload:run", scope="any", feature="hot-reload")
    async def reload(self, caller: Principal, service: str) -> dict[str, Any]:
        """Restart one service on the code now on disk, the others untouched: old and new pid,
        the package's code digest before and after, whether it changed, and its status."""
        name = self._service(service)
        if name in NOT_RELOADABLE:
            raise Conflict(f"{NOT_RELOADABLE[name]}; use `aria restart {name}`", service=name)
        with self._one(name, "reload"):
            await self._audit(caller, "debugger.reload", name)
            try:
                before = await self._loaded(name)
                began = time.monotonic()
                state = await self._supervisor("restart", RESTART_TIMEOUT_S, name=name)
                seconds = time.monotonic() - began
                after = await self._loaded(name)
                for _ in range(AFTER_TRIES):  # the first read may still reach the old actor's handle
                    if after is not None and after.get("code"):
                        break
                    await asyncio.sleep(AFTER_PAUSE_S)
                    after = await self._loaded(name)
            except Exception:
                await self._audit(caller, "debugger.reload", name, outcome="error")
                raise
        old_code = (before or {}).get("code") or {}
        new_code = (after or {}).get("code") or {}
        status = str(state.get("status", "unknown"))
        try:
            up = Status(status).is_up
        except ValueError:
            up = False
        new_pid = (after or {}).get("pid", state.get("pid"))
        return {"service": name, "old_pid": (before or {}).get("pid"), "new_pid": new_pid,
                "old_code": old_code.get("sha256"), "new_code": new_code.get("sha256"),
                "package": new_code.get("package") or old_code.get("package"),
                "code_changed": (None if not old_code or not new_code
                                 else old_code.get("sha256") != new_code.get("sha256")),
                "status": status, "up": up, "restarts": state.get("restarts"), "seconds": round(seconds, 3),
                "message": state.get("message", "")}

    @rpc("debugger:graph:read", scope="any", feature="dependency-graph")
    async def graph(self, caller: Principal) -> dict[str, Any]:
        """The live service dependency graph: every service (status, pid, node, layer) and each
        depends_on edge with its state (``up`` when the dependency is up), and the same as SVG."""
        supervised = await self._supervisor("status", STATUS_TIMEOUT_S)
        built = depgraph.build(all_specs(), supervised)
        up = sum(1 for n in built["nodes"] if n["up"])
        return {"at": time.time(), **built,
                "svg": depgraph.svg(built, title=f"Aria services: {up} of {len(built['nodes'])} up")}
