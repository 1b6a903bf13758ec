"""The deployment files parse, validate against Ray's schemas and point at importable code."""

from __future__ import annotations

import importlib

import pytest
import yaml

from tests.fixtures.paths import REPO


@pytest.mark.parametrize("name", ["local.yaml", "cluster.yaml"])
def test_serve_configs_validate_and_import(name: str) -> None:
    from ray.serve.schema import ServeDeploySchema

    config = ServeDeploySchema.model_validate(yaml.safe_load((REPO / "serve_configs" / name).read_text()))
    for app in config.applications:
        module, _, attr = app.import_path.partition(":")
        assert callable(getattr(importlib.import_module(module), attr))


def test_rayservice_embeds_a_valid_serve_config() -> None:
    from ray.serve.schema import ServeDeploySchema

    doc = yaml.safe_load((REPO / "cluster" / "rayservice.yaml").read_text())
    assert doc["kind"] == "RayService"
    ServeDeploySchema.model_validate(yaml.safe_load(doc["spec"]["serveConfigV2"]))


def test_ray_cluster_launcher_config_validates() -> None:
    import json
    from pathlib import Path

    import jsonschema
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(yaml.safe_load((REPO / "ray_cluster.yaml").read_text()), schema)


def _placement_in_ray_cluster_yaml() -> dict[str, str]:
    import json
    import re

    doc = yaml.safe_load((REPO / "ray_cluster.yaml").read_text())
    [head] = [c for c in doc["head_start_ray_commands"] if "ARIA_PLACEMENT=" in c]
    return json.loads(re.search(r"ARIA_PLACEMENT='([^']*)'", head).group(1))


def test_both_cluster_files_start_the_layout_the_multinode_test_runs() -> None:
    """ray_cluster.yaml and cluster/rayservice.yaml place the services as tests/cluster does, on
    nodes labelled as the placement names them, with settings that load."""
    from aria_actors.runtime.settings import load_settings
    from tests.fixtures.multinode import PLACEMENT, WORKER_NODES

    assert _placement_in_ray_cluster_yaml() == PLACEMENT
    service = yaml.safe_load((REPO / "cluster" / "rayservice.yaml").read_text())
    [app] = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"]
    assert app["args"]["placement"] == PLACEMENT
    assert load_settings(**app["args"]).placement == PLACEMENT  # validated as `build_app` loads it
    nodes = {"head", *WORKER_NODES}
    cluster = service["spec"]["rayClusterConfig"]
    labels = {cluster["headGroupSpec"]["rayStartParams"]["labels"],
              *(g["rayStartParams"]["labels"] for g in cluster["workerGroupSpecs"])}
    assert labels == {f"aria-node={n}" for n in nodes}
    launcher = (REPO / "ray_cluster.yaml").read_text()
    assert "--labels=aria-node=head" in launcher and all(f"NODE={n}" in launcher for n in WORKER_NODES)


def test_the_settings_the_cluster_files_name_exist() -> None:
    import re

    from aria_actors.runtime.settings import AriaSettings, sections

    def known(var: str) -> bool:
        key = var.lower().removeprefix("aria_")
        if key in AriaSettings.model_fields:
            return True
        return any(key.startswith(f"{s}_") and key[len(s) + 1:] in cls.model_fields for s, cls in sections().items())

    for name in ("ray_cluster.yaml", "cluster/rayservice.yaml"):
        named = set(re.findall(r"\bARIA_[A-Z0-9_]+", (REPO / name).read_text()))
        assert named and {v for v in named if not known(v)} == set(), name
