"""Validation at the text door: every bad input is InvalidText (or InvalidFeatures for k) naming
the field and the limit, and a huge string is refused by its length, before it is scanned."""

from __future__ import annotations

import pytest

from aria_actors.interpret.errors import InvalidFeatures, InvalidText
from aria_actors.interpret.text import validate
from aria_actors.interpret.text.analyzer import TextAnalyzer


def test_a_good_text_is_returned_as_given() -> None:
    text = "  A brave knight.\n\tShe is kind.\r\n"
    assert validate.text(text) is text


@pytest.mark.parametrize("value", ["", "   ", "\n\t \r\n"])
def test_blank_text_is_refused(value: str) -> None:
    with pytest.raises(InvalidText, match="blank") as info:
        validate.text(value)
    assert info.value.fields["field"] == "text"


@pytest.mark.parametrize("value", [None, 42, b"bytes", ["a list"]])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidText, match="must be a string"):
        validate.text(value)


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x0b"])
def test_control_characters_are_refused_with_their_offset(char: str) -> None:
    with pytest.raises(InvalidText, match="control character") as info:
        validate.text(f"A brave{char} knight.")
    assert info.value.fields["offset"] == 7


def test_ten_megabytes_are_refused_by_length_before_any_scan_or_model() -> None:
    huge = "a" * (10 << 20) + "\x00"  # the NUL at the end would take a scan of 10 MB to find
    with pytest.raises(InvalidText, match=f"at most {validate.MAX_CHARS}") as info:
        validate.text(huge)
    assert info.value.fields["max_chars"] == validate.MAX_CHARS
    assert info.value.fields["chars"] == len(huge)
    assert "NUL" not in info.value.message and "control" not in info.value.message
    # the analyzer refuses it at the door: its embedder fails the test if anything touches it
    analyzer = TextAnalyzer(embedder=_Untouchable(), personality=False)
    for call in (lambda: analyzer.analyze(huge), lambda: analyzer.embed([huge]),
                 lambda: analyzer.similarity("fine", huge)):
        with pytest.raises(InvalidText, match="at most"):
            call()


def test_exactly_max_chars_is_taken() -> None:
    assert len(validate.text("a" * validate.MAX_CHARS)) == validate.MAX_CHARS


def test_batches_are_bounded_and_each_text_is_named() -> None:
    with pytest.raises(InvalidText, match=f"at most {validate.MAX_BATCH}"):
        validate.texts(["ok"] * (validate.MAX_BATCH + 1))
    with pytest.raises(InvalidText, match="empty"):
        validate.texts([])
    with pytest.raises(InvalidText, match="list of strings"):
        validate.texts("a plain string is not a batch")
    with pytest.raises(InvalidText) as info:
        validate.texts(["fine", "also fine", " "])
    assert info.value.fields["field"] == "texts[2]"
    with pytest.raises(InvalidText) as info:
        validate.texts(["fine", 3])
    assert info.value.fields["field"] == "texts[1]"
    assert validate.texts(("a", "b")) == ["a", "b"]


def test_traits_are_lines_lowercased_and_deduplicated() -> None:
    assert validate.traits(["Brave", "brave ", "quick  to anger"]) == ["brave", "quick to anger"]
    for bad, match in ((["ok", "two\nlines"], "one line"), (["x" * 65], "at most 64"), ([""], "blank"),
                       ("brave", "list of strings"), ([], "empty"), (["ok"] * 257, "at most 256")):
        with pytest.raises(InvalidText, match=match):
            validate.traits(bad)


def test_k_is_a_bounded_whole_number() -> None:
    assert validate.k(5) == 5
    for bad in (0, -1, validate.MAX_K + 1, 2.0, True, "3", None):
        with pytest.raises(InvalidFeatures, match="k must be"):
            validate.k(bad)


class _Untouchable:
    """An embedder that fails the test if anything asks it for a vector."""

    batch_size = 64

    def encode(self, texts: object) -> object:
        raise AssertionError("a model ran before validation refused the input")

    def load(self) -> object:
        raise AssertionError("a model loaded before validation refused the input")
