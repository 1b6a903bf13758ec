"""The backend contract: the calls every generation backend answers, and what each keeps per model
version.

Both backends (:mod:`aria_actors.shape.inference.backends.local`,
:mod:`aria_actors.shape.inference.backends.serve`) answer the same calls; the service
keeps the A/B split, the per-version metrics and which version is served, and tells the backend
which versions exist (``add``) and which go (``remove``).

Per-version state (``states()``, shown in the service's health details)::

    LocalBackend:  not loaded --first use--> loading --> loaded (parameters)
                                                 '----> error (message; retried on next use)
    ServeBackend:  not deployed --first use--> deploying --> n replicas <--idle / request--> scaled to zero
                                                    '-----> error (Serve's message)

    A version in ``error`` answers at once with its failure (503, ``Retry-After``) for
    ``[shape] load_retry_s``; the first request after that tries to load it again.

Guarantees and caveats
----------------------
- Nothing loads at construction: the first call for a version pays the load (local) or the
  replica start and model load (Serve); ``ensure(version)`` does it ahead of time.
- ``complete`` returns each completion with the number of tokens it generated, which the
  service's per-version metrics count.
- Requests with a ``seed`` are reproducible: both backends run them as their own sampling call
  (a seeded request never shares a batch), so a seed gives the same text on either backend.
- Which backend a process uses is :func:`aria_actors.shape.inference.backends.choose.make_backend`'s
  choice (Serve only where ray is already imported and this process is a Ray actor, for
  ``inference="auto"``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from aria_actors.shape.errors import ModelLoadError, UnknownModelVersion
from aria_actors.shape.source import ModelSource


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


class VersionBook:
    """What both backends keep per model version: where its model comes from and its last error."""

    where = "here"  # ends "model version X is not ...", the UnknownModelVersion message

    def __init__(self, retry_s: float = 30.0) -> None:
        self._sources: dict[str, ModelSource] = {}
        self._errors: dict[str, str] = {}
        self._failed_at: dict[str, float] = {}
        # A broken checkpoint must not cost every request a load attempt (a Serve application's
        # failed replica starts take tens of seconds and hold CPUs): its failure is the answer
        # for retry_s, then the next request tries again.
        self.retry_s = retry_s

    def add(self, version: str, source: ModelSource) -> None:
        if self._sources.get(version) != source:
            self._clear_error(version)
            self._drop_built(version)
        self._sources[version] = source

    def _fail(self, version: str, message: str) -> None:
        self._errors[version] = message
        self._failed_at[version] = time.monotonic()

    def _clear_error(self, version: str) -> None:
        self._errors.pop(version, None)
        self._failed_at.pop(version, None)

    def _refuse_if_failed(self, version: str) -> None:
        """:class:`ModelLoadError` (503, ``Retry-After``) while the version's last load failed less
        than ``retry_s`` ago."""
        at = self._failed_at.get(version)
        error = self._errors.get(version)
        if at is None or error is None:
            return
        left = self.retry_s - (time.monotonic() - at)
        if left > 0:
            raise ModelLoadError(f"model version {version!r} failed to load {self.retry_s - left:.0f}s ago "
                                 f"({error}); the next try is in {left:.0f}s",
                                 path=self._source(version).label, model_version=version,
                                 retry_after_s=round(left, 1))

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
        self._clear_error(version)

    def error(self, version: str) -> str | None:
        return self._errors.get(version)
