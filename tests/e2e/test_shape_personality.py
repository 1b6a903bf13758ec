"""aria_shape's trained personality model through the real stack: `aria up`, the gateway, the
shape actor in Ray (which loads the embedding model and trains or loads its head on first use)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.long  # its own `aria up` and a model trained in it (~1 min): in .ci/run

EXTRAVERT = "I love big parties. I talk to everyone there and I am always the center of attention."
INTROVERT = "I prefer to stay at home alone. I rarely speak to anyone and I avoid crowds."


@pytest.fixture(scope="module")
def admin_token(running_aria) -> str:
    return running_aria.aria("token", check=True).stdout.strip()


def _as(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _extraversion(url: str, token: str, text: str) -> float:
    # The first call loads torch and the embedding model in the actor (and may train the head).
    r = httpx.post(f"{url}/v1/shape/personality", headers=_as(token), json={"text": text}, timeout=180)
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out["model"]["cv_accuracy"]) == set("OCEAN")
    return out["scores"]["extraversion"]


def test_an_extravert_sentence_scores_higher_extraversion(running_aria, admin_token) -> None:
    extravert = _extraversion(running_aria.url, admin_token, EXTRAVERT)
    introvert = _extraversion(running_aria.url, admin_token, INTROVERT)
    assert extravert > introvert + 0.2, (extravert, introvert)


def test_bad_text_is_a_422_problem_through_the_gateway(running_aria, admin_token) -> None:
    for body in ({"text": ""}, {"text": "x" * 4001}):
        r = httpx.post(f"{running_aria.url}/v1/shape/personality", headers=_as(admin_token), json=body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")


def test_the_cli_prints_the_profile(running_aria, admin_token) -> None:
    out = running_aria.aria("shape", "personality", EXTRAVERT, "--trait", "cheerful",
                            env={"ARIA_TOKEN": admin_token})
    assert out.returncode == 0, out.stderr
    assert "extraversion" in out.stdout and "consistency" in out.stdout
