"""Asset-name namespaces and the text checks of aria_storage (``storage.names``, config)."""

from __future__ import annotations

import pytest

from aria_actors.storage.config import StorageConfig
from aria_actors.storage.names import TEXT_PATTERN, json_problem, subject_segment, text_problem, user_prefix


def test_a_subject_segment_is_path_safe_and_one_to_one():
    assert user_prefix("u1") == "users/u1/"
    assert subject_segment("alice@example.com") == "alice@example.com"
    assert subject_segment("svc:aria_shape") == "svc~3aaria_shape"
    assert subject_segment("a/b") == "a~2fb" and subject_segment("é") == "~c3~a9"
    assert subject_segment(".") == "~2e" and subject_segment("..") == "~2e."
    assert subject_segment("") == "~"
    subjects = ["a|b", "a~7cb", "a~b", "~", ".a", "~2ea", "a/b", "a~2fb", "", "\x00", "~00"]
    assert len({subject_segment(s) for s in subjects}) == len(subjects)
    for s in subjects:
        seg = subject_segment(s)
        assert "/" not in seg and seg not in (".", "..") and text_problem(seg) is None


def test_text_refuses_control_characters_and_surrogates():
    import re

    for bad in ("a\x00", "a\n", "\t", "\x7f", "\x85", "\x9f", "\ud800"):
        assert text_problem(bad), repr(bad)
    assert text_problem("") and text_problem("", allow_empty=True) is None
    assert text_problem(3) == "must be a string"
    for ok in ("shape/checkpoints/r/manifest", "héros/中", "a b", "\xa0"):
        assert text_problem(ok) is None and re.fullmatch(TEXT_PATTERN, ok)
    assert not re.fullmatch(TEXT_PATTERN, "a\x00b") and not re.fullmatch(TEXT_PATTERN, "a\x85")


def test_json_refuses_what_jsonb_cannot_store_at_any_depth():
    for bad in ({"k": "\x00"}, {"\x00": 1}, {"a": [1, {"b": ["\x00"]}]}, {"k": float("nan")},
                {"k": float("-inf")}, {"k": "\udfff"}, {"k": object()}, {1: "x"}):
        assert json_problem(bad), bad
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["n"] = node = {}
    assert "deeper" in json_problem(deep)
    assert json_problem({"k": ["line\n", "\t", 1, 2.5, True, None, {"x": "é"}]}) is None
    assert json_problem(None) is None


def test_reserved_prefixes_are_validated():
    assert StorageConfig().reserved_prefixes == ("shape/", "interpret/")
    assert StorageConfig(reserved_prefixes=("shape/", "queue/")).reserved_prefixes == ("shape/", "queue/")
    for bad in (("",), ("users/",), ("users/x/",), ("us",), ("a\x00/",)):
        with pytest.raises(ValueError):
            StorageConfig(reserved_prefixes=bad)
