from __future__ import annotations

from typer.testing import CliRunner

from aria_actors.cli.commands import app

runner = CliRunner()


def test_malformed_setting_is_named_and_exits_2_before_starting_anything(tmp_path) -> None:
    result = runner.invoke(app, ["up", "--detach"], env={"ARIA_HOME": str(tmp_path), "ARIA_PORT": "notaport"})
    assert result.exit_code == 2
    assert "ARIA_PORT" in result.output and "notaport" in result.output
    assert not (tmp_path / "run").exists()


def test_unknown_key_in_aria_toml_is_refused(tmp_path) -> None:
    config = tmp_path / "aria.toml"
    config.write_text('port = 8001\nprot = 8002\n')
    result = runner.invoke(app, ["up"], env={"ARIA_HOME": str(tmp_path), "ARIA_CONFIG": str(config)})
    assert result.exit_code == 2
    assert "ARIA_PROT" in result.output


def test_aria_toml_values_are_used(tmp_path, monkeypatch) -> None:
    from aria_actors.runtime.settings import load_settings

    config = tmp_path / "aria.toml"
    config.write_text('port = 8123\nhealth_interval_s = 0.5\n')
    monkeypatch.setenv("ARIA_CONFIG", str(config))
    monkeypatch.setenv("ARIA_HEALTH_INTERVAL_S", "3")
    settings = load_settings()
    assert settings.port == 8123 and settings.health_interval_s == 3  # env beats the file


def test_secrets_are_masked_in_the_settings_dump(monkeypatch) -> None:
    from aria_actors.runtime.settings import load_settings

    monkeypatch.setenv("ARIA_DATABASE_URL", "postgresql://u:hunter2@db/aria")
    settings = load_settings()
    assert "hunter2" not in str(settings.public_dump()) and "hunter2" not in repr(settings)
    assert settings.database_url.get_secret_value().endswith("@db/aria")


def test_status_without_a_running_aria_is_one_red_line(tmp_path) -> None:
    result = runner.invoke(app, ["status"], env={"ARIA_HOME": str(tmp_path), "ARIA_PORT": "9"})
    assert result.exit_code == 1
    assert "cannot reach Aria" in result.output


def test_env_without_a_running_aria_exits_1(tmp_path) -> None:
    result = runner.invoke(app, ["env"], env={"ARIA_HOME": str(tmp_path)})
    assert result.exit_code == 1 and "aria up" in result.output


def test_the_boot_table_is_redrawn_for_changes_not_for_ticking_uptimes() -> None:
    from aria_actors.cli.commands import _boot_view

    def status(state: str, uptime: float) -> dict:
        return {"phase": "booting", "services": [
            {"name": "aria_security", "status": state, "restarts": 0, "message": "", "last_error": None,
             "node": "n1", "uptime_s": uptime}]}

    assert _boot_view(status("ready", 1.0)) == _boot_view(status("ready", 2.0))
    assert _boot_view(status("starting", 1.0)) != _boot_view(status("ready", 1.0))


def test_services_permissions_prints_who_may_do_what_without_a_running_aria() -> None:
    r = runner.invoke(app, ["services", "--permissions"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    rows = [line for line in r.output.splitlines() if "POST /v1/storage/gc" in line]
    assert rows and "storage:store:gc@any" in rows[0]
    cells = [c.strip() for c in rows[0].split("│")]
    # admin, operator allowed; editor, viewer, user, service, anonymous refused
    assert cells[-8:-1] == ["✓", "✓", "·", "·", "·", "·", "·"], cells
    assert "security:secret:read@any" in r.output  # not turned into an emoji
