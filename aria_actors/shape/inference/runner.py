"""One loaded model and the lock that serialises its calls: what the in-process backend, a Serve
replica without an engine process, and the engine process itself call the model through.

Guarantees and caveats
----------------------
- One call at a time per model (a thread lock); the methods are synchronous: run them in a thread.
- Imports torch only when a call runs (through :mod:`aria_actors.shape.model`).
"""

from __future__ import annotations

import threading
from typing import Any


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
