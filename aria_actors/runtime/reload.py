"""What aria_debugger's hot reload and dependency graph need from the runtime, Ray-free.

- :func:`code_digest`: a digest of a service's package as its process loaded it: sha256 over the
  package's ``.py`` files (relative path and bytes, sorted), read once when the shell is built,
  right after the import (``ServiceHost.code``, shown by the ``inspect`` door). Two processes of
  the same code have the same digest; a process started after the sources changed has another.
  It describes what was on disk at import time: a file edited later does not change it.
- The supervisor's operations a service may ask its shell for (``Deps.supervisor``): ``status``
  (every service's state, the boot actor's view) and ``restart`` (one service replaced by a new
  process, the way ``aria restart`` does). Only aria_debugger may (:func:`check_supervisor`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import time
from pathlib import Path
from typing import Any

from aria_actors.runtime.errors import Forbidden, NotFound

SUPERVISOR_OPS = frozenset({"status", "restart"})
SUPERVISOR_READERS = frozenset({"aria_debugger"})
MAX_FILES = 2000  # a package bigger than this is digested on its first files (sorted) only


def check_supervisor(reader: str, op: str) -> None:
    """Raise unless service ``reader`` may ask the supervisor for ``op``."""
    if op not in SUPERVISOR_OPS:
        raise NotFound(f"no supervisor operation {op!r}; they are {sorted(SUPERVISOR_OPS)}", op=op)
    if reader not in SUPERVISOR_READERS:
        raise Forbidden(f"only {', '.join(sorted(SUPERVISOR_READERS))} may ask the supervisor to {op}, "
                        f"not {reader}", op=op)


def package_of(entrypoint: str) -> str:
    """The package of a spec's entrypoint: ``aria_actors.tune.service:TuneService`` -> ``aria_actors.tune``."""
    module = entrypoint.partition(":")[0]
    return module.rpartition(".")[0] or module


def code_digest(package: str) -> dict[str, Any]:
    """sha256 over the ``.py`` sources of ``package`` (already imported) as they are on disk now."""
    mod = importlib.import_module(package)
    paths = getattr(mod, "__path__", None)
    root = Path(next(iter(paths))) if paths else Path(mod.__file__ or "").parent
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)[:MAX_FILES]
    digest = hashlib.sha256()
    for path in files:
        rel = path.relative_to(root).as_posix()
        digest.update(rel.encode() + b"\0")
        with contextlib.suppress(OSError):  # removed meanwhile: counted by name only
            digest.update(path.read_bytes())
        digest.update(b"\0")
    return {"package": package, "sha256": digest.hexdigest(), "files": len(files), "read_at": time.time()}
