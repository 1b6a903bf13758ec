"""The root boot actor ``aria_boot``: starts the fourteen services and supervises them.

A thin Ray shell around :class:`~aria_actors.runtime.supervisor.Supervisor`. It is detached and
named, so the CLI, the gateway and ``ray job submit`` drivers all reach the same one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Sequence
from typing import Any

import ray
from ray.experimental.internal_kv import _internal_kv_del, _internal_kv_get, _internal_kv_put

from aria_actors.runtime import placement
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.shell import RayLauncher, is_dead
from aria_actors.runtime.spec import ServiceSpec
from aria_actors.runtime.supervisor import Supervisor, SupervisorOptions

BOOT_ACTOR = "aria_boot"
log = logging.getLogger("aria.boot")


def supervisor_options(settings: AriaSettings) -> SupervisorOptions:
    return SupervisorOptions(
        health_interval_s=settings.health_interval_s,
        health_timeout_s=settings.health_timeout_s,
        start_timeout_s=settings.start_timeout_s,
        restart_backoff_s=settings.restart_backoff_s,
        restart_backoff_max_s=settings.restart_backoff_max_s,
    )


class BootActor:
    def __init__(self, settings: AriaSettings, specs: Sequence[ServiceSpec] | None = None) -> None:
        logging.basicConfig(level=settings.log_level)
        self.settings = settings
        self.launcher = RayLauncher(settings)
        self.supervisor = Supervisor(
            specs if specs is not None else all_specs(),
            self.launcher, supervisor_options(settings), is_dead=is_dead,
        )
        self._boot: asyncio.Task[Any] | None = None
        self._loop: asyncio.Task[None] | None = None
        context = ray.get_runtime_context()
        self.reconstructed = context.was_current_actor_reconstructed
        self.name = context.get_actor_name() or BOOT_ACTOR
        self._saved_history: str | None = None  # what the GCS holds, as last written
        if self.reconstructed:
            # Ray restarted this actor after a crash: take over the services that still run
            # (their state lives in them and in the stores) and supervise them again.
            self.launcher.adopt_existing = True
            self._boot = asyncio.get_event_loop().create_task(self._boot_then_watch())

    async def up(self, wait: bool = False) -> dict[str, Any]:
        """Start the boot in the background (idempotent); with ``wait``, return once it settled."""
        if self._boot is None:
            self._boot = asyncio.ensure_future(self._boot_then_watch())
        if wait:
            await asyncio.shield(self._boot)
        return self.supervisor.status()

    async def _boot_then_watch(self) -> None:
        if any(s.kind == "deployment" for s in self.supervisor.specs.values()):
            # Serve's controller and proxy take seconds to start: overlap that with the boot.
            self._serve_warmup = asyncio.ensure_future(self.launcher.ensure_serve())
            self._serve_warmup.add_done_callback(_log_failure)
        past = self._load_history() if self.reconstructed else {}
        self.supervisor.remember(past)  # restarts and last errors survive a rebuilt boot actor
        try:
            await self.supervisor.boot()
        except Exception:  # supervise whatever did start rather than nothing at all
            log.exception("boot failed")
            self.supervisor.phase = "running"
        self.supervisor.remember(past, times_of=self.launcher.adopted)  # and adopted units' uptime
        if self.reconstructed:  # what died with the old boot actor (on a lost node) was restarted
            replaced = self.supervisor.count_replaced(past, self.launcher.adopted)
            if replaced:
                log.warning("rebuilt boot actor started again: %s", ", ".join(replaced))
        self.launcher.adopt_existing = False
        self._save_history()
        self._loop = asyncio.ensure_future(self._health_loop())

    # The supervisor's counters live in the GCS's key-value store, which outlives this actor.
    def _history_key(self) -> bytes:
        return f"aria/{self.settings.namespace}/{self.name}/history".encode()

    def _load_history(self) -> dict[str, Any]:
        try:
            raw = _internal_kv_get(self._history_key())
            return json.loads(raw) if raw else {}
        except Exception:  # a lost history costs counters, never the boot
            log.exception("reading the supervisor history failed")
            return {}

    def _save_history(self) -> None:
        history = json.dumps(self.supervisor.history(), sort_keys=True)
        if history == self._saved_history:  # most health rounds change nothing: no GCS write
            return
        try:
            _internal_kv_put(self._history_key(), history, overwrite=True)
            self._saved_history = history
        except Exception:
            log.exception("saving the supervisor history failed")

    def _forget_history(self) -> None:
        try:
            _internal_kv_del(self._history_key())  # a later `aria up` starts with fresh counters
            self._saved_history = None
        except Exception:  # stale counters must not stop `aria down`
            log.exception("removing the supervisor history failed")

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.health_interval_s)
            try:
                await self.supervisor.check_once()
            except Exception:  # the loop must outlive any one bad round
                log.exception("health round failed")
            self._save_history()

    async def check_now(self) -> dict[str, Any]:
        """Run one health round immediately (tests and `aria status --probe` trigger instead of sleeping)."""
        await self.supervisor.check_once()
        self._save_history()
        return self.supervisor.status()

    def status(self) -> dict[str, Any]:
        return {**self.supervisor.status(),
                "boot": {"pid": os.getpid(), "reconstructed": self.reconstructed}}

    def service(self, name: str) -> dict[str, Any]:
        return self.supervisor.service(name)

    async def restart(self, name: str) -> dict[str, Any]:
        status = await self.supervisor.restart(name)
        self._save_history()
        return status

    async def down(self) -> dict[str, Any]:
        """Stop every service in reverse order, then Serve; the actor itself is killed by the caller."""
        for task in (self._loop, self._boot):
            if task is not None:
                task.cancel()
        status = await self.supervisor.shutdown()
        self._forget_history()
        # Serve itself only goes with a cluster Aria owns; on a shared one (ARIA_RAY_ADDRESS) the
        # shutdown above already deleted Aria's own applications and nothing else.
        if not self.settings.ray_address and any(s.kind == "deployment" for s in self.supervisor.specs.values()):
            # heavy: ray.serve costs ~1 CPU-s to import; the boot actor loads it only to stop Serve
            from ray import serve

            await asyncio.to_thread(serve.shutdown)
        return status

    def endpoints(self) -> dict[str, str]:
        """Where users reach this Aria; how code inside the cluster (Ray jobs) finds the gateway."""
        s = self.settings
        return {"gateway_url": s.gateway_url, "dashboard_url": f"http://{s.dashboard_host}:{s.dashboard_port}",
                "namespace": s.namespace}

    def ping(self) -> str:
        return "pong"


def _log_failure(fut: asyncio.Future[Any]) -> None:
    # A failed warm-up is not fatal: the first deployment starts Serve itself and reports why.
    if not fut.cancelled() and fut.exception() is not None:
        log.warning("starting Serve early failed: %s", fut.exception())


def get_or_create_boot(settings: AriaSettings, specs: Sequence[ServiceSpec] | None = None,
                       name: str = BOOT_ACTOR) -> Any:
    """The detached boot actor of this namespace, created if it does not exist yet."""
    return ray.remote(BootActor).options(
        name=name, namespace=settings.namespace, lifetime="detached", get_if_exists=True,
        num_cpus=0, max_concurrency=1000, max_restarts=-1,
        **placement.options_for(settings.placement, placement.BOOT),
    ).remote(settings, specs)


def find_boot(settings: AriaSettings, name: str = BOOT_ACTOR) -> Any | None:
    try:
        return ray.get_actor(name, namespace=settings.namespace)
    except ValueError:
        return None
