"""DataService's choice of credentials, its spec, and DataConfig validation (no servers)."""

from __future__ import annotations

from typing import Any

import pytest

from aria_actors.data.config import load_data_config
from aria_actors.data.dsn import mask, validate
from aria_actors.data.errors import DatabaseUrlInvalid
from aria_actors.data.service import ME, SECRET_PATH, SPEC, DataService
from aria_actors.runtime.errors import ConfigError, NotFound
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.service import Deps
from aria_actors.runtime.settings import AriaSettings


class SecretsStore:
    """In-process stand-in for aria_security's kv_get/kv_put (unit tests only): a transport, so
    aria_data reaches it through its typed SecurityClient as it reaches the real service."""

    name = "aria_security"

    def __init__(self, data: dict[str, dict[str, Any]] | None = None) -> None:
        self.data = dict(data or {})
        self.puts: list[tuple[str, dict[str, Any]]] = []
        self.callers: list[Principal] = []

    async def call(self, method: str, caller: Principal, *args: Any, **kwargs: Any) -> Any:
        self.callers.append(caller)
        if method == "kv_get":
            if args[0] not in self.data:
                raise NotFound("no secret", path=args[0])
            return self.data[args[0]]
        if method == "kv_put":
            self.data[args[0]] = args[1]
            self.puts.append((args[0], args[1]))
            return len(self.puts)
        raise AssertionError(method)


def _svc(url: str, store: SecretsStore | None) -> DataService:
    svc = DataService(AriaSettings(home="/tmp/aria-unit-unused", database_url=url))
    svc.config = load_data_config()
    svc.deps = Deps({"aria_security": store} if store else {})
    return svc


async def test_url_setting_wins_and_is_stored() -> None:
    store = SecretsStore({SECRET_PATH: {"url": "postgresql://old@h/db", "embedded": False}})
    svc = _svc("postgresql://u:pw@db.example/aria", store)
    assert await svc._resolve_dsn() == ("postgresql://u:pw@db.example/aria", "ARIA_DATABASE_URL")
    assert store.puts == [(SECRET_PATH, {"url": "postgresql://u:pw@db.example/aria",
                                         "embedded": False})]
    # aria_data reads its own secret as itself, never as whoever happens to call it.
    assert store.callers and set(store.callers) == {ME} and ME.is_internal
    # Unchanged: not written again.
    await svc._resolve_dsn()
    assert len(store.puts) == 1


async def test_secret_used_when_setting_is_empty() -> None:
    store = SecretsStore({SECRET_PATH: {"url": "postgresql://u:pw@vault-managed/aria",
                                        "embedded": False}})
    svc = _svc("", store)
    assert await svc._resolve_dsn() == ("postgresql://u:pw@vault-managed/aria",
                                        f"aria_security:{SECRET_PATH}")
    assert svc.embedded is None and store.puts == []


def test_settings_dump_masks_the_url() -> None:
    s = AriaSettings(home="/tmp/x", database_url="postgresql://u:topsecret@h/db")
    assert "topsecret" not in str(s.public_dump()) and "topsecret" not in repr(s)


def test_spec_capabilities_are_features() -> None:
    assert set(SPEC.capabilities) <= set(SPEC.features)
    # used by no service yet, so not counted as built (tests/unit/test_reachability.py)
    assert SPEC.missing == ("multi-tenant", "distributed-transactions")


def test_config_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="pool_min_size"):
        load_data_config(pool_min_size=5, pool_max_size=2)
    monkeypatch.setenv("ARIA_DATA_CONNECT_TIMEOUT_S", "-1")
    with pytest.raises(ConfigError, match="ARIA_DATA_CONNECT_TIMEOUT_S"):
        load_data_config()
    with pytest.raises(ConfigError):
        load_data_config(no_such_knob=1)


def test_validate_url() -> None:
    assert validate("postgresql://u@/db?host=/tmp/x") == "postgresql://u@/db?host=/tmp/x"
    with pytest.raises(DatabaseUrlInvalid, match="ARIA_X"):
        validate("http://u:p@h/db", setting="ARIA_X")
    assert mask("postgresql://u:p@h/db") == "postgresql://u:***@h/db"


class OpenBaoDatabase(SecretsStore):
    """Adds aria_security's db_creds/db_static_creds (unit tests only)."""

    async def call(self, method: str, caller: Principal, *args: Any, **kwargs: Any) -> Any:
        if method in ("db_creds", "db_static_creds"):
            self.callers.append(caller)
        if method == "db_creds":
            return {"username": f"v-{args[0]}-x1", "password": "p@ss/w0rd", "lease_id": "db/creds/1"}
        if method == "db_static_creds":
            return {"username": "aria_static", "password": "rotated"}
        return await super().call(method, caller, *args, **kwargs)


async def test_database_role_credentials_from_openbao() -> None:
    store = OpenBaoDatabase({SECRET_PATH: {"url": "postgresql://db.internal:5432/aria",
                                           "embedded": False, "db_role": "aria_data"}})
    svc = _svc("", store)
    dsn, source = await svc._resolve_dsn()
    assert dsn == "postgresql://v-aria_data-x1:p%40ss%2Fw0rd@db.internal:5432/aria"
    assert "aria_data" in source and svc.lease_id == "db/creds/1"
    store.data[SECRET_PATH]["db_role_kind"] = "static"
    assert (await svc._resolve_dsn())[0] == "postgresql://aria_static:rotated@db.internal:5432/aria"
    assert set(store.callers) == {ME}


async def test_start_fails_with_one_clear_error_for_a_bad_url() -> None:
    svc = DataService(AriaSettings(home="/tmp/aria-unit-unused",
                                   database_url="postgres://app:hunter2@db.example:notaport/x"))
    with pytest.raises(DatabaseUrlInvalid) as err:
        await svc.start(Deps())
    assert "ARIA_DATABASE_URL" in err.value.message and "hunter2" not in err.value.message
    assert (await svc.health()).status.value == "failed"
