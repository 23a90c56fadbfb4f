"""Dated events in stories: explicit dates, resolved against the story's ``published`` date.

A date keeps the precision it was written with ("early 2018" is a 2018 event, "last October" a month).
A month or a day written without a year is the latest one not after ``published``. Numbers that are not
dates never become events: a bare four-digit number is a year only in a date-like context.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .corpus import Document
from .dates import PartialDate, Precision
from .passages import Passage
from .text import sentence_spans, tokenize

_MONTH_NUMBERS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}

# Month names only with their capital ("march on", "an august body" are not dates); "May" only with a day or
# a year after it, elsewhere (the verb, Theresa May) it is left alone.
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|June?|July?|Aug(?:ust)?|Sept?(?:ember)?"
    r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b\.?"
)
_MONTH_MAY = rf"(?:May\b|{_MONTH})"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?\b(?!,\d)"  # not "June 2,500 people"

# Four digits followed by something that makes them a quantity, a decade or an address, not a year.
_NOT_A_YEAR = (
    r"[.,]?\d|s\b|\s*%|\s+(?:per\s?cent|people|persons|passengers|citizens|residents|members|workers"
    r"|employees|students|soldiers|troops|victims|voters|votes|cases|deaths|jobs|homes|seats|units|dollars"
    r"|euros|pounds|barrels|tonnes|tons|metres|meters|kilometres|kilometers|km|miles|feet|hours|words|pages"
    r"|copies)\b|\s+[A-Z]\w*\s+(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Drive|Lane|Way)\b"
)
_YEAR = rf"\d{{4}}(?!{_NOT_A_YEAR})"

# "the 2017 talks", "the 2016 Olympics": a year before an event word or a name.
_EVENT_NOUNS = (
    r"talks|negotiations|election|elections|campaign|meeting|summit|conference|agreement|accord|deal|treaty"
    r"|budget|vote|referendum|crash|attack|attacks|war|protest|protests|census|season|visit|report|law|ruling"
    r"|decision|shooting|earthquake|flood|floods|fire|fires|pandemic|outbreak|race|convention|games"
)

_DATES = rf"""
      \b(?P<md_mon>{_MONTH_MAY})\s*(?P<md_day>{_DAY})                    # Jan. 17, Jan. 17th, Feb. 14, 2020
        (?:\s*[-\u2013]\s*{_DAY})?                                     # Jan. 8-10: its first day
        (?:,?\s+(?P<md_year>{_YEAR}))?
    | \b(?P<dm_day>{_DAY})\s+(?P<dm_mon>{_MONTH_MAY})                    # 17 January (2020)
        (?:,?\s+(?P<dm_year>{_YEAR}))?
    | \b(?P<my_mon>{_MONTH_MAY})(?:\s+of)?,?\s+(?P<my_year>{_YEAR})      # January 2019
    | (?i:\b(?:the\s+)?(?:spring|summer|fall|autumn|winter)(?:\s+of)?)   # the spring of 2016
        \s+(?P<season_year>{_YEAR})
    | (?<![Tt]he\s)(?P<qm_word>(?i:\b(?:last|this|next|in|since|by|until|during|through|before|after
        |from|early|late|mid)))[\s-]+(?P<qm_mon>{_MONTH})(?![\s.,]*(?:of\s+)?\d)   # last October, in March
    | (?i:\b(?:in|since|by|until|till|from|of|during|through|throughout|before|after|around|between)\s+
        |\b(?:early|late|mid)[\s-]+)(?P<qy_year>{_YEAR})                 # in 2012, early 2018, mid-2018
    | (?i:\bthe)\s+(?P<the_year>{_YEAR})(?=\s+(?:[A-Z]|(?i:{_EVENT_NOUNS})\b))   # the 2017 talks
    | (?<![Tt]he\s)(?P<rel_word>(?i:\b(?:last|this|next)))\s+(?P<rel_unit>(?i:year|month))\b  # last year
    """
# Every kind of date above starts where a word does (``\b`` and a letter or digit), so that is checked first: re
# tries the whole alternation at every position of a sentence, and this fails at most of them in one step (twice
# as fast; the matches are the same, tests/core/test_timeline_prefilter.py checks).
_DATE = re.compile(rf"(?=\b\w)(?:{_DATES})", re.VERBOSE)

# A quick scan for what every match of _DATE holds skips the many passages and sentences _DATE would search in
# vain (_DATE is tried at every position; these run in C from one character class to the next):
# - a capitalised month ("Jan", "May", "Sep", ...) or the word "year" or "month" (md, dm, my, qm and rel
#   matches): alternatives that each start with one letter, so that re skips in C to the next of those letters
#   and tries there only the alternatives of that letter;
# - a four-digit year after a word that makes it one ("in 2012", "the 2017 talks", "the spring of 2016",
#   "mid-2018": season, qy and the_year matches). The year comes last, so this one is searched for in the
#   reversed text, where the year comes first and is quick to find: written \d\d{3}, not \d{4}, because re skips
#   ahead in C only to a first character it can see (a class, not a repeat).
# Keep it in step with _DATE: tests/core/test_timeline_prefilter.py checks.
_MONTH_OR_UNIT = re.compile(
    r"J(?:an|u[nl])|Feb|Ma[ry]|A(?:pr|ug)|Sep|Oct|Nov|Dec|Y[Ee][Aa][Rr]|y[Ee][Aa][Rr]|M[Oo][Nn][Tt][Hh]"
    r"|m[Oo][Nn][Tt][Hh]"
)
_YEAR_WORDS = ("in since by until till from of during through throughout before after around between the spring "
               "summer fall autumn winter").split()
_REVERSED_YEAR_AFTER_WORD = re.compile(
    rf"\d\d{{3}}(?:\s+(?i:{'|'.join(w[::-1] for w in _YEAR_WORDS)})|[\s-]+(?i:ylrae|etal|dim))\b"
)


def _may_hold_a_date(text: str) -> bool:
    """False only when ``_DATE`` finds nothing in ``text``, nor in any sentence of it."""
    return bool(_MONTH_OR_UNIT.search(text) or _REVERSED_YEAR_AFTER_WORD.search(text[::-1]))


@dataclass(frozen=True)
class Event:
    date: PartialDate
    """At the precision the story gives it."""
    text: str
    """The sentence that states it, verbatim: an exact substring of the passage text."""
    passage_id: str
    doc_id: str
    paragraph: int

    @property
    def precision(self) -> Precision:
        return self.date.precision


def extract_events(doc: Document, passages: Sequence[Passage]) -> list[Event]:
    """The dated events of one story, in chronological order (ties in the order of the story)."""
    events: list[Event] = []
    for passage in passages:
        if not _may_hold_a_date(passage.text):
            continue
        for start, end in sentence_spans(passage.text):
            sentence = passage.text[start:end]
            if not _may_hold_a_date(sentence):
                continue
            for match in _DATE.finditer(sentence):
                date = _resolve(match, doc.published)
                if date is not None:
                    events.append(Event(date, sentence, passage.id, passage.doc_id, passage.paragraph))
    return _unique(sorted(events, key=lambda e: e.date))


def build_timeline(items: Iterable[tuple[Document, Sequence[Passage]]]) -> tuple[Event, ...]:
    """Every story's events, in chronological order; ties in story order, then paragraph order.
    A sentence repeated verbatim in a later story is listed once, for the first."""
    events = [event for doc, passages in items for event in extract_events(doc, passages)]
    order = timeline_order([(e.date.year, e.date.month, e.date.day) for e in events], [e.text for e in events])
    return tuple(events[i] for i in order.tolist())


def timeline_order(dates: Sequence[tuple[int, int, int]] | np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """Which of the stories' own events (story after story, each story's in its own order) the timeline
    lists, in its order: ``build_timeline``'s rule, given each event's date as ``(year, month, day)`` (0 for
    a month or day not known: it sorts first, as PartialDate does) and sentence. The sort is numpy's, which
    lets other threads run meanwhile (an archive has a hundred thousand events)."""
    ymd = np.asarray(dates, dtype=np.int64).reshape(-1, 3)
    key = (ymd[:, 0] * 13 + ymd[:, 1]) * 32 + ymd[:, 2]
    order = np.argsort(key, kind="stable")
    told: set[tuple[int, str]] = set()
    keep = []
    for i, k in zip(order.tolist(), key[order].tolist()):
        if (k, texts[i]) not in told:
            told.add((k, texts[i]))
            keep.append(i)
    return np.array(keep, dtype=np.int32)


def filter_events(
    events: Iterable[Event], *, year: int | None = None, contains: str | None = None
) -> list[Event]:
    """Events in ``year`` whose sentence contains ``contains``: its words in any form, as search matches them
    ("embassy" finds "embassies"), or the text itself (ignoring case, accents and curly quotes). A filter with
    double quotes in it is matched only as written: ``"interests sections"`` is that phrase."""
    needle = _fold(contains) if contains else ""
    terms = set(tokenize(contains)) if contains and '"' not in needle else set()

    def matches(e: Event) -> bool:
        return needle in _fold(e.text) or bool(terms) and terms <= _terms(e.text)

    return [e for e in events if (year is None or e.date.year == year) and (not needle or matches(e))]


@functools.lru_cache(maxsize=1 << 16)
def _terms(sentence: str) -> frozenset[str]:
    return frozenset(tokenize(sentence))


def _unique(events: list[Event]) -> list[Event]:
    seen: set[tuple[PartialDate, str]] = set()
    out = []
    for e in events:
        if (e.date, e.text) not in seen:
            seen.add((e.date, e.text))
            out.append(e)
    return out


def _resolve(m: re.Match[str], published: PartialDate) -> PartialDate | None:
    g = m.groupdict()
    try:
        if g["md_mon"] or g["dm_mon"]:
            month = _month_number(g["md_mon"] or g["dm_mon"])
            day = int((g["md_day"] or g["dm_day"]).rstrip("stndrh"))  # 17th -> 17
            year = g["md_year"] or g["dm_year"]
            if year:
                return PartialDate(_year(year, published, earliest=1000), month, day)
            return PartialDate(_year_of(month, day, "", published), month, day)
        if g["my_mon"]:
            return PartialDate(_year(g["my_year"], published, earliest=1000), _month_number(g["my_mon"]))
        if g["qm_mon"]:
            month = _month_number(g["qm_mon"])
            return PartialDate(_year_of(month, 0, g["qm_word"].lower(), published), month)
        if year := g["season_year"] or g["qy_year"] or g["the_year"]:
            return PartialDate(_year(year, published, earliest=1800))
        if g["rel_unit"]:
            step = {"last": -1, "this": 0, "next": 1}[g["rel_word"].lower()]
            if g["rel_unit"].lower() == "year":
                return PartialDate(published.year + step)
            if not published.month:
                return None
            months = published.year * 12 + published.month - 1 + step
            return PartialDate(months // 12, months % 12 + 1)
    except ValueError:  # Feb. 30, Feb. 29 in a year that has none, an implausible year
        return None
    return None


def _year_of(month: int, day: int, word: str, published: PartialDate) -> int:
    """The year of a month (and day) written without one: the latest not after ``published``,
    the one before it ("last October") or the one after it ("next March")."""
    if word == "this":
        return published.year
    if not published.month:
        return published.year + {"last": -1, "next": 1}.get(word, 0)
    if word == "last":
        return published.year - (month >= published.month)
    if word == "next":
        return published.year + (month <= published.month)
    return published.year - ((month, day) > (published.month, published.day or 31))


def _year(text: str, published: PartialDate, *, earliest: int) -> int:
    """A written year, if it is plausible for a story published on ``published``; else ValueError."""
    year = int(text)
    if not earliest <= year <= published.year + 1:
        raise ValueError(f"{year} is not a plausible year")
    return year


def _month_number(name: str) -> int:
    return _MONTH_NUMBERS[name[:3].lower()]


_FOLD = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u00a0": " "}
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())
