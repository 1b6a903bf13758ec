from __future__ import annotations

import random

import pytest


@pytest.fixture(scope="session")
def structured_blob() -> bytes:
    """~1.5 MiB of text-like data with repeated structure (what character assets look like)."""
    rng = random.Random(7)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(500)]
    lines = []
    for i in range(40_000):
        lines.append(b"%d " % i + b" ".join(rng.choice(words) for _ in range(6)) + b"\n")
    return b"".join(lines)


@pytest.fixture(scope="session")
def random_blob() -> bytes:
    return random.Random(11).randbytes(1_300_000)
