"""Answers quote the story verbatim, bold what matched, cite it, and refuse honestly."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from bot.core.answer import MAX_QUESTION_CHARS, text_fragment_link
from bot.core.service import StoryService
from tests.conftest import CORPUS


@pytest.fixture(scope="module")
def service() -> StoryService:
    return StoryService.open(CORPUS)


def test_embassy_question_quotes_the_2012_closure_first(service):
    ans = service.ask("Why did Canada close its embassy in Tehran?")
    assert ans.answered
    first = ans.quotes[0]
    assert first.passage.id == "iran-canada-ties#8"
    doc = service.snapshot.documents["iran-canada-ties"]
    assert first.passage.text == doc.paragraphs[7]  # verbatim
    assert first.citation.endswith("paragraph 8")
    bold = [first.passage.text[s:e] for s, e in first.highlights]
    assert bold == ["embassy", "Tehran", "embassy", "closed"]  # "Canadian" is not "Canada"


def test_quotes_link_to_the_quoted_words(service):
    quote = service.ask("Who is Mike Poole?").quotes[0]
    assert quote.passage.paragraph == 17
    url, fragment = quote.link.split("#:~:text=")
    assert url == service.snapshot.documents["iran-canada-ties"].url
    start, end = fragment.split(",")
    assert quote.passage.text.startswith(unquote(start))
    assert quote.passage.text.endswith(unquote(end))


def test_text_fragment_escapes_dashes_commas_and_ampersands():
    link = text_fragment_link("https://x.test/a#old", "Iran–Canada talks, A&B re-start")
    assert link == "https://x.test/a#:~:text=Iran%E2%80%93Canada%20talks%2C%20A%26B%20re%2Dstart"
    assert text_fragment_link(None, "anything") is None


def test_typos_are_forgiven(service):
    assert service.ask("why did canada close its embasy in tehran").quotes[0].passage.paragraph == 8


@pytest.mark.parametrize("question", [
    "Who won the Stanley Cup?",
    "How do I make banana bread?",
    "What is the population of Canada?",
    "Who is the president of Ukraine?",
])
def test_off_topic_questions_are_refused(service, question):
    ans = service.ask(question)
    assert not ans.answered
    assert ans.refusal.startswith("The story doesn't say")


@pytest.mark.parametrize("question", [
    "", "   ", "x" * 5000, "?!?...", "the of and is it", "🙂🔥🇨🇦", "¿Dónde está la embajada?",
    "@everyone <@123> <@&456>", "**bold** __under__ `code` ||spoiler|| > quote", "\x00\u200b\n\t",
])
def test_odd_questions_get_an_answer_or_a_polite_refusal(service, question):
    ans = service.ask(question)
    assert ans.answered or (ans.refusal and len(ans.refusal) < 200)
    if len(question) > MAX_QUESTION_CHARS:
        assert "too long" in ans.refusal


def test_at_most_three_quotes_and_each_is_verbatim(service):
    paragraphs = service.snapshot.documents["iran-canada-ties"].paragraphs
    for q in ["black boxes", "Flight 752", "interests sections", "Zarif Champagne meeting"]:
        ans = service.ask(q)
        assert 1 <= len(ans.quotes) <= 3
        for quote in ans.quotes:
            assert quote.passage.text in paragraphs
