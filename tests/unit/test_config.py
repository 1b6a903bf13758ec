"""One settings tree: sections per service, env and aria.toml, `aria config`, exit 2 on unknown keys."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aria_actors.cli import app
from aria_actors.runtime.config_view import as_json, render_rows
from aria_actors.runtime.errors import ConfigError
from aria_actors.runtime.section import env_prefix
from aria_actors.runtime.settings import AriaSettings, load_settings, sections

runner = CliRunner()
SERVICES = {"security", "data", "auth", "storage", "queue", "shape", "engine", "interpret", "workflow",
            "coordinate", "monitor", "tune", "debugger", "tracing"}


@pytest.fixture(autouse=True)
def _no_config_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ARIA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ARIA_CONFIG", str(tmp_path / "absent.toml"))


def _toml(tmp_path, monkeypatch, text: str) -> None:
    path = tmp_path / "aria.toml"
    path.write_text(text)
    monkeypatch.setenv("ARIA_CONFIG", str(path))


def test_every_service_has_a_section_named_like_its_variables() -> None:
    assert set(sections()) == SERVICES
    for name, cls in sections().items():
        assert cls.section == name and cls.model_config["env_prefix"] == env_prefix(name)
        assert cls.__name__.endswith("Settings") and cls.model_config["extra"] == "forbid"


def test_former_class_names_still_import() -> None:
    from aria_actors.data.config import DataConfig, DataSettings
    from aria_actors.engine.config import EngineConfig, EngineSettings
    from aria_actors.security.config import SecurityConfig, SecuritySettings
    from aria_actors.shape.config import ShapeConfig, ShapeSettings
    from aria_actors.storage.config import StorageConfig, StorageSettings

    assert (DataConfig, EngineConfig, SecurityConfig, ShapeConfig, StorageConfig) == (
        DataSettings, EngineSettings, SecuritySettings, ShapeSettings, StorageSettings)


def test_aria_config_prints_every_setting_of_every_section() -> None:
    result = runner.invoke(app, ["config", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert set(body) == {"aria"} | SERVICES
    settings = load_settings()
    for name in SERVICES:
        assert set(body[name]) == set(type(getattr(settings, name)).model_fields)
        assert all(v["env"] == f"{env_prefix(name)}{k.upper()}" for k, v in body[name].items())
    assert set(body["aria"]) == set(AriaSettings.model_fields) - SERVICES
    text = runner.invoke(app, ["config"])
    assert text.exit_code == 0, text.output
    for row in render_rows(settings):
        assert f"{row.section}" in text.output and row.key in text.output


def test_secrets_are_masked(monkeypatch) -> None:
    monkeypatch.setenv("ARIA_DATABASE_URL", "postgresql://u:hunter2@db/aria")
    monkeypatch.setenv("ARIA_SECURITY_HSM_PIN", "pin-s3cret")
    monkeypatch.setenv("ARIA_STORAGE_S3_SECRET", "s3-s3cret")
    monkeypatch.setenv("ARIA_STORAGE_EXTRA_STORES", '["sftp://me:sftp-s3cret@host/store"]')
    for args in (["config"], ["config", "--json"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        for secret in ("hunter2", "pin-s3cret", "s3-s3cret", "sftp-s3cret"):
            assert secret not in result.output
    body = as_json(load_settings())
    assert body["aria"]["database_url"] == {"value": "**********", "source": "env", "env": "ARIA_DATABASE_URL"}
    assert body["security"]["openbao_token"]["value"] == ""  # empty: shown as empty
    assert body["storage"]["extra_stores"]["value"] == ["sftp://me:***@host/store"]
    settings = load_settings()
    assert "pin-s3cret" not in repr(settings) and "pin-s3cret" not in str(settings.public_dump())


@pytest.mark.parametrize("command", [["config"], ["up", "--detach"]])
def test_unknown_key_in_a_section_exits_2_naming_it(tmp_path, monkeypatch, command) -> None:
    result = runner.invoke(app, command, env={"ARIA_STORAGE_NO_SUCH_KNOB": "topsecret"})
    assert result.exit_code == 2, result.output
    assert "ARIA_STORAGE_NO_SUCH_KNOB" in result.output and "topsecret" not in result.output
    assert not (tmp_path / "home" / "run").exists()  # nothing started

    _toml(tmp_path, monkeypatch, "[queue]\nno_such_knob = 1\n")
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert "[queue] no_such_knob" in result.output


def test_bad_values_in_sections_are_named_together(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ARIA_SHAPE_DEVICE", "tpu")
    monkeypatch.setenv("ARIA_STORAGE_SYNC_TARGETS", "{not json")
    _toml(tmp_path, monkeypatch, "[data]\npool_min_size = 50\n[engine]\nmax_nodes = 0\n")
    with pytest.raises(ConfigError) as err:
        load_settings()
    problems = " ".join(err.value.fields["settings"])
    for name in ("ARIA_SHAPE_DEVICE", "ARIA_STORAGE_SYNC_TARGETS", "[data]", "ARIA_ENGINE_MAX_NODES"):
        assert name in problems


def test_storage_url_stays_a_top_level_key(monkeypatch) -> None:
    monkeypatch.setenv("ARIA_STORAGE_URL", "/srv/store")  # not the storage section's `url`
    assert load_settings().storage_url == "/srv/store"


def test_env_variable_sets_a_nested_key(monkeypatch) -> None:
    monkeypatch.setenv("ARIA_STORAGE_SYNC_TARGETS", '{"backup": "s3://bucket/aria"}')
    monkeypatch.setenv("ARIA_QUEUE_REPLICAS", "3")
    monkeypatch.setenv("ARIA_SECURITY_ROLES", json.dumps({"tenant-admin": ["auth:*:*"]}))
    settings = load_settings()
    assert settings.storage.sync_targets == {"backup": "s3://bucket/aria"}
    assert settings.queue.replicas == 3 and settings.security.roles == {"tenant-admin": ("auth:*:*",)}
    assert as_json(settings)["storage"]["sync_targets"]["source"] == "env"


def test_toml_section_is_applied_and_env_beats_it(tmp_path, monkeypatch) -> None:
    _toml(tmp_path, monkeypatch, 'port = 8123\n[storage]\npool_size = 6\nzstd_level = 5\n'
                                 '[storage.sync_targets]\nbackup = "/mnt/backup"\n[engine]\npool_size = 2\n')
    monkeypatch.setenv("ARIA_STORAGE_ZSTD_LEVEL", "7")
    settings = load_settings()
    assert settings.port == 8123 and settings.engine.pool_size == 2
    assert settings.storage.pool_size == 6 and settings.storage.sync_targets == {"backup": "/mnt/backup"}
    assert settings.storage.zstd_level == 7
    sources = {(r.section, r.key): r.source for r in render_rows(settings)}
    assert sources[("storage", "pool_size")] == "toml" and sources[("storage", "zstd_level")] == "env"
    assert sources[("aria", "port")] == "toml" and sources[("storage", "chunk_min")] == "default"
    # a section built on its own reads the same places
    from aria_actors.storage.config import StorageSettings

    assert StorageSettings().pool_size == 6 and StorageSettings().zstd_level == 7
    assert StorageSettings(pool_size=9).pool_size == 9  # keyword arguments first


def test_services_get_their_section_from_the_tree(tmp_path) -> None:
    from aria_actors.auth.service import AuthService
    from aria_actors.queue.service import QueueService
    from aria_actors.security.service import SecurityService
    from aria_actors.shape.service import ShapeService
    from aria_actors.storage.config import StorageSettings
    from aria_actors.storage.service import StorageService

    settings = AriaSettings(home=tmp_path, storage={"pool_size": 7}, queue={"replicas": 2},
                            security={"jwt_issuer": "tree"}, auth={"password_min_length": 20},
                            shape={"max_new_tokens": 5})
    assert StorageService(settings).config.pool_size == 7
    assert QueueService(settings).config.replicas == 2
    assert SecurityService(settings).config.jwt_issuer == "tree"
    assert AuthService(settings).config.password_min_length == 20
    assert ShapeService(settings).config.max_new_tokens == 5
    explicit = StorageSettings(pool_size=3)  # a test's own section still wins
    assert StorageService(settings, explicit).config is explicit
