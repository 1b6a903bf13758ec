"""Generation through Ray Serve: one application of :class:`ShapeInference` per model version.

::

    ShapeService (actor, one event loop)
      ServeBackend.complete(version, prompts)
        first use of version -> serve.run_many(aria_shape_inference_<version>)   (in a thread)
                                wait until the application runs (or fails: ModelLoadError)
        seed None -> prompts of calls arriving within inference_coalesce_s (5 ms) go out as one
                     handle.complete_many.remote(prompts)   (batched in the replica with others)
        seed set  -> handle.run.remote(prompts, seed)       (its own sampling call)
      ServeBackend.stream(...)  -> handle.options(stream=True).stream.remote(...)  (async pieces)
      ServeBackend.remove(v)    -> serve.delete(application of v)
      ServeBackend.close()      -> serve.delete(every application of aria_shape)

Replicas autoscale between ``inference_min_replicas`` (default 0: nothing runs until the first
request, and a version idle for ``inference_idle_s`` goes back to zero) and
``inference_max_replicas``. A version deployed on first use starts with one replica, since a
request is waiting for it.

Guarantees and caveats
----------------------
- Coalescing costs a lone request up to ``inference_coalesce_s`` of latency and saves Serve's
  per-request work for every request that shares a Serve request (measured: ``docs/shape.md``).
- Deployments happen off the event loop (Serve's control calls block), one per version at a time;
  concurrent first requests of a version share one deployment.
- Handles are created in a worker thread but first used on the caller's loop (the actor's): in
  Serve's throughput mode a handle routes on the loop that first used it, and the actor's loop
  lives as long as the actor.
- The first request after boot or after scale-to-zero waits for a replica and its engine (a
  Python + torch start and the model load; building the tiny model the first time on a machine).
- A running application of a version that this backend has not deployed yet (an earlier actor
  died without ``stop``) is taken over as it is, with the replicas it has: a model path changed
  in the meantime takes effect after ``stop`` (``aria down``) or a new version id.
- Application names are cluster-wide in Serve: two Arias sharing one Ray cluster would share
  ``aria_shape_inference_*``. ``close`` deletes every application with that prefix (also those an
  earlier actor of this service left behind), and so does the first deploy of a new backend for
  those of versions it does not have (``base`` is always one it has).
- Model paths are read by the replica: on a multi-node cluster they must be on storage every
  node sees (the tiny model is rebuilt where missing; it is deterministic).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aria_actors.runtime.errors import brief
from aria_actors.shape.config import ShapeConfig
from aria_actors.shape.errors import ModelLoadError
from aria_actors.shape.inference.batching import settle
from aria_actors.shape.inference.contract import Completion, VersionBook
from aria_actors.shape.source import ModelSource

PREFIX = "aria_shape_inference_"


def app_name(version: str) -> str:
    """Serve application name of a model version (safe characters; a hash when it had to change)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", version)[:80]
    if slug != version:
        slug += "-" + hashlib.blake2b(version.encode(), digest_size=3).hexdigest()
    return PREFIX + slug


@dataclass
class _Pending:
    """Prompts of concurrent requests waiting to go to a replica as one Serve request."""

    prompts: list[str] = field(default_factory=list)
    futures: list[asyncio.Future[tuple[str, int]]] = field(default_factory=list)


@dataclass
class _App:
    name: str
    handle: Any
    source: ModelSource


class ServeBackend(VersionBook):
    """Model versions as Serve applications, reached by DeploymentHandle."""

    kind = "serve"
    where = "served here"

    def __init__(self, config: ShapeConfig, settings: Any) -> None:
        super().__init__(config.load_retry_s)
        self.config, self.settings = config, settings
        self._apps: dict[str, _App] = {}
        self._deploying: dict[str, asyncio.Future[Any]] = {}
        self._pending: dict[tuple[str, int, int], _Pending] = {}
        self._deployed: set[str] = set()  # versions this backend deployed (or took over) once
        self._pruned = False  # leftovers of an earlier actor deleted (at the first deploy)
        self._sending: set[asyncio.Task[None]] = set()

    def _drop_built(self, version: str) -> None:
        self._apps.pop(version, None)  # redeployed (updated in place) with the new source on next use

    # -- deployment ---------------------------------------------------------------------------
    def _deploy_blocking(self, name: str, source: ModelSource, version: str) -> Any:
        from ray import serve  # ray: this module runs outside Ray too (backends, tests); only deploying needs Ray Serve

        from aria_actors.runtime.shell import ensure_serve, serve_controller_exists
        from aria_actors.shape.inference.backends.deployment import application

        if not serve_controller_exists():
            ensure_serve(self.settings)
        elif version not in self._deployed:
            applications = serve.status().applications
            if not self._pruned:
                self._prune(applications)
            existing = applications.get(name)
            if existing is not None and existing.status == "RUNNING":
                # Left by an earlier actor of this service (it died without stop): take its warm
                # replicas over rather than replace them.
                self._deployed.add(version)
                return serve.get_app_handle(name)
        self._deployed.add(version)
        cfg = self.config
        app = application(source, version=version, max_new_tokens=cfg.max_new_tokens,
                          max_batch_size=cfg.inference_max_batch_size,
                          batch_wait_timeout_s=cfg.inference_batch_wait_s, replicas=None,
                          min_replicas=cfg.inference_min_replicas, max_replicas=cfg.inference_max_replicas,
                          initial_replicas=max(1, cfg.inference_min_replicas), idle_s=cfg.inference_idle_s,
                          num_cpus=cfg.inference_num_cpus)
        [handle] = serve.run_many([serve.RunTarget(target=app, name=name, route_prefix=None)],
                                  wait_for_ingress_deployment_creation=False,
                                  wait_for_applications_running=False)
        return handle

    def _prune(self, applications: dict[str, Any]) -> None:
        """Once, at this backend's first deploy: delete the applications an earlier actor of this
        service left for versions it does not serve now (it died between storing a promotion and
        deleting the losers). Not waited for (Serve's private ``_blocking``; Ray is pinned): the
        first request should not wait on other replicas' shutdown."""
        from ray import serve  # ray: as in _deploy_blocking

        self._pruned = True
        keep = {app_name(v) for v in self._sources}
        for name in sorted(applications):
            if name.startswith(PREFIX) and name not in keep:
                serve.delete(name, _blocking=False)

    def _wait_running(self, name: str, source: ModelSource, timeout_s: float) -> None:
        from ray import serve  # ray: as in _deploy_blocking

        deadline = time.monotonic() + timeout_s
        while True:
            app = serve.status().applications.get(name)
            if app is not None and app.status == "RUNNING":
                return
            if app is not None and app.status in ("DEPLOY_FAILED", "UNHEALTHY"):
                raise ModelLoadError(f"model server {name} failed: {_app_message(app)}", path=source.label)
            if time.monotonic() > deadline:
                raise ModelLoadError(f"model server {name} not running after {timeout_s:.0f}s "
                                     f"({_app_message(app) if app else 'not deployed'})", path=source.label)
            time.sleep(0.25)

    async def _deploy(self, version: str) -> _App:
        source = self._source(version)
        name = app_name(version)
        try:
            handle = await asyncio.to_thread(self._deploy_blocking, name, source, version)
            await asyncio.to_thread(self._wait_running, name, source, self.settings.start_timeout_s)
        except ModelLoadError as exc:
            self._fail(version, exc.message)
            raise
        except Exception as exc:  # Serve refused the application: typed, and kept for health()
            self._fail(version, f"{type(exc).__name__}: {brief(exc)}")
            raise ModelLoadError(f"cannot deploy model version {version!r}: {brief(exc)}",
                                 path=source.label) from None
        self._clear_error(version)
        app = _App(name, handle, source)
        if self._sources.get(version) == source:
            self._apps[version] = app
        return app

    async def _app(self, version: str) -> _App:
        app = self._apps.get(version)
        if app is not None:
            return app
        fut = self._deploying.get(version)
        if fut is None:
            self._refuse_if_failed(version)
            fut = asyncio.ensure_future(self._deploy(version))
            self._deploying[version] = fut
            fut.add_done_callback(lambda _f: self._deploying.pop(version, None))
        return await asyncio.shield(fut)

    async def ensure(self, version: str) -> dict[str, Any]:
        app = await self._app(version)
        stats = await app.handle.stats.remote()
        return {"parameters": stats["parameters"], "application": app.name, "engine_pid": stats["engine_pid"]}

    # -- calls --------------------------------------------------------------------------------
    async def complete(self, version: str, prompts: list[str], *, max_new_tokens: int,
                       min_new_tokens: int = 0, seed: int | None = None) -> list[Completion]:
        app = await self._app(version)
        if seed is not None:  # its own sampling call: reproducible
            out = await app.handle.run.remote(prompts, max_new_tokens, min_new_tokens, seed)
            return [Completion(t, n, version) for t, n in zip(out["texts"], out["tokens"], strict=True)]
        if self.config.inference_coalesce_s <= 0:  # one Serve request per prompt
            outs = await asyncio.gather(*[app.handle.complete.remote(p, max_new_tokens, min_new_tokens)
                                          for p in prompts])
            return [Completion(o["text"], o["tokens"], version) for o in outs]
        # Serve's per-request cost (~1.3 ms of CPU) is paid per request, the model's per batch:
        # prompts of concurrent calls go out together, and the replica batches them with the rest.
        loop = asyncio.get_running_loop()
        key = (version, max_new_tokens, min_new_tokens)
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending()
            loop.call_later(self.config.inference_coalesce_s, self._flush, key, pending, app)
        futures = [loop.create_future() for _ in prompts]
        pending.prompts += prompts
        pending.futures += futures
        if len(pending.prompts) >= self.config.inference_max_batch_size:
            self._flush(key, pending, app)
        return [Completion(t, n, version) for t, n in await asyncio.gather(*futures)]

    def _flush(self, key: tuple[str, int, int], pending: _Pending, app: _App) -> None:
        if self._pending.get(key) is not pending:  # already sent (it filled a batch)
            return
        del self._pending[key]
        task = asyncio.ensure_future(self._send(key, pending, app))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, key: tuple[str, int, int], pending: _Pending, app: _App) -> None:
        try:
            outs = [tuple(o) for o in await app.handle.complete_many.remote(pending.prompts, key[1], key[2])]
        except Exception as exc:  # every caller of this request gets the error
            settle(pending.futures, exc)
            return
        settle(pending.futures, outs)

    async def embed(self, version: str, texts: list[str]) -> list[list[float]]:
        return await (await self._app(version)).handle.embed.remote(texts)

    async def stream(self, version: str, prompt: str, *, max_new_tokens: int,
                     seed: int | None = None) -> AsyncIterator[str]:
        handle = (await self._app(version)).handle
        async for piece in handle.options(stream=True).stream.remote(prompt, max_new_tokens, seed):
            yield piece

    # -- lifecycle ----------------------------------------------------------------------------
    async def remove(self, version: str) -> None:
        self._forget(version)
        app = self._apps.pop(version, None)
        if app is not None:
            from ray import serve  # ray: as in _deploy_blocking

            await asyncio.to_thread(serve.delete, app.name)

    def _statuses(self) -> dict[str, Any]:
        from ray import serve  # ray: as in _deploy_blocking

        return dict(serve.status().applications)

    async def states(self, timeout_s: float) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        statuses: dict[str, Any] = {}
        status_error = None
        if self._apps:  # no Serve call while nothing is deployed (every health round at boot)
            try:
                statuses = await asyncio.wait_for(asyncio.to_thread(self._statuses), timeout_s)
            except Exception as exc:  # reported per version below
                status_error = f"{type(exc).__name__}: {brief(exc)}"
        for version, source in sorted(self._sources.items()):
            entry: dict[str, Any] = {"model": source.label, "application": app_name(version)}
            app = self._apps.get(version)
            if version in self._errors:
                entry.update(state="error", error=self._errors[version])
            elif version in self._deploying:
                entry["state"] = "deploying"
            elif app is None:
                entry["state"] = "not deployed"
            elif status_error is not None:
                entry.update(state="unknown", error=status_error)
            else:
                entry.update(_app_state(statuses.get(app.name)))
            out[version] = entry
        return out

    async def close(self) -> None:
        """Delete every application of this service (also those an earlier actor left)."""
        names = {app.name for app in self._apps.values()}
        self._apps.clear()
        # ray: runtime.shell imports Ray, as in _deploy_blocking
        from aria_actors.runtime.shell import serve_controller_exists

        if not names and not await asyncio.to_thread(serve_controller_exists):
            return

        def delete() -> None:
            from ray import serve  # ray: as in _deploy_blocking

            try:
                names.update(n for n in serve.status().applications if n.startswith(PREFIX))
            except Exception:  # Serve already gone: nothing left to delete
                return
            for name in sorted(names):
                serve.delete(name)

        await asyncio.to_thread(delete)


def _app_message(app: Any) -> str:
    parts = [app.message] if app.message else []
    parts += [f"{d}: {s.message}" for d, s in app.deployments.items() if s.message]
    return "; ".join(parts) or str(app.status)


def _app_state(app: Any) -> dict[str, Any]:
    """``not deployed`` / ``deploying`` / ``scaled to zero`` / ``running`` (n replicas) / ``error``."""
    if app is None:
        return {"state": "not deployed"}
    if app.status in ("DEPLOY_FAILED", "UNHEALTHY"):
        return {"state": "error", "error": _app_message(app)}
    replicas = sum(s.replica_states.get("RUNNING", 0) for s in app.deployments.values())
    if app.status == "RUNNING" and replicas == 0:
        return {"state": "scaled to zero", "replicas": 0}
    return {"state": "running" if app.status == "RUNNING" else str(app.status).lower(), "replicas": replicas}
