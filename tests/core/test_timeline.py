"""Timeline: dated events extracted from stories, resolved against `published`, in chronological order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.corpus import parse_story, parse_story_text
from bot.core.dates import PartialDate
from bot.core.passages import passages
from bot.core.timeline import Event, build_timeline, extract_events, filter_events, timeline_order

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "corpus" / "iran-canada-ties.md"


def story(body: str, published: str = "2020-02", doc_id: str = "s", title: str = "A story"):
    return parse_story_text(f"---\ntitle: {title}\npublished: '{published}'\n---\n{body}\n", doc_id)


def events(body: str, published: str = "2020-02") -> list[Event]:
    doc = story(body, published)
    return extract_events(doc, passages(doc))


def dates(body: str, published: str = "2020-02") -> list[str]:
    return [str(e.date) for e in events(body, published)]


# --- explicit dates and their precision ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence, expected, precision",
    [
        ("They met in Oman on Jan. 17, a source said.", "2020-01-17", "day"),
        ("They met in Munich on Feb. 14, 2020.", "2020-02-14", "day"),
        ("A vote is set for July 18, 2020.", "2020-07-18", "day"),
        ("The inquiry opened in January 2019.", "2019-01", "month"),
        ("The inquiry opened in January of 2019.", "2019-01", "month"),
        ("The embassies were closed in 2012.", "2012", "year"),
        ("In 2012 the embassies closed.", "2012", "year"),
        ("Relations have been cut since 2012.", "2012", "year"),
        ("The talks were abandoned in early 2018.", "2018", "year"),
        ("Early 2018 brought the end of the talks.", "2018", "year"),
        ("The talks resumed in late 2019.", "2019", "year"),
        ("The talks stalled in mid-2018.", "2018", "year"),
        ("It ended during 2016, officials said.", "2016", "year"),
        ("The talks were planned in the spring of 2016.", "2016", "year"),
        ("The talks were planned for spring 2016.", "2016", "year"),
        ("The 2017 talks reached an advanced stage.", "2017", "year"),
        ("Athletes from both countries met at the 2016 Olympics.", "2016", "year"),
        ("She was released last October.", "2019-10", "month"),
        ("They met in October to talk.", "2019-10", "month"),
        ("The first meeting was in January.", "2020-01", "month"),
        ("A visit is planned next March.", "2020-03", "month"),
        ("The trade fell by half last year.", "2019", "year"),
        ("The trade fell by half this year.", "2020", "year"),
        ("A new envoy starts next year.", "2021", "year"),
        ("The envoy arrived this month.", "2020-02", "month"),
        ("The envoy left last month.", "2020-01", "month"),
        ("Officials met on May 5 in Geneva.", "2019-05-05", "day"),
        ("Officials met in May 2019 in Geneva.", "2019-05", "month"),
        ("The crash happened on 8 January 2020.", "2020-01-08", "day"),
        ("On July 4, 1776, the colonies declared independence.", "1776-07-04", "day"),
    ],
)
def test_explicit_dates_keep_their_precision(sentence, expected, precision):
    (event,) = events(sentence)
    assert str(event.date) == expected
    assert event.precision == precision == event.date.precision
    assert event.text == sentence


@pytest.mark.parametrize(
    "written", ["Jan 17", "Jan. 17", "January 17", "Jan. 17th", "Jan 17th", "January 17th", "Jan.17"]
)
def test_month_spellings_and_ordinal_days(written):
    assert dates(f"They met on {written} in Oman.") == ["2020-01-17"]


@pytest.mark.parametrize("written", ["Sept. 3", "Sept 3", "Sep. 3", "Sep 3", "September 3", "Sept. 3rd"])
def test_september_spellings(written):
    assert dates(f"It was signed on {written} in Ottawa.") == ["2019-09-03"]


@pytest.mark.parametrize(
    "written, expected",
    [
        ("Feb. 1", "2020-02-01"), ("Mar. 4", "2019-03-04"), ("Apr. 5", "2019-04-05"),
        ("June 6", "2019-06-06"),
        ("Jun 6", "2019-06-06"), ("July 7", "2019-07-07"), ("Jul. 7", "2019-07-07"), ("Aug. 8", "2019-08-08"),
        ("Oct. 10", "2019-10-10"), ("Nov. 11", "2019-11-11"), ("December 12", "2019-12-12"),
    ],
)
def test_every_month(written, expected):
    assert dates(f"It happened on {written} in Ottawa.") == [expected]


# --- resolving against `published` ------------------------------------------------------------------------


def test_a_day_after_published_belongs_to_the_previous_year():
    assert dates("The summit was held on Dec. 3 in Doha.") == ["2019-12-03"]
    # The same month as `published` (day unknown) is not "after" it.
    assert dates("They met on Feb. 28 in Munich.") == ["2020-02-28"]


def test_a_day_published_resolves_to_the_day():
    assert dates("They met on Feb. 5 in Munich.", published="2020-02-10") == ["2020-02-05"]
    assert dates("They met on Feb. 20 in Munich.", published="2020-02-10") == ["2019-02-20"]


def test_a_story_published_to_the_year_only():
    assert dates("The summit was held on Dec. 3 in Doha.", published="2020") == ["2020-12-03"]
    assert dates("She was released last October.", published="2020") == ["2019-10"]
    # "this month" needs to know the month
    assert dates("The envoy arrived this month.", published="2020") == []


def test_last_month_name_means_the_one_before_published():
    assert dates("She was released last February.") == ["2019-02"]
    assert dates("She was released last January.") == ["2020-01"]
    assert dates("She was released last month.", published="2020-01") == ["2019-12"]


def test_a_day_that_does_not_exist_is_no_event():
    assert dates("It was due on Feb. 30 but slipped.") == []
    assert dates("It was due on Feb. 29 but slipped.") == ["2020-02-29"]
    assert dates("It was due on Feb. 29 but slipped.", published="2019-01") == []  # 2018-02-29


# --- what is not an event -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "The crash killed 55 Canadian citizens and 30 permanent residents.",
        "Flight 752 was shot down.",
        "Justice for the victims of the Flight PS752 tragedy.",
        "Families were offered $2,000 each.",
        "About 2,500 people attended the vigil.",
        "On June 2,500 people attended the vigil.",
        "The vigil began at 5 p.m. on the steps.",
        "The embassy is at 1234 Elm Street in Ottawa.",
        "They moved from 1900 Elm Street last spring.",
        "More than 1,000 attended.",
        "The 1980 passengers were all rescued.",
        "The bill passed by 2000 votes.",
        "A crowd of 1950 people gathered.",
        "The plane fell 2000 feet in seconds.",
        "Prices rose by 2015 per cent.",
        "Relations were warmer in the 1980s.",
        "The plan runs until 2150.",
        "The order dates from 1650.",
        "Nine days after the crash, they met.",
        "Canada continues today to insist on it.",
        "Officials met recently, and again yesterday, and last week.",
        "Over the last year the talks went nowhere.",
        "The next year, the talks stalled.",
        "He said the talks may resume.",
        "Talks May resume, he said.",
        "Theresa May said in a speech that it was over.",
        "Protesters will march on the capital.",
        "March organizers asked for calm.",
        "An august body of experts met.",
        "He met them in May.",
    ],
)
def test_numbers_and_words_that_are_not_dates(sentence):
    assert events(sentence) == []


# --- sentences, duplicates, ranges --------------------------------------------------------------------------


def test_one_sentence_with_two_dates_gives_two_events():
    sentence = "The Liberals promised it in 2015, and Mr. Zarif raised it again at the Feb. 14 meeting."
    found = events(f"First sentence. {sentence} Last sentence in 2011 is separate.")
    by_date = {str(e.date): e.text for e in found}
    assert by_date == {"2011": "Last sentence in 2011 is separate.", "2015": sentence, "2020-02-14": sentence}


def test_the_same_date_and_sentence_appear_once():
    found = events("They met on Jan. 17, and on Jan. 17 they agreed, in 2019 or in 2019.")
    assert [str(e.date) for e in found] == ["2019", "2020-01-17"]


def test_a_date_range_gives_one_event_for_its_first_day():
    assert dates("Talks ran Jan. 8-10 in Geneva.") == ["2020-01-08"]
    assert dates("Talks ran Jan. 8\u201310, 2019, in Geneva.") == ["2019-01-08"]


def test_text_is_the_verbatim_sentence_of_the_passage():
    body = "Mr. Zarif met Mr. Champagne. On Jan. 17, in Oman, they talked \u201cties.\u201d Nothing followed."
    doc = story(body)
    (passage,) = passages(doc)
    (event,) = extract_events(doc, [passage])
    assert event.text == "On Jan. 17, in Oman, they talked \u201cties.\u201d"
    assert event.text in passage.text
    assert (event.passage_id, event.doc_id, event.paragraph) == ("s#1", "s", 1)


def test_events_of_a_split_paragraph_cite_the_part():
    long = " ".join(f"Sentence number {i} has some words in it." for i in range(30)) + " It ended in 2012."
    doc = story(f"Intro.\n\n{long}")
    parts = passages(doc, max_chars=200)
    (event,) = extract_events(doc, parts)
    assert event.paragraph == 2 and event.passage_id.startswith("s#2.")
    cited = next(p for p in parts if p.id == event.passage_id)
    assert event.text in cited.text


# --- ordering -----------------------------------------------------------------------------------------------


def test_chronological_with_less_precise_dates_first():
    body = "\n\n".join(
        [
            "It ended on Jan. 5, 2018.",
            "It began in January 2018.",
            "It all happened in early 2018.",
            "In 2017, too.",
        ]
    )
    found = events(body)
    assert [str(e.date) for e in found] == ["2017", "2018", "2018-01", "2018-01-05"]
    assert [e.precision for e in found] == ["year", "year", "month", "day"]


def test_ties_keep_story_then_paragraph_order():
    a = story("Talks began in 2012.\n\nEmbassies closed in 2012.", doc_id="a")
    b = story("A follow-up: in 2012 it all started.\n\nLater, on Jan. 17, they met.", doc_id="b")
    timeline = build_timeline([(a, passages(a)), (b, passages(b))])
    assert [(str(e.date), e.passage_id) for e in timeline] == [
        ("2012", "a#1"), ("2012", "a#2"), ("2012", "b#1"), ("2020-01-17", "b#2")
    ]
    assert isinstance(timeline, tuple)
    # The order of the stories given decides ties, not their ids.
    again = build_timeline([(b, passages(b)), (a, passages(a))])
    assert [e.passage_id for e in again][:3] == ["b#1", "a#1", "a#2"]


def test_a_sentence_repeated_in_a_follow_up_is_listed_once():
    a = story("The embassy closed in 2012.", doc_id="a")
    b = story("New facts on Jan. 17.\n\nThe embassy closed in 2012.", doc_id="b")
    timeline = build_timeline([(a, passages(a)), (b, passages(b))])
    assert [(str(e.date), e.passage_id) for e in timeline] == [("2012", "a#1"), ("2020-01-17", "b#1")]


def test_stories_resolve_against_their_own_published_date():
    a = story("They met on Dec. 3 in Doha.", published="2020-02", doc_id="a")
    b = story("They met on Dec. 3 in Doha.", published="2020-12-10", doc_id="b")
    timeline = build_timeline([(a, passages(a)), (b, passages(b))])
    assert [(str(e.date), e.doc_id) for e in timeline] == [("2019-12-03", "a"), ("2020-12-03", "b")]


def test_empty_timeline():
    assert build_timeline([]) == ()
    assert events("Nothing dated happens here.") == []


# --- filtering ----------------------------------------------------------------------------------------------


def _shipped() -> tuple[Event, ...]:
    doc = parse_story(SHIPPED)
    return build_timeline([(doc, passages(doc))])


def test_filter_by_year():
    timeline = _shipped()
    in_2020 = filter_events(timeline, year=2020)
    assert [str(e.date) for e in in_2020] == ["2020-01-08", "2020-01-17", "2020-02-14", "2020-02-14"]
    assert [str(e.date) for e in filter_events(timeline, year=2018)] == ["2018"]
    assert filter_events(timeline, year=1999) == []
    assert filter_events(timeline) == list(timeline)


def test_filter_by_words_ignores_case_accents_and_curly_quotes():
    timeline = _shipped()
    assert [str(e.date) for e in filter_events(timeline, contains="MUNICH")] == ["2015", "2020-02-14"]
    assert [e.paragraph for e in filter_events(timeline, contains="mombéini")] == [14, 14, 14]
    assert [e.paragraph for e in filter_events(timeline, contains='"interests sections"')] == [2]
    assert [e.paragraph for e in filter_events(timeline, contains="harper's")] == [8]
    # its words in any order and form: paragraph 9 has "the Feb. 14 meeting"
    assert [e.paragraph for e in filter_events(timeline, contains="Feb. 14 - a meeting")] == [9, 5, 9]
    assert filter_events(timeline, contains="refused to discuss Iran's proposal to resume") == []  # the title is not searched
    assert [str(e.date) for e in filter_events(timeline, year=2020, contains="oman")] == ["2020-01-17"]


def test_filter_matches_word_forms_as_search_does():
    timeline = _shipped()
    embassy = [e.paragraph for e in filter_events(timeline, contains="embassy")]
    assert 2 in embassy and 8 in embassy  # paragraph 2 says "embassies"
    assert [e.paragraph for e in filter_events(timeline, contains="embassies")] == embassy
    assert [e.paragraph for e in filter_events(timeline, contains="closing")] == \
        [e.paragraph for e in filter_events(timeline, contains="closed")]


def test_filter_by_accented_text_in_the_story():
    found = events("François Champagne visited on Jan. 17.\n\nOthers came in 2019.")
    assert [e.paragraph for e in filter_events(found, contains="francois")] == [1]
    assert [e.paragraph for e in filter_events(found, contains="FRANÇOIS")] == [1]


# --- the shipped story --------------------------------------------------------------------------------------


def test_shipped_story_events():
    timeline = _shipped()
    got = [(str(e.date), e.precision, e.paragraph) for e in timeline]
    assert got == [
        ("2012", "year", 2),  # embassies closed in 2012
        ("2012", "year", 8),  # Harper's government shuttered the embassy
        ("2015", "year", 9),  # the Liberals said they would resume ties when elected
        ("2017", "year", 11),  # talks reached an advanced stage
        ("2017", "year", 13),  # delegations went to Iran
        ("2018", "year", 14),  # talks abandoned in early 2018
        ("2019-10", "month", 14),  # Mombeini released last October
        ("2020-01-08", "day", 14),  # Flight 752 shot down on Jan. 8
        ("2020-01-17", "day", 2),  # the Oman meeting
        ("2020-02-14", "day", 5),  # the meeting in Germany
        ("2020-02-14", "day", 9),  # the Munich meeting
    ]
    doc = parse_story(SHIPPED)
    by_id = {p.id: p for p in passages(doc)}
    for e in timeline:
        assert e.doc_id == "iran-canada-ties"
        assert e.text in by_id[e.passage_id].text
    assert "Oman on Jan. 17" in timeline[8].text
    assert "early 2018" in timeline[5].text and "Jan. 8" not in timeline[5].text
    assert timeline[6].text == timeline[7].text  # one sentence, two dates
    assert list(timeline) == sorted(timeline, key=lambda e: e.date)
    assert all(e.date != PartialDate(752) and e.date.year not in (55, 30) for e in timeline)


def test_timeline_module_does_not_import_discord():
    code = "import sys, bot.core.timeline; sys.exit('discord' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


@given(st.lists(st.tuples(st.sampled_from([(2019, 0, 0), (2019, 3, 0), (2019, 3, 2), (2020, 1, 0)]),
                          st.sampled_from(["A.", "B.", "The inquiry opened.", "A."])), max_size=40))
def test_the_timeline_lists_each_dated_sentence_once_in_date_order_ties_as_told(events):
    dates, texts = [d for d, _ in events], [t for _, t in events]
    plain, told = [], set()
    for i in sorted(range(len(events)), key=dates.__getitem__):  # stable: ties in the order they were told
        if (dates[i], texts[i]) not in told:
            told.add((dates[i], texts[i]))
            plain.append(i)
    assert timeline_order(dates, texts).tolist() == plain
