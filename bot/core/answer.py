"""A question -> an Answer: verbatim quotes with highlights and citations, the closest the story comes, or a
refusal.

1. The question is read the way members write it (``question.py``): mentions, links and chatter are dropped,
   question phrases ("how many", "what year", "exactly") are not search words, typos are corrected.
2. BM25 ranks the passages, raised for giving the kind of answer asked for (a date, a number, a person, a
   place: ``kinds.py``), optionally mixed with a semantic similarity (``semantic.py``).
3. The confidence rule (``AnswerRule``) picks one of three replies: the best passage holds enough of the
   question's information (and the kind of answer asked for) -> an answer; it is related to the question
   (a name in common, or enough information or meaning) -> "the closest the story comes"; else a refusal.
"""

from __future__ import annotations

from functools import lru_cache
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence
from urllib.parse import quote

import numpy as np

from .corpus import Document
from ..archive.index import Bm25Index
from .kinds import Kind, asked_kind, spans
from .passages import Passage
from .question import Semantic, read_words
from .text import Token, tokens

MAX_QUESTION_CHARS = 1000

Reply = Literal["answer", "closest", "refused"]


@dataclass(frozen=True)
class AnswerRule:
    """The confidence rule, chosen by measurement (README, "How answers are chosen")."""

    answer_at: float = 0.6
    """Confidence at which the best passage is given as the answer."""
    closest_at: float = 0.5
    """Below this confidence, and less similar in meaning than ``related_similarity``, nothing is related:
    a refusal."""
    related_similarity: float = 0.21
    """...unless it shares a word with the question and is at least this similar in meaning."""
    unknown_weight: float = 0.5
    """A question word no story contains weighs this share of the rarest word's information (a name the
    stories do not know, capitalised inside the question, weighs all of it)."""
    kind_boost: float = 1.0
    """A passage that gives the kind of answer asked for, near the words that matched, scores this much more."""
    kind_penalty: float = 0.5
    """...and one that does not is this much less certain."""
    phrase_weight: float = 0.2
    """How much a passage gains for having the question's neighbouring words side by side."""
    semantic_weight: float = 1.0
    """How much the semantic similarity adds to a passage's normalised BM25 score."""
    lexical_closest_at: float = 0.3
    """Without the semantic model: below this confidence, a refusal."""
    close_ratio: float = 0.6
    """Quote more passages while they score at least this share of the best one."""
    max_quotes: int = 3
    max_nearest: int = 2
    candidates: int = 8
    """How many of BM25's best passages the rule re-ranks."""
    semantic_candidates: int = 3
    """Passages closest in meaning that are ranked even when they share no word with the question."""

    def vouches(self, c: _Candidate) -> bool:
        """The passage answers the question: reply 1."""
        return c.confidence >= self.answer_at

    def relates(self, c: _Candidate) -> bool:
        """The passage is related to the question: reply 2 if it does not answer it, else a refusal."""
        if c.named:
            return True
        if c.similarity is None:
            return c.confidence >= self.lexical_closest_at
        return c.confidence >= self.closest_at or (bool(c.matched) and c.similarity >= self.related_similarity)


@dataclass(frozen=True)
class Quote:
    passage: Passage
    score: float
    coverage: float
    document: Document
    highlights: tuple[tuple[int, int], ...]
    """Character spans of ``passage.text`` whose words matched the question."""

    @property
    def link(self) -> str | None:
        """The story's url, pointing at the quoted words with a text fragment."""
        return text_fragment_link(self.document.url, self.passage.text)

    @property
    def citation(self) -> str:
        return f"{self.document.title}, paragraph {self.passage.paragraph}"


@dataclass(frozen=True)
class Answer:
    question: str
    quotes: tuple[Quote, ...] = ()
    """The answer's quotes (reply 1); empty otherwise."""
    nearest: tuple[Quote, ...] = ()
    """The closest the story comes (reply 2), when the bot cannot vouch that they answer the question."""
    refusal: str | None = None
    """For replies 2 and 3: what to tell the member, in words for the person who asked."""
    confidence: float = 0.0

    @property
    def answered(self) -> bool:
        return bool(self.quotes)

    @property
    def kind(self) -> Reply:
        return "answer" if self.quotes else "closest" if self.nearest else "refused"


# --- answering ----------------------------------------------------------------------------------------------


def answer(
    question: str,
    *,
    index: Bm25Index,
    passages: Sequence[Passage],
    documents: Mapping[str, Document],
    rule: AnswerRule = AnswerRule(),
    within: tuple[int, int] | None = None,
    semantic: Semantic | None = None,
) -> Answer:
    """Answer ``question`` from the passages (only those at positions ``within``, if given)."""
    q = question.strip()
    if not q:
        return Answer(question, refusal="Ask me a question about the story, for example: Why did Canada close its embassy?")
    if len(q) > MAX_QUESTION_CHARS:
        return Answer(question, refusal=f"That question is too long for me: please ask in under {MAX_QUESTION_CHARS:,} characters.")

    words = read_words(q, index, unknown_weight=rule.unknown_weight, semantic=semantic)
    if not words:
        return Answer(question, refusal=_REPHRASE)
    terms = [w.term for w in words if w.term is not None]
    expansions = [e for w in words for e in w.expansions if e not in terms]
    missing = [w.text for w in words if w.term is None]
    total = sum(w.weight for w in words)
    names = {w.term for w in words if w.name and w.term is not None}
    kind = asked_kind(q)

    # a word the stories do not use is searched for as the words they use for it ("killed" -> "died")
    query = terms + [e for w in words if w.term is None for e in w.expansions]
    hits = index.search(query, k=rule.candidates, within=within) if query else []
    candidates = {h.index: h.score for h in hits}
    if semantic is not None:
        for position in semantic.nearest(q, rule.semantic_candidates, within):
            candidates.setdefault(position, 0.0)
    if not candidates:
        return Answer(question, refusal=_nothing_related(missing))

    positions = list(candidates)
    bm25 = np.array([candidates[p] for p in positions])
    lexical = bm25 / bm25.max() if bm25.max() > 0 else bm25
    similarity = semantic.similarities(q, positions) if semantic is not None else None
    pairs = set(zip(terms, terms[1:]))
    ranked: list[_Candidate] = []
    for i, position in enumerate(positions):
        text = passages[position].text
        ptoks = _tokens(text)
        matched = index.terms_in(position, terms + expansions)
        found = _spans(kind, text) if kind is not None else []
        fits = kind is None or bool(found)
        rank = lexical[i] * (1 + rule.kind_boost * _near(found, ptoks, matched))
        if pairs:  # the question's neighbouring words side by side ("shot down"), in its order
            seq = [t.term for t in ptoks]
            rank += rule.phrase_weight * len(pairs & set(zip(seq, seq[1:]))) / len(pairs)
        coverage = sum(w.weight * w.credit(matched) for w in words) / total
        confidence = coverage * (1.0 if fits else rule.kind_penalty)
        if similarity is not None:
            rank += rule.semantic_weight * float(similarity[i])
        ranked.append(_Candidate(position, float(bm25[i]), float(rank), confidence, matched, fits,
                                 None if similarity is None else float(similarity[i]),
                                 _names(text, matched & names)))
    ranked.sort(key=lambda c: (-c.rank, c.position))
    top = ranked[0]
    # The kind asked for and the semantic score re-rank, but never hide BM25's best passage.
    best = min(ranked, key=lambda c: (-c.bm25, c.position))

    def quote(c: _Candidate) -> Quote:
        passage = passages[c.position]
        return Quote(passage=passage, score=c.bm25, coverage=c.confidence, document=documents[passage.doc_id],
                     highlights=_highlights(passage.text, c.matched))

    if rule.vouches(top):
        chosen = [top]
        for c in ranked[1:]:
            if len(chosen) == rule.max_quotes or c.rank < rule.close_ratio * top.rank:
                break
            if rule.vouches(c):
                chosen.append(c)
        if best not in chosen:
            chosen[-1 if len(chosen) == rule.max_quotes else len(chosen):] = [best]
        return Answer(question, tuple(map(quote, chosen)), confidence=top.confidence)

    if not any(rule.relates(c) for c in ranked[: rule.max_nearest]):
        return Answer(question, refusal=_nothing_related(missing), confidence=top.confidence)
    nearest = [top, best] if best is not top else ranked[:2]
    return Answer(question, nearest=tuple(map(quote, nearest[: rule.max_nearest])),
                  refusal=_not_sure(None if top.fits else kind, missing), confidence=top.confidence)


@dataclass(frozen=True, eq=False)
class _Candidate:
    position: int
    bm25: float
    rank: float
    confidence: float
    matched: set[str]
    fits: bool
    """Gives the kind of answer asked for (or none was asked for)."""
    similarity: float | None
    named: bool
    """Shares a name with the question: a word that is not in English's dictionary and that the passage
    writes capitalised ("Poole", "Iran")."""


def _names(text: str, terms: set[str]) -> bool:
    """Whether ``text`` writes one of ``terms`` capitalised, as a name ("Poole", not "euro")."""
    return bool(terms) and any(tok.term in terms and text[tok.start].isupper() for tok in _tokens(text))


@lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[Token, ...]:
    """A passage's tokens (the passages asked about most stay cached)."""
    return tuple(tokens(text))


@lru_cache(maxsize=4096)
def _spans(kind: Kind, text: str) -> list[tuple[int, int]]:
    return spans(kind, text)


def _near(found: list[tuple[int, int]], words: tuple[Token, ...], matched: set[str], reach: int = 60) -> bool:
    """Whether the passage states the kind asked for within ``reach`` characters of a word that matched."""
    at = [w.start for w in words if w.term in matched]
    return any(start - reach <= a <= end + reach for start, end in found for a in at)


def _highlights(text: str, matched: set[str]) -> tuple[tuple[int, int], ...]:
    spans: list[tuple[int, int]] = []
    for tok in _tokens(text):
        if tok.term in matched:
            if spans and tok.start < spans[-1][1]:  # a code and its number share one word
                continue
            if spans and text[spans[-1][1] : tok.start].strip() == "":
                spans[-1] = (spans[-1][0], tok.end)  # join neighbouring words into one highlight
            else:
                spans.append((tok.start, tok.end))
    return tuple(spans)


# --- what the member is told --------------------------------------------------------------------------------

_REPHRASE = "I couldn't find any words to look up in that question. Try asking with a few key words."

_KIND_WORDS: dict[Kind, str] = {"date": "a date", "number": "a number", "person": "a name", "place": "a place"}


def _unknown(missing: list[str]) -> str:
    if not missing:
        return ""
    words = ", ".join(f"“{w}”" for w in dict.fromkeys(missing[:5]))
    return f" No story mentions {words}."


def _nothing_related(missing: list[str]) -> str:
    return ("The story doesn't say: nothing in it is related to that question." + _unknown(missing) +
            " `/sources` lists the stories I can quote.")


def _not_sure(kind: Kind | None, missing: list[str]) -> str:
    gap = f" None of them gives {_KIND_WORDS[kind]} for this." if kind is not None else ""
    return ("The story may not answer this; these are the closest passages." + gap + _unknown(missing) +
            " Try rephrasing with the story's own words, or ask about one detail at a time.")


def text_fragment_link(url: str | None, text: str, words: int = 4) -> str | None:
    """``url#:~:text=start,end`` so that browsers scroll to and highlight the quoted words."""
    if not url:
        return None
    parts = text.split()
    if len(parts) <= 2 * words:
        fragment = _encode(" ".join(parts))
    else:
        fragment = f"{_encode(' '.join(parts[:words]))},{_encode(' '.join(parts[-words:]))}"
    return f"{url.split('#', 1)[0]}#:~:text={fragment}"


def _encode(s: str) -> str:
    return quote(s, safe="").replace("-", "%2D")
