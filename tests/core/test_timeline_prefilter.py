"""The timeline's quick pre-scan never skips a sentence that holds a date (it only saves time)."""

from __future__ import annotations

import random

from bot.core import timeline
from bot.core.corpus import parse_story_text
from bot.core.passages import passages

WORDS = ("Jan. January Feb February March Mar. April Apr. May June Jun July Jul Aug. August Sept. September "
         "Oct. October Nov November Dec. December 17 17th 8-10 14, 2020 2012 1999s 2,500 55 mid-2018 early late "
         "in since by until the spring summer of last this next year Year YEAR month Month months years people "
         "talks election Flight PS752 meeting on, around between").split()


def test_every_date_match_contains_a_prescan_match():
    rng = random.Random(5)
    found = 0
    for _ in range(30_000):
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 7)))
        for match in timeline._DATE.finditer(sentence):
            found += 1
            assert timeline._MAYBE_DATE.search(match.group()), match.group()
    assert found > 10_000


def test_the_prescan_changes_no_event():
    text = ("---\ntitle: t\npublished: 2020-02-20\n---\n"
            "It happened on Jan. 17. Nothing here. Early 2018 too.\n\n"
            "No dates at all in this paragraph.\n\nLast October, and last year, the 2017 talks failed.\n")
    doc = parse_story_text(text, "t")
    ps = passages(doc)
    slow = []
    for p in ps:  # the extraction without the pre-scan
        for start, end in timeline.sentence_spans(p.text):
            sentence = p.text[start:end]
            for m in timeline._DATE.finditer(sentence):
                date = timeline._resolve(m, doc.published)
                if date is not None:
                    slow.append(timeline.Event(date, sentence, p.id, p.doc_id, p.paragraph))
    assert timeline.extract_events(doc, ps) == timeline._unique(sorted(slow, key=lambda e: e.date))
    assert len(slow) == 5
