"""A built service that cannot start makes `aria up --detach` fail, naming what is missing."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.fixtures.aria_up import ARIA, aria_env
from tests.fixtures.paths import REPO


@pytest.mark.long  # an `aria up` that fails after minutes of waiting (~30 s): in .ci/run
def test_up_detach_exits_non_zero_naming_the_missing_hsm() -> None:
    home = Path(f"/tmp/aria-e2e-{uuid.uuid4().hex[:8]}")
    env = {**aria_env(home), "ARIA_SECURITY_HSM_MODULE": "/nonexistent/libsofthsm2.so"}
    try:
        up = subprocess.run([ARIA, "up", "--detach"], env=env, cwd=REPO, capture_output=True,
                            text=True, timeout=900)
        out = up.stdout + up.stderr
        assert up.returncode == 1, out
        assert "aria_security" in out and "/nonexistent/libsofthsm2.so" in out
        assert "apt-get install softhsm2" in out
        assert "Traceback" not in out
    finally:
        subprocess.run([ARIA, "down"], env=env, cwd=REPO, capture_output=True, timeout=600)
        shutil.rmtree(home, ignore_errors=True)
