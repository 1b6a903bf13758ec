"""aria_interpret against its peers, in one run: every line of the issue's acceptance.

    python bench/interpret.py [--only din,text,analytics,serving]

- din        (bench/interpret_din.py) Aria's DIN against RecBole 1.2.1's DIN on the same
             chronological leave-last-out split of MovieLens-100k: test AUC, GAUC, training wall
             time; popularity and matrix factorisation for context.
- text       (bench/interpret_text.py) embedding throughput of the text core against
             sentence-transformers on 1,000 descriptions; trait extraction, consistency and
             sentiment quality.
- analytics  (bench/interpret_analytics.py) each analytics model's metric next to its baseline.
- serving    (bench/interpret_serving.py) through the gateway of a real `aria up`: recommendation
             p50/p99 against the same artifact scored in-process, and embedding throughput
             through the service against sentence-transformers.

Prints ``name: aria X, peer Y, ratio Z`` lines. Asserts nothing about time.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)
sys.path.insert(0, str(_HERE.parent))

import argparse
import importlib.util

SECTIONS = ("din", "text", "analytics", "serving")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS))
    args, rest = parser.parse_known_args()
    for section in args.only.split(","):
        if section not in SECTIONS:
            sys.exit(f"unknown section {section!r}; choose from {SECTIONS}")
        print(f"## {section}", flush=True)
        module = load_section(section)
        module.run(rest)


def load_section(section: str) -> object:
    """bench/interpret_<section>.py as a module (bench/ stays off sys.path: its queue.py would
    shadow the standard library's)."""
    name = f"interpret_{section}"
    spec = importlib.util.spec_from_file_location(name, _HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


if __name__ == "__main__":
    main()
