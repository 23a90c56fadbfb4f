"""The one tokenizer: for indexing, for questions and for highlighting.

English news text: Unicode normalisation (curly quotes, dashes), case folding, possessives, stop words,
Snowball stemming, numbers kept, and codes such as "PS752" kept whole and also as their number ("752"),
so that "Flight PS752" and "Flight 752" meet.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import chain
from typing import Iterator, NamedTuple

import Stemmer

from .lemmas import irregular

# Length-preserving character folds, so that token offsets point into the original text.
_FOLD = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201f": '"', "\u2033": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": " ", "\u2013": " ", "\u2014": " ", "\u2015": " ",
        "\u00a0": " ", "\u202f": " ",
    }
)
_WORD = re.compile(r"\w+(?:'\w+)*")
_DIGITS = re.compile(r"\d+")

STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been before being below
    between both but by can can't cannot could couldn't did didn't do does doesn't doing don't  during each
    few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers
    herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself just let's me
    more most mustn't my myself no nor not of  on once only or other ought our ours ourselves   own
    same shan't she she'd she'll she's should shouldn't so some such than that that's the their theirs them
    themselves then there there's these they they'd they'll they're they've this those through to too under
    until  very was wasn't we we'd we'll we're we've were weren't what what's when when's where where's which
    while who who's whom why why's with won't would wouldn't you you'd you'll you're you've your yours yourself
    yourselves also tell say said says told ask asked know anything something thing things does did get got
    whats wheres whos hows whys im ive dont doesnt didnt isnt wasnt arent werent cant couldnt wont wouldnt
    story article please thanks thank hey hi hello ok okay yeah yes like just really mean
    """.split()
)
"""Common English function words, plus the chatter members add to questions ("tell me", "the story").
The particles of phrasal verbs ("shot down", "put off", "brought up") are words, not stop words."""

# No cache of PyStemmer's own: ``_Memo`` asks for each word once, and its cache costs a miss 4x the stemming.
_stemmer = Stemmer.Stemmer("english", 0)
_IRREGULAR = irregular()


class Token(NamedTuple):
    term: str
    start: int
    end: int


def _terms(word: str) -> tuple[str, ...]:
    """The index terms of one word as ``_WORD`` finds it (none, one, or a code and its number)."""
    w = unicodedata.normalize("NFKC", word).casefold()
    if w.endswith("'s"):
        w = w[:-2]
    w = w.replace("'", "")
    if not w or w in STOP_WORDS or w.replace("_", "") == "":
        return ()
    if w.isalpha():  # most words: no code, no number
        return (_root(w),) if len(w) > 1 else ()
    if w.isdigit():
        return (w,)
    if any(c.isdigit() for c in w):
        # a code such as ps752 or covid19: the whole code, and its number
        return (w, *_DIGITS.findall(w))
    if len(w) == 1:
        return ()
    return (_root(w),)


def _root(word: str) -> str:
    """The stem of ``word`` (casefolded, as ``_terms`` gives it), or of its lemma when the word is an irregular
    form ("shot" -> "shoot", "met" -> "meet", "children" -> "child"), so that all forms of a word meet."""
    stem = _stemmer.stemWord(word)
    return _IRREGULAR.get(word, stem)


class _Memo(dict):
    """word -> ``_terms(word)``, each word worked out once: an archive of 100,000 passages has 8 million
    words but 150,000 distinct ones. Emptied when it reaches ``MAX_WORDS`` (about 200 bytes a word), so that
    no stream of made-up words grows it without bound. A plain dict, so that a known word costs one lookup
    in C (``tokenize`` maps ``__getitem__`` over the words)."""

    MAX_WORDS = 200_000

    def __missing__(self, word: str) -> tuple[str, ...]:
        if len(self) >= self.MAX_WORDS:
            self.clear()
        terms = self[word] = _terms(word)
        return terms


_TERMS = _Memo()
_terms_of = word_terms = _TERMS.__getitem__
"""The index terms of one word as ``_WORD`` finds it (memoised)."""


def tokens(text: str) -> Iterator[Token]:
    """Index terms of ``text`` with the character span of the word each comes from."""
    folded = text.translate(_FOLD)
    for m in _WORD.finditer(folded):
        for term in _terms_of(m.group()):
            yield Token(term, m.start(), m.end())


def tokenize(text: str) -> list[str]:
    """The index terms of ``text``, in order."""
    return list(chain.from_iterable(map(_terms_of, _WORD.findall(text.translate(_FOLD)))))


def stem(word: str) -> str:
    """The index term for one plain word (no stop-word check); '' if it has none."""
    terms = _terms_of(word)
    return terms[0] if terms else ""


# --- sentences -----------------------------------------------------------------------------------------------

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st gen gov sen rep lt col sgt capt inc ltd co corp no vs etc "
    "jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k e.g i.e".split()
)
# [.!?][.!?]*, not [.!?]+: re skips ahead in C only to a first character it can see (a class, not a repeat). The
# white space after an end is group 1: the next sentence starts after it.
_SENTENCE_END = re.compile(r"[.!?][.!?]*[\"'\u201d\u2019)\]]*(?=(\s+)[\"'\u201c\u2018(\[]?[A-Z0-9])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, verbatim, without surrounding whitespace.

    A sentence ends with its punctuation (never white space) and the next starts after the white space that
    follows it (all of it: ``_SENTENCE_END`` looks for a letter, digit or opening quote after it), so only the
    first start and the last end are ever stripped."""
    spans: list[tuple[int, int]] = []
    start = len(text) - len(text.lstrip())
    for m in _SENTENCE_END.finditer(text):
        stop, end = m.span()
        if end - stop == 1 and text[stop] == "." and _abbreviation_before(text, start, stop):
            continue
        spans.append((start, end))
        start = m.end(1)
    end = len(text.rstrip())
    if start < end:
        spans.append((start, end))
    return spans


def _abbreviation_before(text: str, start: int, stop: int) -> bool:
    """Whether the word before a full stop at ``stop`` (in the sentence that starts at ``start``) is an
    abbreviation or an initial, which the full stop does not end a sentence after."""
    before = text[start:stop].rsplit(None, 1)
    last_word = before[-1].lower().strip("\"'(\u201c\u2018") if before else ""
    return last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha())
