"""The dependency graph of service specs: validation, cycles, start and stop order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aria_actors.runtime.errors import DependencyCycleError, DependencyGraphError, UnknownDependencyError
from aria_actors.runtime.spec import ServiceSpec


def validate(specs: Iterable[ServiceSpec]) -> dict[str, ServiceSpec]:
    """Check names are unique, dependencies exist and there is no cycle; return specs by name."""
    by_name: dict[str, ServiceSpec] = {}
    for spec in specs:
        if spec.name in by_name:
            raise DependencyGraphError(f"service {spec.name!r} is registered twice", service=spec.name)
        by_name[spec.name] = spec
    for spec in by_name.values():
        unknown = [d for d in spec.depends_on if d not in by_name]
        if unknown:
            raise UnknownDependencyError(
                f"{spec.name} depends on unknown service(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(by_name))}",
                service=spec.name, unknown=unknown,
            )
    cycle = find_cycle({n: s.depends_on for n, s in by_name.items()})
    if cycle:
        raise DependencyCycleError(
            "dependency cycle: " + " -> ".join(cycle), cycle=cycle
        )
    return by_name


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle as a closed path (``[a, b, a]``), or None. Iterative DFS, colours white/grey/black."""
    colour: dict[str, int] = dict.fromkeys(edges, 0)
    for root in sorted(edges):
        if colour[root]:
            continue
        path: list[str] = [root]
        stack = [iter(sorted(edges[root]))]
        colour[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
                continue
            if colour.get(nxt, 2) == 1:
                return [*path[path.index(nxt):], nxt]
            if colour.get(nxt, 2) == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(edges[nxt])))
    return None


def start_waves(specs: Iterable[ServiceSpec]) -> list[list[str]]:
    """Groups of services that may start in parallel, in order.

    A service starts once every service it depends on and every service of a lower layer has
    started, so layers boot in order and a dependency inside one layer (aria_tune on aria_monitor)
    splits that layer into two waves.
    """
    by_name = validate(specs)
    done: set[str] = set()
    waves: list[list[str]] = []
    for layer in sorted({s.layer for s in by_name.values()}):
        pending = {n for n, s in by_name.items() if s.layer == layer}
        while pending:
            wave = sorted(n for n in pending if set(by_name[n].depends_on) <= done)
            if not wave:  # a dependency on a higher layer
                blocked = sorted(pending)
                raise UnknownDependencyError(
                    f"services {', '.join(blocked)} depend on a service of a higher layer",
                    services=blocked,
                )
            waves.append(wave)
            done.update(wave)
            pending.difference_update(wave)
    return waves


def dependents(specs: Mapping[str, ServiceSpec], name: str) -> set[str]:
    """Every service that depends on ``name``, directly or through others."""
    out: set[str] = set()
    frontier = [name]
    while frontier:
        cur = frontier.pop()
        for spec in specs.values():
            if cur in spec.depends_on and spec.name not in out:
                out.add(spec.name)
                frontier.append(spec.name)
    return out
