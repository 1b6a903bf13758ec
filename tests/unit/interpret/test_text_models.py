"""The model-backed parts of the text core, on crafted sentences: embeddings (equal to the shared
embedder's, unit length, order kept), entities, traits said of the character, sentiment signs,
traits-vs-description consistency. spaCy, MiniLM and the personality head load once (module
fixtures over process-wide models)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("spacy")
pytest.importorskip("vaderSentiment")

from aria_actors.interpret.text import entities as ents
from aria_actors.interpret.text.analyzer import TextAnalyzer
from aria_actors.interpret.text.embed import embed
from aria_actors.interpret.text.sentiment import sentiment
from aria_actors.shape.characters.corpus import TRAITS
from aria_actors.shape.characters.embedding import default_embedder


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory: pytest.TempPathFactory) -> TextAnalyzer:
    import torch

    torch.set_num_threads(1)
    return TextAnalyzer(personality_cache_dir=tmp_path_factory.mktemp("personality"))


def _traits(text: str, name: str | None = None) -> dict[str, bool]:
    """trait -> negated, of what ``text`` says of its character."""
    return {m.trait: m.negated for m in ents.character_traits(ents.parse([text])[0], name)}


# -- embeddings ----------------------------------------------------------------------------------
def test_embeddings_equal_the_shared_embedder_in_the_callers_order(analyzer: TextAnalyzer) -> None:
    texts = ["A knight.", "A brave and kind knight who travels in the forest and sings to the birds.",
             "She is calm.", "word " * 300, "Mara Voss is a healer from Paris."]
    mine = np.array(analyzer.embed(texts))
    reference = default_embedder().encode(texts)  # its own order, no sorting
    assert mine.shape == (5, 384)
    np.testing.assert_allclose(mine, reference, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    assert embed([]).shape == (0, 384)


def test_similarity_ranks_paraphrases_above_unrelated_text(analyzer: TextAnalyzer) -> None:
    close = analyzer.similarity("A brave knight who fights dragons.", "A courageous warrior who battles dragons.")
    far = analyzer.similarity("A brave knight who fights dragons.", "The invoice is due on Friday.")
    assert -1.0 <= far < close <= 1.0 and close > far + 0.3
    assert analyzer.similarity("She is kind.", "She is kind.") == pytest.approx(1.0, abs=1e-4)


# -- entities and traits -------------------------------------------------------------------------
def test_entities_find_the_person_and_the_place() -> None:
    text = "Mara Voss is a brave knight from Paris."
    found = {(e["text"], e["label"]) for e in ents.entities(ents.parse([text])[0])}
    assert ("Mara Voss", "PERSON") in found and ("Paris", "GPE") in found
    for e in ents.entities(ents.parse([text])[0]):
        assert text[e["start"]:e["end"]] == e["text"]


@pytest.mark.parametrize(("text", "want"), [
    ("A brave, kind and wise knight who travels in the forest.", {"brave": False, "kind": False, "wise": False}),
    ("Mara is a loyal healer. She is not greedy, but she seems rather stubborn.",
     {"loyal": False, "greedy": True, "stubborn": False}),
    ("A gentle monk who fights a cruel dragon in the mountains.", {"gentle": False}),  # cruel: the dragon's
    ("He is never cruel and seems to be patient.", {"cruel": True, "patient": False}),
    ("A pacifist monk who is humble and reckless.", {"pacifist": False, "humble": False, "reckless": False}),
    ("I am shy and curious.", {"shy": False, "curious": False}),
    ("The old farmer is lazy. Everyone says the merchant is greedy.", {"old": False, "lazy": False}),
])
def test_traits_said_of_the_character(text: str, want: dict[str, bool]) -> None:
    got = _traits(text)
    assert {t: n for t, n in got.items() if t in want or t in TRAITS} == want


def test_traits_are_normalised_and_phrases_kept() -> None:
    doc = ents.parse(["She was the kindest and wisest of healers; she is happier now. "
                      "She is very brave and full of hope and joy."])[0]
    mentions = ents.character_traits(doc)
    assert {m.trait for m in mentions} == {"kind", "wise", "happy", "brave", "full of hope"}
    assert next(m for m in mentions if m.trait == "brave").phrase == "very brave"
    for m in mentions:
        assert doc.text[m.start:m.end] == m.text and 0 < m.confidence <= 1 and not m.negated


def test_a_name_keeps_other_peoples_traits_out() -> None:
    text = "Mara is brave. Tomas is lazy."
    assert set(_traits(text)) >= {"brave", "lazy"}
    assert set(_traits(text, name="Mara")) == {"brave"}


def test_traits_map_onto_a_vocabulary_by_meaning_not_by_opposite(analyzer: TextAnalyzer) -> None:
    out = analyzer.analyze("A courageous and compassionate knight. He is never cowardly.",
                           vocabulary=["brave", "kind", "cowardly", "greedy"])
    mapped = {(m["trait"], m["negated"]): m for m in out["mapped_traits"]}
    assert set(mapped) == {("brave", False), ("kind", False), ("cowardly", True)}
    assert mapped[("brave", False)]["source"] == "courageous"
    assert mapped[("cowardly", True)]["similarity"] == 1.0
    assert all(0 < m["confidence"] <= 1 for m in mapped.values())
    # an antonym is not mapped onto its opposite even though MiniLM puts them close
    out = analyzer.analyze("A cowardly knight.", vocabulary=["brave", "kind"])
    assert out["mapped_traits"] == []


# -- sentiment -----------------------------------------------------------------------------------
def test_sentiment_signs_per_text_and_per_sentence() -> None:
    text = "She is kind and generous. He is cruel and bitter. The castle is on a hill."
    s = sentiment(text)
    assert [x["label"] for x in s["sentences"]] == ["positive", "negative", "neutral"]
    assert s["sentences"][0]["compound"] > 0.3 and s["sentences"][1]["compound"] < -0.3
    assert text[s["sentences"][1]["start"]:s["sentences"][1]["end"]] == "He is cruel and bitter."
    for x in (s, *s["sentences"]):
        assert -1 <= x["compound"] <= 1 and x["pos"] + x["neu"] + x["neg"] == pytest.approx(1, abs=2e-3)
    assert sentiment("She is not happy at all.")["compound"] < 0  # negation is read


# -- consistency ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("traits", "supported", "contradicted"), [
    (["brave", "kind"], "A brave and kind knight who protects the village.",
     "A cowardly and cruel knight who abandons the village."),
    (["brave", "kind"], "A courageous and compassionate knight.", "She is not brave, and she is never kind."),
    (["patient", "hopeful"], "He is patient and hopeful.", "He is impatient and hopeless."),
    (["generous", "honest"], "A generous and honest merchant.", "A merchant who is selfish and deceitful."),
    (["humble"], "A humble monk.", "An arrogant monk."),
])
def test_supported_descriptions_score_above_contradicting_ones(analyzer: TextAnalyzer, traits: list[str],
                                                                supported: str, contradicted: str) -> None:
    good = analyzer.analyze(supported, traits)["consistency"]
    bad = analyzer.analyze(contradicted, traits)["consistency"]
    assert good["score"] > 0.5 > -0.5 > bad["score"]
    assert set(good["supported"]) == set(traits) and not good["contradicted"]
    assert set(bad["contradicted"]) == set(traits) and not bad["supported"]
    for entry in good["traits"] + bad["traits"]:
        assert -1 <= entry["support"] <= 1


def test_absent_traits_are_unsupported_and_explained_words_count_once(analyzer: TextAnalyzer) -> None:
    c = analyzer.analyze("A brave and cruel knight from the harbour.", ["brave", "cruel", "loyal"])["consistency"]
    by = {t["trait"]: t for t in c["traits"]}
    assert by["brave"]["status"] == by["cruel"]["status"] == "supported"  # cruel does not contradict brave
    assert c["unsupported"] == ["loyal"] and by["loyal"]["source"] == "model"
    assert abs(by["loyal"]["support"]) < 0.4
    assert isinstance(c["model_consistency"], float)


def test_analyze_returns_json_and_the_embedding_when_asked(analyzer: TextAnalyzer) -> None:
    out = analyzer.analyze("Mara Voss is a brave knight from Paris.", ["brave"], embedding=True)
    assert json.loads(json.dumps(out)) == out
    assert set(out) == {"chars", "entities", "traits", "sentiment", "consistency", "embedding"}
    assert len(out["embedding"]) == 384
    assert "embedding" not in analyzer.analyze("A knight.")
