"""Load an unmodified GTPyhop domain file or package so that its ``import gtpyhop`` gets Aria.

``load_gtpyhop(path)`` imports ``path`` (a ``.py`` file or a package directory) under a private,
unique module prefix; every module it loads (its own relative imports included) resolves
``import gtpyhop`` / ``from gtpyhop import ...`` / ``import gtpyhop.test_harness`` to
:mod:`aria_actors.engine.pyhop`. The real ``gtpyhop`` package, if installed, is left alone, so
both can run side by side in one process.

Guarantees and caveats:
    - Only files on the local disk chosen by the operator are loaded (domains are code); nothing
      received over the network is ever passed here.
    - ``import gtpyhop.examples...`` inside a loaded file raises ImportError.
    - Each call loads a fresh copy (new module objects, new Domain objects).
"""

from __future__ import annotations

import builtins
import importlib.abc
import importlib.machinery
import importlib.util
import itertools
import sys
import types
from pathlib import Path
from typing import Any

from aria_actors.engine import pyhop

_counter = itertools.count()


def _import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
    if level == 0 and (name == "gtpyhop" or name.startswith("gtpyhop.")):
        if name.startswith("gtpyhop.examples"):
            raise ImportError(f"{name} is not available to domains loaded into aria_engine")
        return pyhop
    return builtins.__import__(name, globals, locals, fromlist, level)


_BUILTINS = dict(vars(builtins))
_BUILTINS["__import__"] = _import


class _Loader(importlib.machinery.SourceFileLoader):
    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__["__builtins__"] = _BUILTINS
        code = self.get_code(module.__name__)
        exec(code, module.__dict__)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, prefix: str, root: Path) -> None:
        self.prefix = prefix
        self.root = root

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not fullname.startswith(self.prefix + "."):
            return None
        parts = fullname[len(self.prefix) + 1:].split(".")
        base = self.root.joinpath(*parts)
        if (base / "__init__.py").is_file():
            file = base / "__init__.py"
            return importlib.util.spec_from_file_location(
                fullname, file, loader=_Loader(fullname, str(file)), submodule_search_locations=[str(base)])
        file = base.with_suffix(".py")
        if file.is_file():
            return importlib.util.spec_from_file_location(fullname, file, loader=_Loader(fullname, str(file)))
        return None


def load_gtpyhop(path: str | Path) -> types.ModuleType:
    """Import a GTPyhop domain module or package against Aria's pyhop; return the module."""
    path = Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"no GTPyhop domain at {path}")
    prefix = f"_aria_gtpyhop_{next(_counter)}"
    root = path.parent
    holder = types.ModuleType(prefix)
    holder.__path__ = [str(root)]  # type: ignore[attr-defined]
    sys.modules[prefix] = holder
    sys.meta_path.insert(0, _Finder(prefix, root))
    name = path.stem if path.is_file() else path.name
    return importlib.import_module(f"{prefix}.{name}")
