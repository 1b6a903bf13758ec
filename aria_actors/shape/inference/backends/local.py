"""The in-process backend: every model version loaded in this process on first use, one model call
at a time (unit tests, LocalLauncher, tools). The contract is :mod:`aria_actors.shape.inference.contract`'s.

Guarantees and caveats
----------------------
- Nothing loads at construction; the first call for a version loads it (in a thread), and
  concurrent first calls load it once. A failed load is kept as the version's error (shown in
  ``states()``) and retried on the next use.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

from aria_actors.runtime.errors import brief
from aria_actors.shape.errors import ModelLoadError
from aria_actors.shape.inference.contract import Completion, VersionBook
from aria_actors.shape.inference.runner import ModelRunner
from aria_actors.shape.inference.streams import pieces_from_thread


class LocalBackend(VersionBook):
    """Every version's model in this process, loaded on first use."""

    kind = "local"
    where = "loaded here"

    def __init__(self, retry_s: float = 30.0) -> None:
        super().__init__(retry_s)
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
                self._fail(version, exc.message)
                raise
            except Exception as exc:  # a broken checkpoint: typed, and kept for health()
                self._fail(version, f"{type(exc).__name__}: {brief(exc)}")
                raise ModelLoadError(f"cannot load model version {version!r}: {brief(exc)}", path=source.label,
                                     model_version=version) from None
            finally:
                self._loading.discard(version)
            self._clear_error(version)
            self._runners[version] = runner
            return runner

    async def _runner(self, version: str) -> ModelRunner:
        runner = self._runners.get(version)
        if runner is not None:
            return runner
        self._refuse_if_failed(version)
        return await asyncio.to_thread(self._load, version)

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
