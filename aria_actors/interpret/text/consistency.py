"""How well a description bears out a character's traits: per trait a support in [-1, 1], an
overall score, and which traits the text leaves unsupported or contradicts. aria_shape's generated
descriptions are scored by this.

Evidence for trait T, from each word the text says of the character (:mod:`.entities`)::

    word == T ("brave")                        +1          negated ("not brave")        -1
    synonym of T (MiniLM >= SYNONYM, same pull) +sim        negated                       -sim
    antonym of T (by form: "impatient", or       -1 / -sim   negated ("not cowardly")      +half
      related >= RELATED with opposite valence)
    T mentioned elsewhere (not of the character) +MENTIONED
    each scaled by the mention's confidence (relation); support = best for - best against

    no evidence at all: the personality model (aria_shape's Big-Five head) decides, damped to
    MODEL_WEIGHT: cosine between T's pull on the five dimensions and the text's profile

    status: supported (>= SUPPORTED), contradicted (<= -SUPPORTED), else absent

Guarantees and caveats
----------------------
- Support is in [-1, 1]; ``score`` is the traits' mean support, ``model_consistency`` the
  personality model's own cosine between the traits' and the text's profiles (None without it).
- A word that is (a synonym of) another listed trait is explained by that trait and counts for
  no other one; an unexplained opposite counts only against the trait it is most related to, so
  "a brave and cruel knight" contradicts ``kind`` and not ``brave``.
- The personality model alone never makes a trait supported or contradicted (its weight stays
  under the thresholds): it shares MiniLM's blind spots (negation) and reads only the Big-Five
  side of a trait. It ranks absent traits, which helps the overall score separate texts.
- Antonyms without a form rule or a VADER valence (humble/arrogant, pacifist/bloodthirsty) are
  not caught as such; a trait with no lexical cue at all is read by the model only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from aria_actors.interpret.text.entities import CONFIDENCE, MAP_THRESHOLD, Mention
from aria_actors.interpret.text.lexicon import NEGATORS, Opposition, WordVectors, morphological_antonyms

SUPPORTED = 0.4  # |support| from which a trait counts as supported / contradicted
SYNONYM = MAP_THRESHOLD
RELATED = 0.45  # an opposite-valence word this related to a trait speaks against it
MENTIONED = 0.25  # the trait word is in the text but not said of the character
NEGATED_OPPOSITE = 0.5  # "not cowardly" says less for brave than "brave" does
MODEL_WEIGHT = 0.35
DEVIATION_SCALE = 0.1  # a text profile this far from neutral counts fully


def _round(x: float) -> float:
    return round(float(x), 4)


class ConsistencyScorer:
    """Scores traits against a parsed description; ``personality`` is aria_shape's model (or a
    callable returning it, for lazy loading) or None to leave it out."""

    def __init__(self, words: WordVectors, personality: Callable[[], Any] | None = None) -> None:
        self.words = words
        self._personality = personality
        self.opposition = Opposition(personality)

    def personality(self) -> Any:
        return self._personality() if self._personality is not None else None

    def score(self, traits: Sequence[str], mentions: Sequence[Mention], text: str,
              lemmas: Sequence[tuple[str, bool]] = ()) -> dict[str, Any]:
        """``traits``: validated, lower-cased; ``mentions``: :func:`.entities.character_traits` of the text;
        ``lemmas``: every (lemma, negated) of the text, for traits mentioned but not of the character."""
        traits = list(traits)
        words = [m.trait for m in mentions]
        sims = (self.words(traits) @ self.words(words).T) if words else np.zeros((len(traits), 0))
        explained = self._explained(traits, words, sims)
        nearest = sims.argmax(0) if words else np.zeros(0, dtype=int)
        model, personality = self._model(traits, text)
        out = []
        for i, t in enumerate(traits):
            evidence = []
            for j, m in enumerate(mentions):
                ev = self._evidence(t, m, float(sims[i, j]), explained[j] not in (None, i), nearest[j] == i)
                if ev is not None:
                    evidence.append(ev)
            if not evidence:
                said = [neg for lemma, neg in lemmas if lemma == t]
                if said:
                    value = MENTIONED * (-1 if all(said) else 1)
                    evidence.append({"word": t, "relation": "mentioned", "negated": all(said), "value": value})
            if evidence:
                support = max([e["value"] for e in evidence if e["value"] > 0], default=0.0) - max(
                    [-e["value"] for e in evidence if e["value"] < 0], default=0.0)
                source = "text"
            else:
                support = MODEL_WEIGHT * model[i] if model is not None else 0.0
                source = "model" if model is not None else "none"
            support = float(np.clip(support, -1.0, 1.0))
            status = "supported" if support >= SUPPORTED else "contradicted" if support <= -SUPPORTED else "absent"
            out.append({"trait": t, "support": _round(support), "status": status, "source": source,
                        "model": None if model is None else _round(model[i]),
                        "evidence": [{**e, "value": _round(e["value"])} for e in evidence]})
        return {
            "score": _round(np.mean([o["support"] for o in out])) if out else 0.0,
            "traits": out,
            "supported": [o["trait"] for o in out if o["status"] == "supported"],
            "unsupported": [o["trait"] for o in out if o["status"] == "absent"],
            "contradicted": [o["trait"] for o in out if o["status"] == "contradicted"],
            "model_consistency": personality,
        }

    def _explained(self, traits: list[str], words: list[str], sims: np.ndarray) -> list[int | None]:
        """Per mention the listed trait it is (or is a synonym of), None when none."""
        out: list[int | None] = []
        for j, w in enumerate(words):
            same = [i for i, t in enumerate(traits) if t == w]
            if same:
                out.append(same[0])
                continue
            best = int(sims[:, j].argmax()) if len(traits) else -1
            ok = best >= 0 and sims[best, j] >= SYNONYM and self.opposition(traits[best], w) is None
            out.append(best if ok else None)
        return out

    def _evidence(self, trait: str, m: Mention, sim: float, other: bool, nearest: bool) -> dict[str, Any] | None:
        """What mention ``m`` says about ``trait`` (None: nothing). ``other``: another trait explains it;
        ``nearest``: ``trait`` is the listed trait most related to it."""
        weight = min(1.0, m.confidence / CONFIDENCE["amod"])
        if trait in (m.trait, m.word):
            relation, value = "same", 1.0
        elif other:
            return None
        else:
            # the model behind Opposition is asked only about related words (it is noisy on others)
            why = "form" if morphological_antonyms(trait, m.trait) else (
                self.opposition(trait, m.trait) if sim >= RELATED else None)
            if why == "form":
                relation, value = "antonym", -1.0
            elif why is None and sim >= SYNONYM:
                relation, value = "synonym", sim
            elif nearest and ((why == "valence" and sim >= RELATED) or (why == "model" and sim >= SYNONYM)):
                relation, value = "antonym", -min(1.0, sim / SYNONYM)
            else:
                return None
        if m.negated:
            value = -value if value > 0 else -value * NEGATED_OPPOSITE
        return {"word": m.trait, "phrase": m.phrase, "start": m.start, "end": m.end, "relation": relation,
                "negated": m.negated, "value": value * weight}

    def _model(self, traits: list[str], text: str) -> tuple[np.ndarray | None, float | None]:
        """Per trait the cosine between its pull on the Big Five and the text's, damped when the text
        is near neutral; and the model's own traits-vs-text consistency."""
        model = self.personality()
        if model is None:
            return None, None
        # heavy: torch, with the personality model (loaded above only when asked for)
        from aria_actors.shape.characters.personality import DIMENSIONS, consistency

        rows = model.trait_scores(traits)
        text_scores = model.text_profile(text)["scores"]
        dev = np.array([text_scores[d] for d in DIMENSIONS]) - 0.5
        pulls = rows - 0.5
        strength = min(1.0, float(np.linalg.norm(dev)) / DEVIATION_SCALE)
        norms = np.linalg.norm(pulls, axis=1) * float(np.linalg.norm(dev))
        cos = np.where(norms > 1e-12, pulls @ dev / np.maximum(norms, 1e-12), 0.0)
        traits_scores = {d: float(v) for d, v in zip(DIMENSIONS, rows.mean(0), strict=True)}
        return cos * strength, consistency(traits_scores, text_scores)


def negated_lemmas(doc: Any) -> list[tuple[str, bool]]:
    """Every word's lemma in a parsed text and whether it (or its head) is negated."""
    def neg(t: Any) -> bool:
        return any(c.lower_ in NEGATORS and c.dep_ in ("neg", "advmod", "det") for c in t.children)

    return [(t.lemma_.lower(), neg(t) or neg(t.head)) for t in doc if t.is_alpha]

