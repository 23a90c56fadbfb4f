"""A member's question, read the way members write it: the words to search for, each with its weight.

Mentions (``@everyone``, ``<@123>``, ``@storybot``), links and emoji are dropped; question phrases ("how
many", "what year", "what kind of", "exactly") and light verbs ("make", "get") are not search words. A word
the stories lack is corrected when it is a typo, never when it is an English word ("place" is not a typo of
"plane"); a name the stories do not know counts heavily against an answer; the semantic stage, when loaded,
offers the stories' words for the same thing ("killed" -> "died").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

import numpy as np

from ..archive.index import Bm25Index
from .lemmas import english as _english
from .text import Token, tokens


class Semantic(Protocol):
    """A sentence-embedding model's view of the loaded passages (``semantic.py``)."""

    def similarities(self, question: str, positions: Sequence[int]) -> np.ndarray: ...

    def nearest(self, question: str, k: int, within: tuple[int, int] | None) -> list[int]: ...

    def synonyms(self, word: str, term: str | None) -> dict[str, float]: ...


_NOISE = re.compile(
    r"<(?:@[!&]?|#)\d+>"  # user, role and channel mentions
    r"|<a?:\w+:\d+>"  # custom emoji
    r"|@(?:everyone|here)\b|@\w+"  # @everyone, @storybot
    r"|https?://\S+",
    re.I,
)
_QUESTION_PHRASES = re.compile(
    r"\bhow\s+(?:many|much|old|long|far|often|soon|big|large|tall)\b"
    r"|\b(?:what|which)\s+(?:year|date|day|month|decade|century|time|city|country|place|town|person)\b"
    r"|\b(?:what|which)\s+(?:kind|kinds|type|types|sort|sorts)\s+of\b"
    r"|\b(?:exactly|ever|actually|really|approximately|roughly|precisely|specifically|basically|anyway"
    r"|btw|pls|plz|lol|storybot|bot|guys|someone|anyone|u|ur|rn"
    # light verbs: in a question they carry the grammar, not the topic ("how do I make banana bread")
    r"|make|makes|made|making|get|gets|getting|go|goes|going|went|gone|take|takes|taking|come|comes|coming"
    r"|want|wants|need|needs|think|thinks|happen|happens|happened|mean|means|seem|seems|try|let|see|look"
    r"|looks|give|gives|work|works)\b",
    re.I,
)


def read_question(question: str) -> str:
    """The words to search for: the question without mentions, links, emoji and question phrases."""
    return _QUESTION_PHRASES.sub(" ", _NOISE.sub(" ", question))


@dataclass(frozen=True)
class Word:
    """One word of the question, as the answer rule reads it."""

    text: str
    term: str | None
    """Its index term, spelling corrected; None if no story contains it."""
    weight: float
    """Its information (idf); an unknown word weighs a share of the rarest word's."""
    name: bool = False
    """Not a word of English's dictionary ("Poole", "Zarif")."""
    expansions: dict[str, float] = field(default_factory=dict)
    """Words of the stories that mean much the same (the semantic stage), with their similarity."""

    def credit(self, matched: set[str]) -> float:
        """How much of this word a passage that contains ``matched`` gives: all of it, or a synonym's share."""
        if self.term in matched:
            return 1.0
        return max((sim for term, sim in self.expansions.items() if term in matched), default=0.0)


def read_words(question: str, index: Bm25Index, *, unknown_weight: float, semantic: Semantic | None) -> list[Word]:
    """The question's search words, each once, in order."""
    cleaned = read_question(question)
    correct = index.corrector()  # this question's spelling lookups, bounded (spelling.py)
    words: dict[str, Word] = {}
    for tok in tokens(cleaned):
        text = cleaned[tok.start : tok.end].lower()
        if text not in words:
            words[text] = _read_word(cleaned, tok, text, index, unknown_weight, semantic, correct)
    return list(words.values())


def information(index: Bm25Index, term: str) -> float:
    """A term's weight: a smooth, always-positive idf (Lucene's), so that common words still count a little;
    ``information(index, "")`` is that of a word in no passage, the rarest."""
    n, df = index.size, index.document_frequency(term)
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def _read_word(cleaned: str, tok: Token, text: str, index: Bm25Index, unknown_weight: float,
               semantic: Semantic | None, correct: Callable[[str], str | None]) -> Word:
    # an English word is what the member meant ("place" is not a typo of "plane"); others may be typos
    term = tok.term if tok.term in index.vocabulary or _english(text) else correct(tok.term)
    if term is not None and term not in index.vocabulary:
        term = None
    bare = text.removesuffix("'s").removesuffix("\u2019s")
    name = bare.isalpha() and not _english(bare)
    if term is not None:
        weight = information(index, term)
    elif tok.start > 0 and cleaned[tok.start].isupper():
        weight = information(index, "")  # a name the stories do not know ("United Kingdom"): the question is about something else
    else:
        weight = unknown_weight * information(index, "")
    expansions = semantic.synonyms(bare, term) if semantic is not None and not name else {}
    return Word(text, term, weight, name, expansions)
