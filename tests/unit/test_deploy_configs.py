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
