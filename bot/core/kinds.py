"""The kind of answer a question asks for, and whether a passage gives one.

"When" and "what year" ask for a date (any year, a decade such as "the 880s", a century); "how many" and "how
much" for a number that is not a date; "who" for a person or an office; "where" for a place. The answer
rule uses this to rank (a passage that gives the kind asked for rises) and to be less sure (one that does
not is not quoted as the answer), never to hide a passage.
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["date", "number", "person", "place"]

_LEAD = r"^\W*(?:(?:so|and|but|ok|okay|hey|hi|wait|also|then|like|um|uh|yo|hmm|storybot|bot|@\S+|<[^>]*>)\W+)*"
_ASKS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("date", re.compile(
        _LEAD + r"(?:since\s+|until\s+|till\s+)?when\b"
        r"|\b(?:what|which)\s+(?:year|date|day|month|decade|century)\b|\bin\s+what\s+year\b|\bwhen\s*\??\s*$"
        r"|\b(?:date|year)\s*\?\s*$", re.I)),
    ("number", re.compile(
        r"\bhow\s+(?:many|much|old|long|far|big|large|tall|often)\b|\bwhat\s+(?:percentage|percent|number|amount"
        r"|share|proportion|population)\b|\bnumber\s+of\b", re.I)),
    ("person", re.compile(_LEAD + r"(?:who|whom|whose)\b|\b(?:which|what)\s+(?:person|man|woman|minister"
                          r"|official|leader|president|company|group)\b|\bwho\s*\??\s*$", re.I)),
    ("place", re.compile(_LEAD + r"where\b|\b(?:what|which)\s+(?:city|country|place|town|region|state|province"
                         r"|county|continent|island|river)\b|\bwhere\s*\??\s*$", re.I)),
)


def asked_kind(question: str) -> Kind | None:
    """The kind of answer ``question`` asks for, or None ("why", "what did", yes/no questions)."""
    for kind, pattern in _ASKS:
        if pattern.search(question):
            return kind
    return None


_MONTHS = (r"Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?"
           r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?")
_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_MONTH = rf"(?:{_MONTHS})\.?"
_ORDINAL_WORDS = (r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth"
                  r"|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth"
                  r"|twenty-first)")
_DATE = re.compile(
    rf"\b{_MONTH}\s+\d{{1,2}}\b|\b\d{{1,2}}\s+{_MONTH}(?!\w)|\b{_MONTH},?\s+\d{{3,4}}\b"  # Jan. 8 / 8 January / May 1990
    r"|\b\d{1,4}\s*(?:BC|BCE|AD|CE)\b|\b(?:AD|CE)\s*\d{1,4}\b"  # 44 BC, AD 911
    r"|\b(?:in|by|since|from|until|till|before|after|around|circa|c\.|of|during|early|late|mid-?)\s+(?:the\s+)?\d{3,4}s?\b"
    r"|\b1\d{3}\b|\b20\d{2}\b"  # a year of the last millennium
    r"|\b\d{2,4}s\b|\b\d{1,2}(?:st|nd|rd|th)[\s-]+(?:century|millennium)\b"  # the 880s, the 11th century
    rf"|\b{_ORDINAL_WORDS}[\s-]+(?:century|millennium)\b"
    r"|\b(?:yesterday|today|tonight|ago)\b"
    rf"|\blast\s+(?:week|month|year|spring|summer|fall|autumn|winter|{_DAYS}|{_MONTHS})\b",
    re.I,
)
_NUMBER_WORDS = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?"
    r"|millions?|billions?|trillions?|dozens?|half|twice|double|triple|percent)\b|\d",
    re.I,
)
_OFFICE = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Prof|Sir|Dame|Lord|Lady|St)\.?\s+[A-Z]"
    r"|\b(?:minister|president|premier|prime|king|queen|emperor|prince|princess|governor|mayor|senator"
    r"|spokes(?:man|woman|person)|ambassador|director(?:-general)?|chief|officer|official|secretary|chair(?:man|woman)?"
    r"|leader|judge|justice|general|commander|founder|author|lawyer|diplomat|environmentalist|executive|ceo"
    r"|bishop|pope|duke|architect|scientist|professor|engineer|inventor|writer|poet|artist|player|coach)s?\b"
    r"|\b[A-Z][a-z]+(?:-[A-Z][a-z]+)?\s+(?:[A-Z]\.\s+)?[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b",  # Adam Austen
)
_PLACE = re.compile(
    r"\b(?:in|at|from|to|near|into|across|outside|inside|throughout|toward|towards|between|within)\s+"
    rf"(?:the\s+)?(?!(?:{_MONTHS}|{_DAYS})\b)[A-Z]\w+"
    r"|\b(?:city|country|capital|province|state|region|county|island|coast|border|valley|river|mountains?"
    r"|town|village|airport|embassy|continent|north|south|east|west|northern|southern|eastern|western)\b",
)
_CODE = re.compile(r"\b[A-Z][A-Za-z]*\.?\s+[A-Z]*\d+\b|\b[A-Za-z]+\d+\b|#\d+")
"""Numbers that name rather than count: "Flight 752", "PS752", "#3"."""
_CAPITAL_PAIR = re.compile(r"\b(?:The|A|An|In|On|At|But|And|For|This|That|It|He|She|They)\s")


def spans(kind: Kind, text: str) -> list[tuple[int, int]]:
    """Where ``text`` states a ``kind``: a date, a number that is not a date, a person, a place."""
    if kind == "date":
        return [m.span() for m in _DATE.finditer(text)]
    if kind == "number":
        blanked = _CODE.sub(_blank, _DATE.sub(_blank, text))
        return [m.span() for m in _NUMBER_WORDS.finditer(blanked)]
    if kind == "person":
        return [m.span() for m in _OFFICE.finditer(text) if not _CAPITAL_PAIR.match(m.group())]
    return [m.span() for m in _PLACE.finditer(text)]


def gives(kind: Kind, text: str) -> bool:
    """Whether ``text`` states a ``kind`` anywhere."""
    return bool(spans(kind, text))


def _blank(m: re.Match[str]) -> str:
    return " " * len(m.group())
