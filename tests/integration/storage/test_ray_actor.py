"""aria_storage as a real Ray actor: put/get/versions, typed errors and the permission check across Ray."""

from __future__ import annotations

import dataclasses
import os
import uuid

import pytest

from aria_actors.runtime.errors import Forbidden
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import bind
from aria_actors.runtime.settings import AriaSettings
from aria_actors.storage.client import StorageClient
from aria_actors.storage.errors import AssetNotFound

pytestmark = [pytest.mark.usefixtures("ray_session"), pytest.mark.slow,
              pytest.mark.asyncio(loop_scope="session")]


async def test_storage_actor(tmp_path, fresh_database) -> None:
    import ray

    from aria_actors.runtime.shell import RayLauncher, RayServiceClient
    from aria_actors.storage.service import SPEC

    name = f"t{uuid.uuid4().hex[:6]}_aria_storage"
    spec = dataclasses.replace(SPEC, name=name)
    settings = AriaSettings(home=tmp_path, namespace="aria-test", database_url=fresh_database,
                            storage_url=str(tmp_path / "store"))
    unit = await RayLauncher(settings).launch(spec)
    await unit.start(())
    storage = bind(StorageClient, RayServiceClient(name, "aria-test", timeout_s=60))
    op, user = Principal.operator(), Principal("u1", ("user",))
    try:
        health = await unit.health()
        assert health.status.value == "ready", health.message
        data = os.urandom(300_000)
        info = await storage.put(op, "actor/blob", data, metadata={"k": 1}, tags=["t"])
        assert info["version"] == 1
        assert await storage.get(user, "actor/blob") == data
        assert [v["version"] for v in await storage.versions(user, "actor/blob")] == [1]
        with pytest.raises(AssetNotFound):
            await storage.get(op, "actor/none")
        with pytest.raises(Forbidden):  # the check runs in the actor, whoever calls it
            await storage.gc(user, 0.0, True)
        with pytest.raises(Forbidden):
            await storage.delete_version(user, "actor/blob", 1)  # owned by the operator
    finally:
        await unit.stop()
        ray.kill(unit.handle, no_restart=True)
