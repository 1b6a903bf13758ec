"""Where a model version scores candidates: in this process or on Ray Serve replicas.

::

    InterpretService.score(user, candidates)
        version = TrafficSplit.pick(user) while an A/B test runs, else the served version
        backend.score(version, history, candidates)
            LocalScoring   DinScorer in this process (a worker thread)
            ServeScoring   application aria_interpret_scorer_<version> (deployment.DinScoring),
                           reached by DeploymentHandle, batched on the replica

Guarantees and caveats
----------------------
- ``load`` checks the artifact in this process first (:class:`ModelArtifactError` for a corrupted
  or foreign one) and only then replaces anything: a bad version never displaces a working one,
  so the previous version keeps serving.
- Serve: one application per version, deployed at ``load`` (the first scoring call after a
  restart deploys it when it is not running, or takes a running one over). ``remove`` and
  ``close`` delete applications; ``close`` deletes every ``aria_interpret_scorer_*`` one.
- Serve's control calls block: they run in worker threads, one deployment per version at a time.
- Handles are first used on the caller's loop (the actor's), which lives as long as the actor.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from typing import Any

from aria_actors.interpret.errors import InterpretError, ModelArtifactError, NoModel
from aria_actors.runtime.errors import brief

PREFIX = "aria_interpret_scorer_"


def app_name(version: str) -> str:
    """Serve application name of a version (safe characters; a hash when it had to change)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", version)[:80]
    if slug != version:
        slug += "-" + hashlib.blake2b(version.encode(), digest_size=3).hexdigest()
    return PREFIX + slug


def check_artifact(artifact: bytes) -> Any:
    """The scorer of ``artifact``, or :class:`ModelArtifactError` (never another exception)."""
    # heavy: torch, loaded where a version is scored or checked, not at import
    from aria_actors.interpret.din.artifact import DinScorer

    try:
        return DinScorer.from_bytes(artifact)
    except ModelArtifactError:
        raise
    except Exception as exc:  # a loader bug must not pass as a working version
        raise ModelArtifactError(f"model artifact does not load: {brief(exc)}") from None


class LocalScoring:
    """Scorers in this process."""

    kind = "local"

    def __init__(self, num_threads: int = 1) -> None:
        self.num_threads = num_threads
        self._scorers: dict[str, Any] = {}

    async def load(self, version: str, artifact: bytes) -> None:
        scorer = await asyncio.to_thread(check_artifact, artifact)
        self._scorers[version] = scorer

    def loaded(self, version: str) -> bool:
        return version in self._scorers

    def versions(self) -> list[str]:
        return list(self._scorers)

    def scorer(self, version: str) -> Any:
        try:
            return self._scorers[version]
        except KeyError:
            raise NoModel(f"model version {version!r} is not loaded", version=version) from None

    async def score(self, version: str, history: list[str], candidates: list[str]) -> dict[str, Any]:
        scorer = self.scorer(version)
        return await asyncio.to_thread(scorer.score, history, candidates)

    async def remove(self, version: str) -> None:
        self._scorers.pop(version, None)

    async def states(self) -> dict[str, Any]:
        return {v: {"state": "loaded"} for v in self._scorers}

    async def close(self) -> None:
        self._scorers.clear()


class ServeScoring:
    """One Serve application per version."""

    kind = "serve"

    def __init__(self, config: Any, settings: Any) -> None:
        self.config, self.settings = config, settings
        self._handles: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._lock = asyncio.Lock()

    def _deploy_blocking(self, version: str, artifact: bytes) -> Any:
        from ray import serve  # ray: only deploying needs Ray Serve; the module imports without it

        from aria_actors.interpret.serving.deployment import application
        from aria_actors.runtime.shell import ensure_serve, serve_controller_exists

        if not serve_controller_exists():
            ensure_serve(self.settings)
        cfg = self.config
        app = application(artifact, version=version, num_threads=cfg.num_threads,
                          max_batch_size=cfg.serve_max_batch_size, batch_wait_s=cfg.serve_batch_wait_s,
                          min_replicas=cfg.serve_min_replicas, max_replicas=cfg.serve_max_replicas,
                          num_cpus=cfg.serve_num_cpus)
        [handle] = serve.run_many([serve.RunTarget(target=app, name=app_name(version), route_prefix=None)],
                                  wait_for_ingress_deployment_creation=False,
                                  wait_for_applications_running=False)
        deadline = time.monotonic() + self.settings.start_timeout_s
        while True:
            status = serve.status().applications.get(app_name(version))
            if status is not None and status.status == "RUNNING":
                return handle
            if status is not None and status.status in ("DEPLOY_FAILED", "UNHEALTHY"):
                raise ModelArtifactError(f"scoring replicas of {version!r} failed: {status.message[:500]}",
                                         version=version)
            if time.monotonic() > deadline:
                raise InterpretError(f"scoring replicas of {version!r} not running after "
                                     f"{self.settings.start_timeout_s:.0f}s", version=version)
            time.sleep(0.1)

    async def load(self, version: str, artifact: bytes) -> None:
        await asyncio.to_thread(check_artifact, artifact)  # before anything is replaced
        async with self._lock:
            try:
                handle = await asyncio.to_thread(self._deploy_blocking, version, artifact)
            except InterpretError as exc:
                self._errors[version] = exc.message
                raise
            except Exception as exc:  # Serve refused the application: typed, kept for health()
                self._errors[version] = f"{type(exc).__name__}: {brief(exc)}"
                raise InterpretError(f"cannot deploy model version {version!r}: {brief(exc)}",
                                     version=version) from None
            self._errors.pop(version, None)
            self._handles[version] = handle

    def loaded(self, version: str) -> bool:
        return version in self._handles

    def versions(self) -> list[str]:
        return list(self._handles)

    async def score(self, version: str, history: list[str], candidates: list[str]) -> dict[str, Any]:
        handle = self._handles.get(version)
        if handle is None:
            raise NoModel(f"model version {version!r} is not deployed", version=version)
        return await handle.score.remote(history, candidates)

    async def remove(self, version: str) -> None:
        if self._handles.pop(version, None) is not None:
            from ray import serve  # ray: as in _deploy_blocking

            await asyncio.to_thread(serve.delete, app_name(version), False)

    async def states(self) -> dict[str, Any]:
        out: dict[str, Any] = {v: {"state": "error", "error": e} for v, e in self._errors.items()}
        for version, handle in self._handles.items():
            try:
                stats = await asyncio.wait_for(handle.stats.remote(), self.settings.health_timeout_s)
                out[version] = {"state": "running", "application": app_name(version), **stats}
            except Exception as exc:  # the probe reports it
                out[version] = {"state": "unreachable", "error": brief(exc)}
        return out

    async def close(self) -> None:
        from ray import serve  # ray: as in _deploy_blocking

        self._handles.clear()

        def delete_all() -> None:
            for name in list(serve.status().applications):
                if name.startswith(PREFIX):
                    serve.delete(name, _blocking=False)

        await asyncio.to_thread(delete_all)
