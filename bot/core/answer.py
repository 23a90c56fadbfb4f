"""A question -> an Answer: verbatim quotes with highlights and citations, or an honest refusal.

The refusal rule, in one sentence: the best passage must contain words that carry at least
``min_coverage`` of the question's information, where a word's information is its idf
(rare words count for more, words no story contains count as the rarest). A question whose distinctive
words are absent from every story ("Who won the Stanley Cup?") is refused even if a common word
("Canada") matches.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping, Sequence
from urllib.parse import quote

from .corpus import Document
from .index import Bm25Index
from .passages import Passage
from .text import tokens

MAX_QUESTION_CHARS = 1000

# A "when" question is answered by a passage that states a date; "how many/much/old/long" by one with a number.
_FILLER = r"^\W*(?:(?:so|and|but|ok|okay|hey|wait|also|then|like)\W+)*"
_ASKS_DATE = re.compile(_FILLER + r"(?:when|what\s+(?:year|date|day|month)|which\s+(?:year|date|day|month))\b", re.I)
_ASKS_NUMBER = re.compile(r"\bhow\s+(?:many|much|old|long)\b", re.I)
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|June?|July?|Aug|Sept?|Oct|Nov|Dec)[a-z]*\.?"
_HAS_DATE = re.compile(rf"\b(?:1[5-9]\d\d|2\d\d\d)\b|\b{_MONTH}\s+\d|\b(?:yesterday|today|last|ago)\b")
_HAS_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty"
    r"|hundred|hundreds|thousand|thousands|million|millions|billion|dozen|dozens|several|few)\b",
    re.I,
)


def answer_kind(question: str) -> str | None:
    """'date' or 'number' when the question asks for one, else None."""
    if _ASKS_DATE.search(question):
        return "date"
    if _ASKS_NUMBER.search(question):
        return "number"
    return None


def _gives(kind: str | None, text: str) -> bool:
    if kind == "date":
        return bool(_HAS_DATE.search(text))
    if kind == "number":
        return bool(_HAS_NUMBER.search(text))
    return True


@dataclass(frozen=True)
class AnswerRule:
    min_coverage: float = 0.4
    """Share of the question's idf mass that the quoted passage must contain."""
    close_ratio: float = 0.7
    """Quote more passages while they score at least this share of the best one."""
    max_quotes: int = 3


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
    refusal: str | None = None
    """Why nothing is quoted, in words for the person who asked."""

    @property
    def answered(self) -> bool:
        return bool(self.quotes)


def answer(
    question: str,
    *,
    index: Bm25Index,
    passages: Sequence[Passage],
    documents: Mapping[str, Document],
    rule: AnswerRule = AnswerRule(),
) -> Answer:
    q = question.strip()
    if not q:
        return Answer(question, refusal="Ask me a question about the story, for example: Why did Canada close its embassy?")
    if len(q) > MAX_QUESTION_CHARS:
        return Answer(question, refusal=f"That question is too long for me: please ask in under {MAX_QUESTION_CHARS:,} characters.")

    words = list(tokens(q))
    if not words:
        return Answer(question, refusal="I couldn't find any words to look up in that question. Try asking with a few key words.")

    terms: list[str] = []
    missing: list[str] = []
    for tok in words:
        fixed = index.correct(tok.term)
        if fixed is None:
            missing.append(q[tok.start : tok.end])
            terms.append(tok.term)  # counts against coverage, matches nothing
        else:
            terms.append(fixed)

    kind = answer_kind(q)
    weights = {t: _information(index, t) for t in set(terms)}
    total = sum(weights.values())
    hits = index.search(terms, k=rule.max_quotes * 3)
    quotes: list[Quote] = []
    for hit in hits:
        if quotes and hit.score < rule.close_ratio * quotes[0].score or len(quotes) == rule.max_quotes:
            break
        matched = index.terms_in(hit.index, terms)
        coverage = sum(weights[t] for t in matched) / total
        passage = passages[hit.index]
        if coverage < rule.min_coverage or not _gives(kind, passage.text):
            continue
        quotes.append(
            Quote(
                passage=passage,
                score=hit.score,
                coverage=coverage,
                document=documents[passage.doc_id],
                highlights=_highlights(passage.text, matched),
            )
        )
    if quotes:
        return Answer(question, tuple(quotes))
    return Answer(question, refusal=_not_found(missing))


def _information(index: Bm25Index, term: str) -> float:
    """A smooth, always-positive idf (Lucene's), so that common words still count a little."""
    n, df = index.size, index.document_frequency(term)
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def _highlights(text: str, matched: set[str]) -> tuple[tuple[int, int], ...]:
    spans: list[tuple[int, int]] = []
    for tok in tokens(text):
        if tok.term in matched:
            if spans and tok.start < spans[-1][1]:  # a code and its number share one word
                continue
            if spans and text[spans[-1][1] : tok.start].strip() == "":
                spans[-1] = (spans[-1][0], tok.end)  # join neighbouring words into one highlight
            else:
                spans.append((tok.start, tok.end))
    return tuple(spans)


def _not_found(missing: list[str]) -> str:
    base = "The story doesn't say: no passage answers that question."
    if missing:
        shown = ", ".join(f"“{w}”" for w in dict.fromkeys(m.lower() for m in missing[:5]))
        base += f" (No story mentions {shown}.)"
    return base


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

