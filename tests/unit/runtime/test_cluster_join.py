"""Joining a Ray cluster: its own token, never a new one; a clear error in seconds when it is away."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from aria_actors.cli.localcluster import (
    LOOPBACK_ENV,
    ClusterUnreachable,
    LocalCluster,
    NoClusterToken,
    _check_reachable,
    cluster_token_path,
)
from aria_actors.runtime.settings import AriaSettings


@pytest.fixture
def no_ray_env(monkeypatch, tmp_path) -> Path:
    for name in ("RAY_AUTH_TOKEN_PATH", "RAY_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    return tmp_path


def _settings(home: Path, **kw) -> AriaSettings:
    return AriaSettings(home=home / "aria", **kw)


def test_the_configured_token_file_is_used(no_ray_env) -> None:
    token = no_ray_env / "cluster_token"
    token.write_text("abc")
    s = _settings(no_ray_env, ray_address="10.0.0.1:6379", ray_token_path=str(token))
    assert cluster_token_path(s) == token
    cluster = LocalCluster(s)
    assert cluster.token_path == token and cluster.ensure_token() == token
    assert not (s.home / "ray" / "auth_token").exists()  # no token of Aria's own is created


def test_ray_variables_and_the_home_default_come_next(no_ray_env, monkeypatch) -> None:
    s = _settings(no_ray_env, ray_address="10.0.0.1:6379")
    default = no_ray_env / "user" / ".ray" / "auth_token"
    default.parent.mkdir(parents=True)
    default.write_text("home-token")
    assert cluster_token_path(s) == default
    monkeypatch.setenv("RAY_AUTH_TOKEN", "env-token")
    path = cluster_token_path(s)
    assert path.read_text() == "env-token" and oct(path.stat().st_mode & 0o777) == "0o600"


def test_no_token_anywhere_names_where_it_looked(no_ray_env) -> None:
    s = _settings(no_ray_env, ray_address="10.0.0.1:6379", ray_token_path=str(no_ray_env / "nope"))
    with pytest.raises(NoClusterToken) as caught:
        LocalCluster(s).ensure_token()
    assert str(no_ray_env / "nope") in caught.value.message
    assert "ARIA_RAY_TOKEN_PATH" in caught.value.message


def test_an_address_nobody_answers_fails_at_once_naming_the_setting() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(ClusterUnreachable) as caught:
            _check_reachable(f"127.0.0.1:{port}")
    assert "ARIA_RAY_ADDRESS" in caught.value.message
    _check_reachable("auto")  # left to Ray


def test_the_local_head_is_loopback_by_default(no_ray_env) -> None:
    local = LocalCluster(_settings(no_ray_env))
    assert local.ray_env()[LOOPBACK_ENV] == "0"
    assert local.token_path == no_ray_env / "aria" / "ray" / "auth_token"
    wide = LocalCluster(_settings(no_ray_env, ray_node_ip="192.0.2.10"))
    assert LOOPBACK_ENV not in wide.ray_env()


def test_the_token_value_is_written_atomically_and_never_through_a_symlink(no_ray_env, monkeypatch) -> None:
    s = _settings(no_ray_env, ray_address="10.0.0.1:6379")
    victim = no_ray_env / "victim"
    victim.write_text("keep me")
    folder = s.home / "ray"
    folder.mkdir(parents=True)
    (folder / "cluster_token").symlink_to(victim)
    monkeypatch.setenv("RAY_AUTH_TOKEN", "env-token")
    path = cluster_token_path(s)
    assert victim.read_text() == "keep me" and not path.is_symlink()
    assert path.read_text() == "env-token" and oct(path.stat().st_mode & 0o777) == "0o600"
    before = path.stat().st_ino
    assert cluster_token_path(s).stat().st_ino == before  # unchanged content: not rewritten


def test_a_joined_state_is_never_taken_for_a_local_head(no_ray_env, monkeypatch) -> None:
    """`aria down` without ARIA_RAY_ADDRESS after joining a cluster must not stop processes
    carrying this home's token path: it says how to run it instead."""
    from aria_actors.cli.localcluster import JoinedCluster

    token = no_ray_env / "cluster_token"
    token.write_text("abc")
    joined = LocalCluster(_settings(no_ray_env, ray_address="127.0.0.1:6379", ray_token_path=str(token)))
    state = joined.record_join()
    assert state.pid == 0 and state.joined == "127.0.0.1:6379"
    assert joined.running() == state
    local = LocalCluster(_settings(no_ray_env))
    with pytest.raises(JoinedCluster) as caught:
        local.running()
    assert "ARIA_RAY_ADDRESS=127.0.0.1:6379" in caught.value.message
