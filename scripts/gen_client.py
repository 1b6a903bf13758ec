"""Write a service's typed client (``aria_actors/<svc>/client.py``) from its declared RPC surface.

    .venv/bin/python scripts/gen_client.py storage          # print it
    .venv/bin/python scripts/gen_client.py storage --write  # write aria_actors/storage/client.py

The client's stubs copy the signatures of the service's ``@rpc`` methods; the unit test
``tests/unit/runtime/test_rpc_surface.py`` fails when they drift apart, so re-run this after
changing a declared method (then fix the imports ruff names, if any).
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aria_actors.runtime.registry import load_service_class, spec_by_name  # noqa: E402
from aria_actors.runtime.rpc import RpcSpec, surface  # noqa: E402


def _param(p: inspect.Parameter) -> str:
    text = p.name
    if p.kind is p.VAR_POSITIONAL:
        text = "*" + text
    elif p.kind is p.VAR_KEYWORD:
        text = "**" + text
    if p.annotation is not p.empty:
        text += f": {p.annotation}"
    if p.default is not p.empty:
        text += f" = {p.default!r}" if p.annotation is not p.empty else f"={p.default!r}"
    return text


def decorator(spec: RpcSpec) -> str:
    """The ``@rpc(...)`` line that declares ``spec`` (the client carries the declaration)."""
    args = [f'"{spec.permission}"'] if spec.permission is not None else []
    if spec.scope != "tenant":
        args.append(f'scope="{spec.scope}"')
    if spec.job:
        args.append("job=True")
    if spec.public:
        args.append("public=True")
    if len(spec.features) == 1:
        args.append(f'feature="{spec.features[0]}"')
    elif spec.features:
        args.append("features=(" + ", ".join(f'"{f}"' for f in spec.features) + ")")
    line = f"    @rpc({', '.join(args)})"
    if len(line) > 110:
        line = "    @rpc(\n        " + ",\n        ".join(args) + ",\n    )"
    return line


# Annotation names the stubs may use, and where they come from.
TYPING_NAMES = {"Collection": "collections.abc", "Mapping": "collections.abc", "Sequence": "collections.abc",
                "Iterable": "collections.abc", "AsyncIterator": "collections.abc", "Literal": "typing"}


def stub(name: str, fn: object, spec: RpcSpec) -> str:
    sig = inspect.signature(fn)
    parts: list[str] = []
    star_done = False
    for p in sig.parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        if p.kind is p.VAR_POSITIONAL:
            star_done = True
        parts.append(_param(p))
    ret = f" -> {sig.return_annotation}" if sig.return_annotation is not sig.empty else ""
    doc = " ".join((inspect.getdoc(fn) or "").split("\n\n")[0].split())
    if len(doc) > 96:
        doc = doc[:93].rsplit(" ", 1)[0] + "..."
    head = f"    async def {name}({', '.join(parts)}){ret}:"
    if len(head) > 110:
        head = f"    async def {name}(\n        " + ",\n        ".join(parts) + f",\n    ){ret}:"
    body = f'        """{doc}"""\n' if doc and '"""' not in doc else "        ...\n"
    return decorator(spec) + "\n" + head + "\n" + body


def render(module: str) -> str:
    spec = spec_by_name(f"aria_{module}")
    cls = load_service_class(spec)
    title = "".join(w.capitalize() for w in module.split("_")) + "Client"
    declared = surface(cls)
    methods = "\n".join(stub(n, getattr(cls, n), declared[n]) for n in sorted(declared))
    extra: dict[str, set[str]] = {}
    for name, source in TYPING_NAMES.items():
        if re.search(rf"\b{name}\[", methods):
            extra.setdefault(source, set()).add(name)
    abc_line = f"from collections.abc import {', '.join(sorted(extra['collections.abc']))}\n" \
        if "collections.abc" in extra else ""
    typing_names = ", ".join(sorted({"Any", *extra.get("typing", set())}))
    return f'''"""Typed client of {spec.name}: its declared RPC surface (generated from the service).

Callers get one with ``deps.of({title})``, ``Depends(service_client({title}))`` or
``bind({title}, transport)``; every method takes the caller's principal first. The ``@rpc``
lines repeat the service's declarations, so the gateway, the queue and the permission table read
them here without importing the service. Regenerate with ``scripts/gen_client.py {module}
--write`` after changing the service's surface (a unit test fails until then).
"""

from __future__ import annotations

{abc_line}from typing import {typing_names}

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import client_of, rpc


@client_of("{spec.name}")
class {title}:
{methods}'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", help="the service's folder name, e.g. storage")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    text = render(args.service)
    if args.write:
        (ROOT / "aria_actors" / args.service / "client.py").write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
