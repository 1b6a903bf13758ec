"""A machine without SoftHSM2 gets a sentence naming what is missing and how to get it."""

from __future__ import annotations

import shutil

import pytest

from aria_actors.security.errors import HsmError
from aria_actors.security.hsm import SoftHsm


def test_missing_module_and_util_are_named_with_the_fix(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    hsm = SoftHsm(tmp_path / "hsm", str(tmp_path / "no-such-module.so"), "pin")
    with pytest.raises(HsmError) as caught:
        hsm.ensure()
    message = str(caught.value)
    assert "no-such-module.so" in message and "softhsm2-util" in message
    assert "apt-get install softhsm2" in message


def test_util_is_not_needed_once_the_token_exists(tmp_path, monkeypatch) -> None:
    module = tmp_path / "module.so"
    module.write_bytes(b"")
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    hsm = SoftHsm(tmp_path / "hsm", str(module), "pin")
    assert "softhsm2-util" in hsm.missing(initialising=True)
    assert hsm.missing(initialising=False) == ""
