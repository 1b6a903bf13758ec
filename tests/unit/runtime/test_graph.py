from __future__ import annotations

import pytest

from aria_actors.runtime import graph
from aria_actors.runtime.errors import DependencyCycleError, UnknownDependencyError
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.spec import ServiceSpec


def s(name: str, layer: int, *deps: str) -> ServiceSpec:
    return ServiceSpec(name=name, layer=layer, depends_on=deps)


def test_cycle_is_refused_naming_the_cycle() -> None:
    specs = [s("a", 1, "c"), s("b", 1, "a"), s("c", 1, "b"), s("d", 1)]
    with pytest.raises(DependencyCycleError) as err:
        graph.validate(specs)
    assert "a -> c -> b -> a" in str(err.value)
    assert err.value.fields["cycle"] == ["a", "c", "b", "a"]


def test_unknown_dependency_is_refused_naming_it() -> None:
    with pytest.raises(UnknownDependencyError) as err:
        graph.validate([s("a", 1, "ghost")])
    assert "ghost" in str(err.value) and "a depends on" in str(err.value)


def test_self_dependency_is_refused() -> None:
    with pytest.raises(ValueError, match="depends on itself"):
        s("a", 1, "a")


def test_dependency_on_higher_layer_is_refused() -> None:
    with pytest.raises(UnknownDependencyError, match="higher layer"):
        graph.start_waves([s("a", 1, "b"), s("b", 2)])


def test_waves_respect_layers_and_same_layer_dependencies() -> None:
    waves = graph.start_waves(all_specs())
    order = {name: i for i, wave in enumerate(waves) for name in wave}
    specs = {sp.name: sp for sp in all_specs()}
    assert len(order) == 14
    for name, sp in specs.items():
        for dep in sp.depends_on:
            assert order[dep] < order[name], (dep, name)
        for other in specs.values():
            if other.layer < sp.layer:
                assert order[other.name] < order[name]
    assert order["aria_monitor"] < order["aria_tune"]  # same layer, ordered by dependency


def test_seed_dependencies_are_exactly_the_seeds() -> None:
    deps = {sp.name: set(sp.depends_on) for sp in all_specs()}
    assert deps["aria_security"] == set()
    assert deps["aria_data"] == {"aria_security"}
    assert deps["aria_auth"] == {"aria_security", "aria_data"}
    # One deliberate addition to the seed: asset versions live in Postgres through aria_data.
    assert deps["aria_storage"] == {"aria_security", "aria_auth", "aria_data"}
    assert deps["aria_queue"] == {"aria_data", "aria_security"}
    assert deps["aria_coordinate"] == {"aria_security", "aria_auth"}
    assert deps["aria_interface"] == {"aria_security", "aria_auth", "aria_data", "aria_storage",
                                      "aria_queue", "aria_workflow"}
    assert [sp.layer for sp in all_specs()] == [1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5, 5, 5]


def test_dependents_are_transitive() -> None:
    specs = graph.validate(all_specs())
    assert "aria_interface" in graph.dependents(specs, "aria_workflow")
    assert graph.dependents(specs, "aria_tune") == set()
    assert len(graph.dependents(specs, "aria_security")) == 13
