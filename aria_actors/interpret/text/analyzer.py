"""``TextAnalyzer``: the one door to aria_interpret's character-text understanding. It validates,
then reads a description with the parts of this package and returns JSON-able dicts.

::

    analyze(text, traits?, vocabulary?, name?, embedding?)
        validate --> spaCy parse --+--> entities                       (entities.py)
                                   +--> traits said of the character   (entities.py)
                                   |      +--> mapped onto vocabulary  (MiniLM nearest neighbour)
                                   +--> sentiment per text, sentence   (sentiment.py, VADER)
                                   +--> consistency with traits        (consistency.py)
                 --> embedding (optional)                              (embed.py, shared MiniLM)
    embed(texts) -> unit vectors as lists;  similarity(a, b) -> cosine

Guarantees and caveats
----------------------
- All validation happens here (:mod:`.validate`): bad input raises ``InvalidText`` before any
  model runs; the parts below trust their input.
- Ray-free and import-light: spaCy, torch and the personality head load on first use, each once
  per process (shared by every analyzer: aria_shape's ``default_embedder`` and ``shared_model``).
- Thread-safe: each model serialises its own calls; an analyzer holds no per-call state.
- Outputs hold only str, int, float, bool, None, lists and dicts; floats are rounded to 4 places
  except embedding coordinates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aria_actors.interpret.text import entities as ents
from aria_actors.interpret.text import validate
from aria_actors.interpret.text.consistency import ConsistencyScorer, negated_lemmas
from aria_actors.interpret.text.embed import embed as embed_vectors
from aria_actors.interpret.text.lexicon import WordVectors
from aria_actors.interpret.text.sentiment import sentiment
from aria_actors.shape.characters.embedding import SentenceEmbedder, default_embedder

MAX_NAME_CHARS = 128  # a character's name (templates' Character.name)


class TextAnalyzer:
    """Understands character descriptions.

    ``personality``: True (aria_shape's shared Big-Five model, cached under ``personality_cache_dir``,
    loaded on the first consistency), False (consistency from the text alone), or a model.
    """

    def __init__(self, embedder: SentenceEmbedder | None = None, *, personality: Any = True,
                 personality_cache_dir: Path | None = None, map_threshold: float = ents.MAP_THRESHOLD) -> None:
        self.embedder = embedder or default_embedder()
        self.words = WordVectors(self.embedder)
        loader: Callable[[], Any] | None = None
        if personality is True:
            held: list[Any] = []

            def loader() -> Any:
                # shared_model hashes the model's files on every call: ask it once per analyzer
                if not held:
                    # heavy: torch and the personality head, on the first consistency
                    from aria_actors.shape.characters.personality import shared_model

                    held.append(shared_model(personality_cache_dir))
                return held[0]
        elif personality:
            model = personality

            def loader() -> Any:
                return model

        self.consistency = ConsistencyScorer(self.words, loader)
        self.mapper = ents.TraitMapper(self.words, map_threshold, self.consistency.opposition)

    def analyze(self, text: Any, traits: Any = None, *, vocabulary: Any = None, name: Any = None,
                embedding: bool = False) -> dict[str, Any]:
        """Entities, the traits the text gives its character (mapped onto ``vocabulary`` when
        given), sentiment, consistency with ``traits`` when given, and the embedding if asked."""
        text = validate.text(text)
        wanted = validate.traits(traits) if traits is not None else None
        vocab = validate.traits(vocabulary, "vocabulary") if vocabulary is not None else None
        who = validate.line(name, "name", MAX_NAME_CHARS) if name is not None else None
        doc = ents.parse([text])[0]
        mentions = ents.character_traits(doc, who)
        summary = ents.summarize(mentions)
        out: dict[str, Any] = {
            "chars": len(text),
            "entities": ents.entities(doc),
            "traits": summary,
            "sentiment": sentiment(text, [(s.start_char, s.end_char) for s in doc.sents]),
        }
        if vocab is not None:
            out["mapped_traits"] = self.mapper.map(summary, vocab)
        if wanted is not None:
            out["consistency"] = self.consistency.score(wanted, mentions, text, negated_lemmas(doc))
        if embedding:
            out["embedding"] = embed_vectors([text], self.embedder)[0].tolist()
        return out

    def embed(self, texts: Any) -> list[list[float]]:
        """Unit vectors (384 floats) of 1 to ``MAX_BATCH`` texts, in their order."""
        return embed_vectors(validate.texts(texts), self.embedder).tolist()

    def similarity(self, a: Any, b: Any) -> float:
        """Cosine of two texts' embeddings, in [-1, 1]."""
        u, v = embed_vectors([validate.text(a, "a"), validate.text(b, "b")], self.embedder)
        return round(max(-1.0, min(1.0, float(u @ v))), 4)

    def traits_of(self, texts: Sequence[str], name: str | None = None) -> list[list[dict[str, Any]]]:
        """The summarised traits of each text (batch form of ``analyze(...)["traits"]``)."""
        docs = ents.parse(validate.texts(texts))
        who = validate.line(name, "name", MAX_NAME_CHARS) if name is not None else None
        return [ents.summarize(ents.character_traits(d, who)) for d in docs]
