"""Paths, policies, audit records, lockout, config and the service shell (no servers)."""

from __future__ import annotations

import json

import pytest

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status
from aria_actors.security import policies
from aria_actors.security.audit import AuditLog, Lockout
from aria_actors.security.config import SecurityConfig
from aria_actors.security.errors import InvalidSecretPath, OpenBaoUnavailable
from aria_actors.security.secrets import check_key_name, check_path

OPS = Principal.operator()


@pytest.mark.parametrize("path", ["services/aria_storage/db", "shared/x", "a", "a/b.c/d-e_f"])
def test_good_paths(path) -> None:
    assert check_path(path) == path


@pytest.mark.parametrize("path", ["", "/a", "a/", "a//b", "a/../b", "a/./b", "a b", "a/b?c", None, "é"])
def test_bad_paths(path) -> None:
    with pytest.raises(InvalidSecretPath):
        check_path(path)


def test_list_prefix_may_be_empty() -> None:
    assert check_path("", allow_empty=True) == ""
    assert check_path("services/", allow_empty=True) == "services"


def test_key_names() -> None:
    assert check_key_name("aria_storage-chunks") == "aria_storage-chunks"
    for bad in ("", "a/b", "x" * 200, "a.b"):
        with pytest.raises(InvalidSecretPath):
            check_key_name(bad)


def test_service_policy_is_scoped() -> None:
    hcl = policies.service_policy("aria_storage")
    assert 'path "secret/data/services/aria_storage/*"' in hcl
    assert "aria_queue" not in hcl and "sudo" not in hcl
    assert 'path "secret/data/shared/*" { capabilities = ["read"] }' in hcl
    with pytest.raises(ValueError):
        policies.service_policy('x" { capabilities = ["sudo"] } path "*')
    assert "aria_security" in policies.service_names() and len(policies.service_names()) == 14
    assert "sys/policies" not in policies.ADMIN_POLICY_HCL and "sys/mounts" not in policies.ADMIN_POLICY_HCL


def test_audit_log_is_private_json_lines(tmp_path) -> None:
    log = AuditLog(tmp_path / "a" / "audit.log")
    log.record("aria_storage", "kv_get", "services/aria_storage/x", "ok")
    log.record("bob", "authorize", "storage:asset:write", "denied")
    log.close()
    log.record("late", "x", "y", "ok")  # after close: dropped, not an error
    lines = [json.loads(x) for x in (tmp_path / "a" / "audit.log").read_text().splitlines()]
    assert [r["actor"] for r in lines] == ["aria_storage", "bob"]
    assert set(lines[0]) == {"ts", "actor", "op", "target", "outcome"}
    assert (tmp_path / "a" / "audit.log").stat().st_mode & 0o077 == 0


def test_lockout_window_and_expiry() -> None:
    lock = Lockout(threshold=3, window_s=10, lockout_s=100)
    assert not lock.denied("m", now=0) and not lock.denied("m", now=1)
    assert not lock.denied("m", now=20)  # the first two fell out of the window
    assert not lock.denied("m", now=21)
    assert lock.denied("m", now=22) and lock.alerts == 1
    assert lock.locked("m", now=50) and not lock.locked("other", now=50)
    assert not lock.locked("m", now=123)


def test_config_fails_closed(monkeypatch) -> None:
    with pytest.raises(ValueError):
        SecurityConfig(jwt_max_ttl_s=0)
    with pytest.raises(ValueError):
        SecurityConfig(unknown_knob=1)
    with pytest.raises(ValueError, match="exceeds"):
        SecurityConfig(jwt_default_ttl_s=7200, jwt_max_ttl_s=3600)
    monkeypatch.setenv("ARIA_SECURITY_JWT_ISSUER", "aria-test")
    assert SecurityConfig().jwt_issuer == "aria-test"


async def test_service_before_start_is_honest(tmp_path) -> None:
    from aria_actors.security.service import SPEC, SecurityService

    service = SecurityService(AriaSettings(home=tmp_path))
    assert (await service.health()).status is Status.STARTING
    with pytest.raises(OpenBaoUnavailable):
        await service.kv_get(OPS, "services/aria_data/x")
    assert set(SPEC.capabilities) <= set(SPEC.features)
    await service.stop()  # safe without start


async def test_external_openbao_without_credentials_is_refused(tmp_path) -> None:
    from aria_actors.runtime.service import Deps
    from aria_actors.security.service import SecurityService

    service = SecurityService(AriaSettings(home=tmp_path, openbao_url="http://127.0.0.1:1"),
                              SecurityConfig())
    with pytest.raises(OpenBaoUnavailable, match="TOKEN"):
        await service.start(Deps())


async def test_rotation_loop_is_cancelled_on_stop(tmp_path) -> None:
    import asyncio

    from aria_actors.security.service import SecurityService

    service = SecurityService(AriaSettings(home=tmp_path), SecurityConfig(rotation_check_s=0.01))
    calls = []

    async def fake_rotate(max_age_s=None):
        calls.append(max_age_s)
        raise OpenBaoUnavailable("sealed")  # a failing tick is audited, the loop goes on

    class Audit:
        records = []

        def record(self, *a):
            self.records.append(a)

        def close(self):
            pass

    service.rotate_due_keys = fake_rotate
    service._audit = Audit()
    service._rotation_task = asyncio.create_task(service._rotation_loop())
    while len(calls) < 2:
        await asyncio.sleep(0.01)
    await service.stop()
    assert service._rotation_task is None
    assert Audit.records[0][1:] == ("scheduled_rotation", "", "error:openbao-unavailable")


async def test_in_process_security_lifecycle() -> None:
    from aria_actors.runtime.service import Deps
    from aria_actors.security.testing import InProcessSecurity

    service = InProcessSecurity()
    assert (await service.health()).status is Status.STARTING
    with pytest.raises(OpenBaoUnavailable):
        await service.kv_get(OPS, "services/aria_data/x")
    await service.start(Deps())
    assert (await service.health()).status is Status.READY
    token = await service.issue_token(OPS, "u", None, 10)
    assert (await service.verify_token(OPS, token))["sub"] == "u"
    await service.stop()
    assert (await service.health()).status is Status.STARTING
