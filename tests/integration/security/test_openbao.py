"""The embedded OpenBao: production mode, HSM-wrapped unseal key, restart without a human."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import hvac
import pytest

from aria_actors.runtime.principal import Principal
from aria_actors.runtime.spec import Status
from aria_actors.security.errors import OpenBaoUnavailable, SecretAccessDenied

OPS = Principal.operator()  # direct calls skip the RPC gate; the caller is still recorded


async def test_started_in_production_mode_with_raft_and_audit(security) -> None:
    bao = security._bao
    config = json.loads((bao.dir / "config.json").read_text())
    assert "raft" in config["storage"]
    assert config["listener"][0]["tcp"]["address"].startswith("127.0.0.1:")
    cmdline = Path(f"/proc/{bao.process.pid}/cmdline").read_bytes().split(b"\0")
    assert not any(arg.startswith(b"-dev") for arg in cmdline)
    health = await security.health()
    assert health.status is Status.READY, health.message
    assert health.details["sealed"] is False
    assert bao.audit_log.stat().st_size > 0


async def test_unseal_key_is_only_stored_wrapped_by_a_non_extractable_hsm_key(security) -> None:
    bao = security._bao
    keys = sorted(p.name for p in bao.keys_dir.iterdir())
    assert keys == ["admin-token.wrapped.json", "unseal.wrapped.json"]  # no root token kept
    for name in keys:
        path = bao.keys_dir / name
        assert path.stat().st_mode & 0o077 == 0
        blob = json.loads(path.read_text())
        assert blob["alg"] == "AES-256-GCM" and set(blob) >= {"nonce", "ct", "purpose"}
    assert bao.hsm.key_attributes() == {"sensitive": True, "extractable": False}
    assert (bao.hsm.pin_path.stat().st_mode & 0o077) == 0


async def test_a_blob_does_not_open_for_another_purpose(security) -> None:
    from aria_actors.security.errors import UnsealError

    bao = security._bao
    with pytest.raises(UnsealError):
        bao.hsm.unwrap((bao.keys_dir / "unseal.wrapped.json").read_bytes(), "admin-token")


async def test_root_token_is_revoked_and_admin_token_is_narrow(security) -> None:
    client = security._client
    me = client.auth.token.lookup_self()["data"]
    assert "root" not in me["policies"] and "aria-admin" in me["policies"]
    # the admin policy cannot write policies or mount engines
    with pytest.raises(hvac.exceptions.Forbidden):
        client.sys.create_or_update_acl_policy("evil", 'path "*" { capabilities = ["sudo"] }')
    with pytest.raises(hvac.exceptions.Forbidden):
        client.sys.enable_secrets_engine("kv", path="other")


async def test_root_token_can_be_regenerated_with_the_unseal_key(security) -> None:
    root = security._bao.generate_root(security._client.token)
    client = hvac.Client(security._client.url, token=root)
    assert client.auth.token.lookup_self()["data"]["policies"] == ["root"]
    client.auth.token.revoke_self()
    with pytest.raises(hvac.exceptions.Forbidden):
        client.auth.token.lookup_self()


async def test_restart_reads_back_secrets_without_manual_unseal(security_harness) -> None:
    service = security_harness.service
    version = await service.kv_put(OPS, "services/aria_data/restart", {"v": "survives-restart"})
    ciphertext = await service.encrypt(OPS, "aria_data", b"envelope")
    token = await service.issue_token(OPS, "user-1", {"roles": ["viewer"]}, 600)
    service = await security_harness.restart()
    assert (await service.health()).status is Status.READY
    assert await service.kv_get(OPS, "services/aria_data/restart") == {"v": "survives-restart"}
    assert (await service.kv_versions(OPS, "services/aria_data/restart"))["current_version"] == version
    assert await service.decrypt(OPS, "aria_data", ciphertext) == b"envelope"
    assert (await service.verify_token(OPS, token))["sub"] == "user-1"


async def test_sealed_openbao_degrades_and_fails_fast(security) -> None:
    await security.seal(OPS)
    try:
        health = await security.health()
        assert health.status is Status.DEGRADED and "sealed" in health.message
        with pytest.raises(OpenBaoUnavailable):
            await security.kv_get(OPS, "services/aria_data/anything")
    finally:
        await security.unseal(OPS)
    assert (await security.health()).status is Status.READY


async def test_unreachable_openbao_degrades_and_fails_fast(security_harness) -> None:
    service = security_harness.service
    service._bao.stop()
    try:
        health = await service.health()
        assert health.status is Status.DEGRADED
        assert "not running" in health.message
        with pytest.raises(OpenBaoUnavailable):
            await service.kv_get(OPS, "services/aria_data/anything")
    finally:
        await security_harness.restart()
    assert (await security_harness.service.health()).status is Status.READY


async def test_a_killed_openbao_is_restarted_and_unsealed_by_the_service(security_harness) -> None:
    """kill -9 of the embedded server: health reports degraded, restarts it on the same storage and
    port, and answers ready again with every secret and signing key intact, without a hand."""
    service = security_harness.service
    await service.kv_put(OPS, "services/aria_data/killed", {"v": "acknowledged"})
    token = await service.issue_token(OPS, "user-k", {"roles": ["viewer"]}, 600)
    url, repairs = service._bao.url, (await service.health()).details["repairs"]
    os.kill(service._bao.process.pid, signal.SIGKILL)
    service._bao.process.wait()

    first = await service.health()
    assert first.status is Status.DEGRADED and "restarting" in first.message
    health = first
    for _ in range(600):  # bounded by attempts, not by a clock
        health = await service.health()
        if health.status is Status.READY:
            break
        assert health.status is Status.DEGRADED, health
        await asyncio.sleep(0.05)
    assert health.status is Status.READY, health
    assert health.details["repairs"] == repairs + 1
    assert service._bao.url == url
    assert await service.kv_get(OPS, "services/aria_data/killed") == {"v": "acknowledged"}
    assert (await service.verify_token(OPS, token))["sub"] == "user-k"


async def test_a_repair_that_keeps_failing_reports_failed_after_the_grace(security_harness,
                                                                          monkeypatch) -> None:
    service = security_harness.service
    monkeypatch.setattr(service._bao, "start", _refuse)
    monkeypatch.setattr(service, "config", service.config.model_copy(update={"openbao_repair_grace_s": 0.01}))
    os.kill(service._bao.process.pid, signal.SIGKILL)
    service._bao.process.wait()
    try:
        health = await service.health()
        for _ in range(200):
            await service._repair
            health = await service.health()
            if health.status is Status.FAILED:
                break
        assert health.status is Status.FAILED
        assert "could not be restarted" in health.message and "RuntimeError" in health.message
        assert "no HSM here" not in str(health)  # health is public: the text goes to the log only
    finally:
        monkeypatch.undo()
        await security_harness.restart()
    assert (await security_harness.service.health()).status is Status.READY


def _refuse() -> str:
    raise RuntimeError("no HSM here")


async def test_nothing_secret_on_disk_in_plaintext(security_harness) -> None:
    service = security_harness.service
    canary = "canary-" + os.urandom(12).hex()
    await service.kv_put(OPS, "services/aria_storage/canary", {"password": canary})
    ct = await service.encrypt(OPS, "aria_storage", canary.encode())
    assert (await service.kv_get(OPS, "services/aria_storage/canary"))["password"] == canary
    assert (await service.decrypt(OPS, "aria_storage", ct)).decode() == canary
    service = await security_harness.restart()  # flush raft and logs to disk
    hits = []
    for path in security_harness.home.rglob("*"):
        if path.is_file() and canary.encode() in path.read_bytes():
            hits.append(str(path))
    assert hits == []


async def test_service_scoped_calls_cannot_reach_another_service(security) -> None:
    storage = Principal.internal("aria_storage")  # scoped by who calls, not by an argument
    await security.kv_put(storage, "services/aria_storage/own", {"k": "v"})
    assert await security.kv_get(storage, "services/aria_storage/own") == {"k": "v"}
    await security.kv_put(OPS, "services/aria_queue/private", {"k": "q"})
    with pytest.raises(SecretAccessDenied) as err:
        await security.kv_get(storage, "services/aria_queue/private")
    assert err.value.status == 403
    with pytest.raises(SecretAccessDenied):
        await security.kv_put(storage, "services/aria_queue/private", {"k": "x"})
    with pytest.raises(SecretAccessDenied):
        await security.encrypt(storage, "aria_queue", b"x")
    with pytest.raises(SecretAccessDenied):  # nor by naming the other service
        await security.kv_get(storage, "services/aria_queue/private", service="aria_queue")
    with pytest.raises(SecretAccessDenied):  # an administrator's service= narrows its call
        await security.kv_get(OPS, "services/aria_queue/private", service="aria_storage")


async def test_service_token_is_enforced_by_openbao_itself(security) -> None:
    await security.kv_put(OPS, "services/aria_auth/signing", {"k": "a"})
    await security.kv_put(OPS, "shared/cluster", {"name": "aria"})
    grant = await security.service_token(OPS, "aria_storage")
    client = hvac.Client(grant["url"], token=grant["token"])
    assert client.secrets.kv.v2.read_secret_version(
        "shared/cluster", mount_point="secret", raise_on_deleted_version=True)["data"]["data"] == {
        "name": "aria"}
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("services/aria_auth/signing", mount_point="secret",
                                                 raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.create_or_update_secret("shared/cluster", {"x": 1}, mount_point="secret")
    with pytest.raises(SecretAccessDenied):
        await security.service_token(OPS, "not_a_service")
    from aria_actors.runtime.errors import Forbidden

    with pytest.raises(Forbidden):  # a service gets its own OpenBao token, not another's
        await security.service_token(Principal.internal("aria_queue"), "aria_storage")


async def test_an_older_home_is_reconfigured_with_a_short_lived_root(security_harness) -> None:
    from aria_actors.security.openbao import BOOTSTRAP_MARK, BOOTSTRAP_VERSION

    def revokes() -> int:
        lines = security_harness.service._bao.audit_log.read_text().splitlines()
        return sum(1 for line in lines
                   if '"auth/token/revoke-self"' in line and '"type":"response"' in line)

    service = security_harness.service
    service._client.secrets.kv.v2.create_or_update_secret(BOOTSTRAP_MARK, {"version": 1},
                                                          mount_point="secret")
    before = revokes()
    service = await security_harness.restart()
    assert service._bao._configured_version(service._client.token) == BOOTSTRAP_VERSION
    assert sorted(p.name for p in service._bao.keys_dir.iterdir()) == [
        "admin-token.wrapped.json", "unseal.wrapped.json"]
    assert revokes() == before + 1  # the root token generated for the upgrade was revoked
    service = await security_harness.restart()
    assert revokes() == before + 1  # an up-to-date home needs no root token at all


async def test_external_openbao_is_used_and_not_started(security, tmp_path) -> None:
    from aria_actors.runtime.service import Deps
    from aria_actors.runtime.settings import AriaSettings
    from aria_actors.security.config import SecurityConfig
    from aria_actors.security.service import SecurityService

    await security.kv_put(OPS, "services/aria_debugger/ext", {"k": "from-embedded"})
    external = SecurityService(
        AriaSettings(home=tmp_path, openbao_url=security._client.url),
        SecurityConfig(openbao_token=security._client.token, rotation_check_s=0))
    await external.start(Deps())
    try:
        health = await external.health()
        assert health.status is Status.READY and health.details["embedded"] is False
        assert await external.kv_get(OPS, "services/aria_debugger/ext") == {"k": "from-embedded"}
        assert not (tmp_path / "openbao").exists()
    finally:
        await external.stop()
    assert (await security.health()).status is Status.READY  # stopping it left the server alone


async def test_external_openbao_with_approle_login(security, tmp_path) -> None:
    from aria_actors.runtime.service import Deps
    from aria_actors.runtime.settings import AriaSettings
    from aria_actors.security.config import SecurityConfig
    from aria_actors.security.service import SecurityService

    approle = security._client.auth.approle
    role_id = approle.read_role_id("aria-security")["data"]["role_id"]
    secret_id = approle.generate_secret_id("aria-security")["data"]["secret_id"]
    external = SecurityService(
        AriaSettings(home=tmp_path, openbao_url=security._client.url),
        SecurityConfig(approle_role_id=role_id, approle_secret_id=secret_id, rotation_check_s=0))
    await external.start(Deps())
    try:
        assert "aria-admin" in external._client.auth.token.lookup_self()["data"]["policies"]
        await external.kv_put(OPS, "services/aria_debugger/approle", {"k": "v"})
        assert await security.kv_get(OPS, "services/aria_debugger/approle") == {"k": "v"}
    finally:
        await external.stop()
    bad = SecurityService(
        AriaSettings(home=tmp_path, openbao_url=security._client.url),
        SecurityConfig(approle_role_id=role_id, approle_secret_id="wrong", rotation_check_s=0))
    from aria_actors.security.errors import SecurityError

    with pytest.raises(SecurityError):
        await bad.start(Deps())


async def test_health_renews_the_periodic_admin_token(security) -> None:
    import time

    from aria_actors.security.service import RENEW_EVERY_S

    stale = time.monotonic() - RENEW_EVERY_S - 1
    security._renewed_at = stale
    assert (await security.health()).status is Status.READY
    after = security._client.auth.token.lookup_self()["data"]
    assert security._renewed_at > stale and after["period"] == 768 * 3600
    # Renewed just now: the TTL is back at the full period (less the seconds the lookup took).
    # Comparing with a TTL read before the probe raced the clock's second boundary.
    assert after["ttl"] >= after["period"] - 5


async def test_calls_after_stop_fail_fast(tmp_path) -> None:
    from aria_actors.runtime.settings import AriaSettings
    from aria_actors.security.service import SecurityService

    service = SecurityService(AriaSettings(home=tmp_path, openbao_url=""))
    await service.stop()
    with pytest.raises(OpenBaoUnavailable, match="not started"):
        await service.encrypt(OPS, "aria_data", b"x")
