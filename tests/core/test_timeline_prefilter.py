"""The timeline's quick pre-scan never skips a sentence that holds a date (it only saves time)."""

from __future__ import annotations

import random
import re

from bot.core import timeline
from bot.core.corpus import parse_story_text
from bot.core.passages import passages

WORDS = ("Jan. January Feb February March Mar. April Apr. May June Jun July Jul Aug. August Sept. September "
         "Oct. October Nov November Dec. December 17 17th 8-10 14, 2020 2012 1999s 2,500 55 mid-2018 early late "
         "in since by until the spring summer of last this next year Year YEAR month Month months years people "
         "talks election Flight PS752 meeting on, around between The Spring OF Mid- - 3297 816 12345 "
         "throughout till fall autumn winter during before after from through ſince ın THE 1800 May, "
         "Theresa jury Monday Octopus yearly monthly").split()
SEPARATORS = (" ", " ", " ", "  ", "\n", "-", " - ", ", ", ". ")


PLAIN_DATE = re.compile(timeline._DATES, re.VERBOSE)
"""``_DATE`` without its quick first check."""


def _sentence(rng: random.Random) -> str:
    out = rng.choice(WORDS)
    for _ in range(rng.randint(0, 7)):
        out += rng.choice(SEPARATORS) + rng.choice(WORDS)
    return out


def test_every_date_match_is_found_by_the_prescan():
    rng = random.Random(5)
    found = 0
    for _ in range(40_000):
        sentence = _sentence(rng)
        for match in timeline._DATE.finditer(sentence):
            found += 1
            assert timeline._may_hold_a_date(match.group()), match.group()
            assert timeline._may_hold_a_date(sentence), sentence
    assert found > 8_000


def test_the_quick_first_check_of_date_changes_no_match():
    rng = random.Random(6)
    found = 0
    for _ in range(40_000):
        sentence = _sentence(rng)
        plain = [(m.span(), m.groupdict()) for m in PLAIN_DATE.finditer(sentence)]
        assert [(m.span(), m.groupdict()) for m in timeline._DATE.finditer(sentence)] == plain, sentence
        found += len(plain)
    assert found > 8_000


def test_the_prescan_skips_numbers_and_words_that_cannot_be_dates():
    assert not timeline._may_hold_a_date("Jork 3297 plion trost 816 a may 12 dust 2012")
    assert not timeline._may_hold_a_date("20123 cases, in2012, 3 of 4")
    assert timeline._may_hold_a_date("It was in  2012.") and timeline._may_hold_a_date("mid-2018")
    assert timeline._may_hold_a_date("May 5") and timeline._may_hold_a_date("last YEAR")


def _slow_events(doc, ps):
    """The extraction without the pre-scan (nor ``_DATE``'s quick first check)."""
    slow = []
    for p in ps:
        for start, end in timeline.sentence_spans(p.text):
            sentence = p.text[start:end]
            for m in PLAIN_DATE.finditer(sentence):
                date = timeline._resolve(m, doc.published)
                if date is not None:
                    slow.append(timeline.Event(date, sentence, p.id, p.doc_id, p.paragraph))
    return timeline._unique(sorted(slow, key=lambda e: e.date))


def test_the_prescan_changes_no_event():
    text = ("---\ntitle: t\npublished: 2020-02-20\n---\n"
            "It happened on Jan. 17. Nothing here. Early 2018 too.\n\n"
            "No dates at all in this paragraph.\n\nLast October, and last year, the 2017 talks failed.\n")
    doc = parse_story_text(text, "t")
    ps = passages(doc)
    assert timeline.extract_events(doc, ps) == _slow_events(doc, ps)
    assert len(_slow_events(doc, ps)) == 5


def test_the_prescan_changes_no_event_in_generated_stories():
    rng = random.Random(11)
    events = 0
    for i in range(300):
        paragraphs = ["".join(_sentence(rng).capitalize() + rng.choice((". ", "? ", ".\" ", " "))
                              for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(1, 4))]
        published = rng.choice(("2020", "2020-02", "2019-11-30"))
        doc = parse_story_text(f"---\ntitle: t\npublished: {published}\n---\n" + "\n\n".join(paragraphs), f"s{i}")
        ps = passages(doc)
        slow = _slow_events(doc, ps)
        assert timeline.extract_events(doc, ps) == slow
        events += len(slow)
    assert events > 150
