"""aria_security as a real Ray actor: typed errors across Ray, and a crash of the actor leaves no
orphaned OpenBao behind (the next actor stops it and unseals again)."""

from __future__ import annotations

import dataclasses
import os
import uuid

import pytest

from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import bind
from aria_actors.runtime.settings import AriaSettings
from aria_actors.security.client import SecurityClient
from aria_actors.security.errors import InvalidToken, SecretNotFound
from tests.fixtures.security import security_prerequisites

OPS = Principal.operator()

pytestmark = [pytest.mark.usefixtures("ray_session"), pytest.mark.slow]  # ~40 s: Ray + a fresh OpenBao


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


async def test_actor_calls_and_crash_recovery(tmp_path) -> None:
    reason = security_prerequisites()
    if reason:
        pytest.skip(reason)
    import ray

    from aria_actors.runtime.shell import RayLauncher, RayServiceClient
    from aria_actors.security.service import SPEC

    name = f"t{uuid.uuid4().hex[:6]}_aria_security"
    spec = dataclasses.replace(SPEC, name=name)
    settings = AriaSettings(home=tmp_path, namespace="aria-test", openbao_url="")
    launcher = RayLauncher(settings)
    unit = await launcher.launch(spec)
    await unit.start(())
    client = bind(SecurityClient, RayServiceClient(name, "aria-test", timeout_s=60))
    try:
        assert (await unit.health()).status.value == "ready"
        await client.kv_put(OPS, "services/aria_data/dsn", {"url": "postgresql://x"})
        assert await client.kv_get(OPS, "services/aria_data/dsn") == {"url": "postgresql://x"}
        ct = await client.encrypt(OPS, "aria_data", b"\x00\x01")
        assert await client.decrypt(OPS, "aria_data", ct) == b"\x00\x01"
        with pytest.raises(SecretNotFound):
            await client.kv_get(OPS, "services/aria_data/none")
        with pytest.raises(InvalidToken):
            await client.verify_token(OPS, "not.a.jwt")
        with pytest.raises(Forbidden):  # the permission check runs inside the actor, for every door
            await client.issue_token(Principal("alice", ("user",)), "alice", {"roles": ["admin"]}, 60)
        bao_pid = int((tmp_path / "openbao" / "bao.pid").read_text())
        assert _alive(bao_pid)

        ray.kill(unit.handle, no_restart=True)  # the actor dies without stop(): bao is orphaned
        unit = await launcher.launch(spec)
        await unit.start(())
        client = bind(SecurityClient, RayServiceClient(name, "aria-test", timeout_s=60))
        assert not _alive(bao_pid)  # the new actor stopped the orphan before starting its own
        assert await client.kv_get(OPS, "services/aria_data/dsn") == {"url": "postgresql://x"}
        new_pid = int((tmp_path / "openbao" / "bao.pid").read_text())
    finally:
        await unit.stop()
        ray.kill(unit.handle, no_restart=True)
    assert not _alive(new_pid)
    assert not os.path.exists(tmp_path / "openbao" / "bao.pid")
