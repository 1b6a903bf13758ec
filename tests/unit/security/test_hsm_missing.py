"""A machine without SoftHSM2 gets a sentence naming what is missing and how to get it."""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
from pathlib import Path

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


def test_a_bare_library_name_is_found_where_the_loader_finds_it(tmp_path, monkeypatch) -> None:
    loaded: list[str] = []

    def cdll(name: str) -> object:
        loaded.append(name)
        if name != "libsofthsm2.so":
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        return object()

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    assert SoftHsm(tmp_path / "hsm", "libsofthsm2.so", "pin").missing(initialising=False) == ""
    missing = SoftHsm(tmp_path / "hsm", "libno-such-pkcs11.so", "pin").missing(initialising=False)
    assert "the PKCS#11 module libno-such-pkcs11.so" in missing
    assert loaded == ["libsofthsm2.so", "libno-such-pkcs11.so"]
    # a path is looked for where it says, never handed to the loader
    assert "no-such-module.so" in SoftHsm(tmp_path / "hsm", str(tmp_path / "no-such-module.so"), "pin").missing(
        initialising=False)
    assert loaded == ["libsofthsm2.so", "libno-such-pkcs11.so"]


def test_a_bare_library_name_that_really_loads() -> None:
    libc = ctypes.util.find_library("c")  # e.g. libc.so.6: a bare name on the loader's search path
    if libc is None:
        pytest.skip("no C library name to load on this platform")
    assert SoftHsm(Path("/nonexistent"), libc, "pin").missing(initialising=False) == ""
    assert "libno-such-pkcs11.so" in SoftHsm(Path("/nonexistent"), "libno-such-pkcs11.so", "pin").missing(
        initialising=False)
