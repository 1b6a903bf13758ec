"""A model engine in its own process, so that a server's event loop and the decoding loop do not
share one GIL.

::

    server process (Serve replica, asyncio)      engine process (python -m aria_actors.shape.inference.backends.engine)
      Engine(source) -------- spawn, source frame -->  ModelSource.load() once (one torch thread)
                         <--- ready {parameters} -----
      generate(prompts, ...) -- {op: generate} ----->  generate_counted() (KV-cached sampling loop)
                         <--- {texts, tokens} | error
      embed(texts) ---------- {op: embed} ---------->  embed()
                         <--- vectors | error --------
      stream(prompt, push) -- {op: stream} --------->  stream_text(): one {piece} frame per piece
                         <--- {piece}* then ok | error
      close() / server dies -> stdin EOF ------------->  exits

Why: for a small model every decoding step is mostly Python (module calls) holding the GIL.
In one process, the replica's per-request work (deserialising, routing, the batch queue) stalls
the decoding thread for the time it takes; measured here, a batch took ~70 ms in the replica
against ~46 ms when called directly. In its own process the engine runs undisturbed while the
server handles the requests of the next batch (the split vLLM makes between its API server and
engine core).

Guarantees and caveats
----------------------
- One call at a time (a lock); callers batch before calling
  (:mod:`aria_actors.shape.inference.batching`). A stream holds the engine for its whole length.
- Frames are an 8-byte length and a pickle over the child's stdin/stdout: both ends are this
  module, nothing else writes there (the child's own stdout is moved to stderr).
- The child inherits the environment (``CUDA_VISIBLE_DEVICES`` of a GPU replica included) and
  the parent's ``sys.path``; it exits when its stdin closes, so it does not outlive its server.
- An engine error is raised in the caller as :class:`EngineError` with the child's message; a
  dead engine is reported by every later call (the server's health check should then restart it).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from aria_actors.shape.errors import EngineError
from aria_actors.shape.inference.runner import ModelRunner
from aria_actors.shape.source import ModelSource


def _write(out: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(data).to_bytes(8, "little") + data)
    out.flush()


def _read(inp: IO[bytes]) -> Any:
    head = inp.read(8)
    if len(head) < 8:
        raise EOFError("engine pipe closed")
    size = int.from_bytes(head, "little")
    data = inp.read(size)
    if len(data) < size:
        raise EOFError("engine pipe closed mid-frame")
    return pickle.loads(data)


class Engine:
    """Handle of one engine process (start it with :meth:`start`); ``source`` is a
    :class:`ModelSource` or a checkpoint directory."""

    def __init__(self, source: ModelSource | str, *, num_threads: int = 1) -> None:
        self.source = source if isinstance(source, ModelSource) else ModelSource.for_path(source, num_threads)
        self.model_path = self.source.label
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self.busy_s = 0.0  # time spent in request round trips (the engine's busy time)
        self._lock = threading.Lock()

    def start(self) -> dict[str, Any]:
        """Spawn the process and wait until its model is loaded; returns its description."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = subprocess.Popen([sys.executable, "-m", "aria_actors.shape.inference.backends.engine"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.info = self._call(self.source)
        self.busy_s = 0.0  # requests only, not the model load
        return self.info

    def _call(self, request: Any, on_piece: Callable[[str], None] | None = None) -> Any:
        with self._lock:
            proc = self.proc
            if proc is None or proc.poll() is not None:
                raise EngineError(f"model engine is not running (exit code "
                                  f"{None if proc is None else proc.returncode})", model=self.model_path)
            t0 = time.perf_counter()
            try:
                _write(proc.stdin, request)  # type: ignore[arg-type]
                reply = _read(proc.stdout)  # type: ignore[arg-type]
                while "piece" in reply:
                    if on_piece is not None:
                        on_piece(reply["piece"])
                    reply = _read(proc.stdout)  # type: ignore[arg-type]
            except (EOFError, BrokenPipeError, OSError) as exc:
                raise EngineError(f"model engine died: {exc} (exit code {proc.poll()})",
                                  model=self.model_path) from None
            finally:
                self.busy_s += time.perf_counter() - t0
        if "error" in reply:
            raise EngineError(f"model engine: {reply['error']}", model=self.model_path)
        return reply["ok"]

    @property
    def parameters(self) -> int:
        return int(self.info.get("parameters", 0))

    def generate_counted(self, prompts: list[str], **options: Any) -> tuple[list[str], list[int]]:
        out = self._call({"op": "generate", "prompts": prompts, **options})
        return out["texts"], out["tokens"]

    def generate_sync(self, prompts: list[str], **options: Any) -> list[str]:
        return self.generate_counted(prompts, **options)[0]

    async def generate(self, prompts: list[str], **options: Any) -> list[str]:
        """Completions of ``prompts`` (``generate()``'s keyword options)."""
        return await asyncio.to_thread(self.generate_sync, prompts, **options)

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self._call({"op": "embed", "texts": texts})

    def stream(self, prompt: str, push: Callable[[str], None], **options: Any) -> None:
        """Sample a completion of ``prompt``; ``push`` gets each piece as the engine sends it."""
        self._call({"op": "stream", "prompt": prompt, **options}, on_piece=push)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _handle(runner: Any, request: dict[str, Any], out: IO[bytes]) -> Any:
    op = request.pop("op", "generate")
    if op == "generate":
        texts, tokens = runner.generate_counted(request.pop("prompts"), **request)
        return {"texts": texts, "tokens": tokens}
    if op == "embed":
        return runner.embed(request["texts"])
    if op == "stream":
        runner.stream(request.pop("prompt"), lambda piece: _write(out, {"piece": piece}), **request)
        return None
    raise ValueError(f"unknown engine operation {op!r}")


def serve_forever(inp: IO[bytes], out: IO[bytes]) -> None:
    """The engine process: a source frame, then one model call per request frame until EOF."""
    try:
        source = _read(inp)
    except EOFError:
        return
    try:
        runner = ModelRunner(source.load())
        _write(out, {"ok": {"parameters": runner.parameters, "device": str(runner.loaded.model.device),
                            "pid": os.getpid()}})
    except Exception as exc:  # reported to the server, which owns the failure
        _write(out, {"error": f"{type(exc).__name__}: {exc}"})
        return
    while True:
        try:
            request = _read(inp)
        except EOFError:
            return
        try:
            _write(out, {"ok": _handle(runner, request, out)})
        except Exception as exc:  # one bad request does not end the engine
            _write(out, {"error": f"{type(exc).__name__}: {exc}"})


def main() -> None:
    # Frames go to the original stdout; anything printed (libraries, warnings) goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve_forever(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
