"""Where aria_shape's generation runs: a backend per process, chosen once, Ray-free here.

::

    ShapeService --complete/embed/stream(version, ...)--> backend
        ServeBackend (serve_backend.py; inside a Ray actor):  one Serve application per version
            aria_shape_inference_<version> -> ShapeInference replicas (batched, engine process)
        LocalBackend (this module; unit tests, LocalLauncher, tools): the model of each version
            loaded in this process on first use, one model call at a time

Both answer the same calls; the service keeps the A/B split, the per-version metrics and which
version is served, and tells the backend which versions exist (``add``) and which go (``remove``).

Per-version state (``states()``, shown in the service's health details)::

    LocalBackend:  not loaded --first use--> loading --> loaded (parameters)
                                                 '----> error (message; retried on next use)
    ServeBackend:  not deployed --first use--> deploying --> n replicas <--idle / request--> scaled to zero
                                                    '-----> error (Serve's message)

Guarantees and caveats
----------------------
- Nothing loads at construction: the first call for a version pays the load (local) or the
  replica start and model load (Serve); ``ensure(version)`` does it ahead of time.
- ``complete`` returns each completion with the number of tokens it generated, which the
  service's per-version metrics count.
- Requests with a ``seed`` are reproducible: both backends run them as their own sampling call
  (a seeded request never shares a batch), so a seed gives the same text on either backend.
- Which backend a process uses is :func:`aria_actors.shape.backends.make_backend`'s choice (Serve
  only where ray is already imported and this process is a Ray actor, for ``inference="auto"``).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from aria_actors.shape.config import ModelSource
from aria_actors.shape.errors import ModelLoadError, UnknownModelVersion
from aria_actors.shape.streams import pieces_from_thread


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int
    version: str


class Backend(Protocol):
    kind: str

    def add(self, version: str, source: ModelSource) -> None: ...
    def source(self, version: str) -> ModelSource: ...
    def versions(self) -> list[str]: ...
    async def ensure(self, version: str) -> dict[str, Any]: ...
    async def complete(self, version: str, prompts: list[str], *, max_new_tokens: int,
                       min_new_tokens: int = 0, seed: int | None = None) -> list[Completion]: ...
    async def embed(self, version: str, texts: list[str]) -> list[list[float]]: ...
    def stream(self, version: str, prompt: str, *, max_new_tokens: int,
               seed: int | None = None) -> AsyncIterator[str]: ...
    async def remove(self, version: str) -> None: ...
    async def states(self, timeout_s: float) -> dict[str, dict[str, Any]]: ...
    def error(self, version: str) -> str | None: ...
    async def close(self) -> None: ...


class ModelRunner:
    """One loaded model and the lock that serialises its calls (sync methods: run them in a thread)."""

    def __init__(self, loaded: Any) -> None:
        self.loaded = loaded
        self.lock = threading.Lock()

    @property
    def parameters(self) -> int:
        return int(self.loaded.num_parameters)

    def generate_counted(self, prompts: list[str], **options: Any) -> tuple[list[str], list[int]]:
        # heavy: torch and transformers, loaded only where a model is (LocalBackend, the engine process)
        from aria_actors.shape.model import generate_counted

        with self.lock:
            return generate_counted(self.loaded, prompts, **options)

    def embed(self, texts: list[str]) -> list[list[float]]:
        from aria_actors.shape.model import embed  # heavy: as in generate_counted

        with self.lock:
            return embed(self.loaded, texts)

    def stream(self, prompt: str, push: Any, **options: Any) -> None:
        from aria_actors.shape.model import stream_text  # heavy: as in generate_counted

        with self.lock:
            stream_text(self.loaded, prompt, push, **options)


class VersionBook:
    """What both backends keep per model version: where its model comes from and its last error."""

    where = "here"  # ends "model version X is not ...", the UnknownModelVersion message

    def __init__(self) -> None:
        self._sources: dict[str, ModelSource] = {}
        self._errors: dict[str, str] = {}

    def add(self, version: str, source: ModelSource) -> None:
        if self._sources.get(version) != source:
            self._errors.pop(version, None)
            self._drop_built(version)
        self._sources[version] = source

    def _drop_built(self, version: str) -> None:
        """Forget what was built from the version's previous source (a model, an application)."""

    def versions(self) -> list[str]:
        return sorted(self._sources)

    def source(self, version: str) -> ModelSource:
        """Where the version's model comes from (UnknownModelVersion if it was not added)."""
        return self._source(version)

    def _source(self, version: str) -> ModelSource:
        try:
            return self._sources[version]
        except KeyError:
            raise UnknownModelVersion(f"model version {version!r} is not {self.where}",
                                      model_version=version) from None

    def _forget(self, version: str) -> None:
        self._sources.pop(version, None)
        self._errors.pop(version, None)

    def error(self, version: str) -> str | None:
        return self._errors.get(version)


class LocalBackend(VersionBook):
    """Every version's model in this process, loaded on first use."""

    kind = "local"
    where = "loaded here"

    def __init__(self) -> None:
        super().__init__()
        self._runners: dict[str, ModelRunner] = {}
        self._loading: set[str] = set()
        self._load_lock = threading.Lock()  # thread lock: callers may come from several loops

    def _drop_built(self, version: str) -> None:
        self._runners.pop(version, None)

    def _load(self, version: str) -> ModelRunner:
        source = self._source(version)
        with self._load_lock:
            runner = self._runners.get(version)
            if runner is not None:
                return runner
            self._loading.add(version)
            try:
                runner = ModelRunner(source.load())
            except ModelLoadError as exc:
                self._errors[version] = exc.message
                raise
            except Exception as exc:  # a broken checkpoint: typed, and kept for health()
                self._errors[version] = f"{type(exc).__name__}: {exc}"
                raise ModelLoadError(f"cannot load model version {version!r}: {exc}", path=source.label,
                                     model_version=version) from None
            finally:
                self._loading.discard(version)
            self._errors.pop(version, None)
            self._runners[version] = runner
            return runner

    async def _runner(self, version: str) -> ModelRunner:
        runner = self._runners.get(version)
        return runner if runner is not None else await asyncio.to_thread(self._load, version)

    async def ensure(self, version: str) -> dict[str, Any]:
        runner = await self._runner(version)
        return {"parameters": runner.parameters}

    async def complete(self, version: str, prompts: list[str], *, max_new_tokens: int,
                       min_new_tokens: int = 0, seed: int | None = None) -> list[Completion]:
        runner = await self._runner(version)
        texts, counts = await asyncio.to_thread(runner.generate_counted, prompts, max_new_tokens=max_new_tokens,
                                                min_new_tokens=min_new_tokens, seed=seed)
        return [Completion(t, n, version) for t, n in zip(texts, counts, strict=True)]

    async def embed(self, version: str, texts: list[str]) -> list[list[float]]:
        runner = await self._runner(version)
        return await asyncio.to_thread(runner.embed, texts)

    async def stream(self, version: str, prompt: str, *, max_new_tokens: int,
                     seed: int | None = None) -> AsyncIterator[str]:
        runner = await self._runner(version)
        async for piece in pieces_from_thread(
                lambda push: runner.stream(prompt, push, max_new_tokens=max_new_tokens, seed=seed)):
            yield piece

    async def remove(self, version: str) -> None:
        self._forget(version)
        self._runners.pop(version, None)

    async def states(self, timeout_s: float) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for version, source in sorted(self._sources.items()):
            runner = self._runners.get(version)
            if runner is not None:
                loaded = runner.loaded
                out[version] = {"state": "loaded", "model": source.label, "parameters": runner.parameters,
                                "device": str(loaded.model.device), "model_type": loaded.model.config.model_type}
            elif version in self._errors:
                out[version] = {"state": "error", "model": source.label, "error": self._errors[version]}
            else:
                out[version] = {"state": "loading" if version in self._loading else "not loaded",
                                "model": source.label}
        return out

    async def close(self) -> None:
        self._runners.clear()


def in_ray_actor() -> bool:
    """This process is a Ray actor (ray already imported and connected); imports nothing."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return False
    return ray.get_runtime_context().get_actor_id() is not None

