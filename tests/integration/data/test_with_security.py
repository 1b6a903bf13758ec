"""DataService with the real aria_security (OpenBao): the DSN is stored and read back there."""

from __future__ import annotations

from pathlib import Path

import pytest

from aria_actors.data.service import ME, SECRET_PATH, DataService
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Status


@pytest.mark.asyncio(loop_scope="session")  # the security fixture lives on the session's loop
async def test_dsn_kept_in_aria_security(security, fresh_database: str, tmp_path: Path) -> None:
    deps = Deps({"aria_security": LocalClient(security)})
    first = DataService(AriaSettings(home=tmp_path, database_url=fresh_database))
    await first.start(deps)
    try:
        assert first.dsn_source == "ARIA_DATABASE_URL"
    finally:
        await first.stop()
    stored = await security.kv_get(ME, SECRET_PATH)
    data = stored.get("data", stored)
    assert data["url"] == fresh_database and data["embedded"] is False

    # Without the setting, the next start takes the URL from aria_security: nothing embedded.
    # prepare() (launch time, before aria_security is reachable) began an embedded server on
    # speculation; start() stops it again.
    second = DataService(AriaSettings(home=tmp_path, database_url=""))
    await second.prepare()
    early = second.embedded
    assert early is not None
    await second.start(deps)
    try:
        assert second.dsn_source == f"aria_security:{SECRET_PATH}" and second.embedded is None
        assert not early.is_running()
        assert await second.dsn(ME) == fresh_database
        h = await second.health()
        assert h.status == Status.READY and "aria_security" in h.details["dsn_source"]
    finally:
        await second.stop()
        await security.kv_destroy(ME, SECRET_PATH)  # the session's OpenBao is shared
