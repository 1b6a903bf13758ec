"""ARIA_PLACEMENT: where each service runs on a multi-node cluster, as the Ray options it becomes."""

from __future__ import annotations

import pytest

from aria_actors.runtime.errors import ConfigError
from aria_actors.runtime.placement import ANY_NODE, BOOT, PlacementError, actor_options, options_for, ray_options
from aria_actors.runtime.registry import all_specs
from aria_actors.runtime.settings import AriaSettings, load_settings


def test_no_placement_leaves_every_service_anywhere_as_before() -> None:
    settings = AriaSettings()
    assert settings.placement == {}
    for spec in all_specs():
        assert actor_options(spec, settings) == {"num_cpus": spec.num_cpus, "num_gpus": spec.num_gpus}
    assert options_for(settings.placement, BOOT) == {}


def test_a_label_selector_with_preferences_becomes_ray_fallbacks() -> None:
    assert ray_options("aria_data", "aria-node=db") == {"label_selector": {"aria-node": "db"}}
    assert ray_options("aria_shape", "aria-node=gpu, zone=!b | aria-node=in(w1, w2) | *") == {
        "label_selector": {"aria-node": "gpu", "zone": "!b"},
        "fallback_strategy": [{"label_selector": {"aria-node": "in(w1,w2)"}}, {"label_selector": ANY_NODE}],
    }
    assert ray_options("aria_tune", "*") == {}  # anywhere first: nothing to constrain


def test_a_resource_places_on_nodes_that_have_it() -> None:
    [(name, share)] = ray_options("aria_engine", "resource:planner")["resources"].items()
    assert name == "planner" and 0 < share < 0.01


@pytest.mark.parametrize("value", ["aria-node", "a b", "aria-node=x |", "resource:", "k=in(a", "=x"])
def test_a_value_that_does_not_parse_is_refused_naming_the_service(value: str) -> None:
    with pytest.raises(PlacementError, match="aria_data"):
        ray_options("aria_data", value)


def test_the_setting_is_validated_with_the_tree(monkeypatch) -> None:
    monkeypatch.setenv("ARIA_PLACEMENT", '{"aria_data": "aria-node=db | *", "aria_boot": "aria-node=head"}')
    settings = load_settings()
    assert settings.placement == {"aria_data": "aria-node=db | *", "aria_boot": "aria-node=head"}
    spec = next(s for s in all_specs() if s.name == "aria_data")
    assert actor_options(spec, settings)["label_selector"] == {"aria-node": "db"}
    monkeypatch.setenv("ARIA_PLACEMENT", '{"aria_nope": "aria-node=db"}')
    with pytest.raises(ConfigError, match=r"ARIA_PLACEMENT.*aria_nope"):
        load_settings()
    monkeypatch.setenv("ARIA_PLACEMENT", '{"aria_data": "db"}')
    with pytest.raises(ConfigError, match=r"ARIA_PLACEMENT.*aria_data"):
        load_settings()
