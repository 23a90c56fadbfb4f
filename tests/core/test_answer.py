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
    "What is the capital of France?",
])
def test_off_topic_questions_are_refused_with_nothing_shown(service, question):
    ans = service.ask(question)
    assert ans.kind == "refused" and not ans.quotes and not ans.nearest
    assert ans.refusal.startswith("The story doesn't say")


@pytest.mark.parametrize("question", ["How old is Zarif?", "What is the population of Canada?",
                                      "how many iranians were on the plane"])
def test_on_topic_questions_the_story_does_not_answer_get_the_closest_passages(service, question):
    ans = service.ask(question)
    assert ans.kind == "closest" and not ans.answered
    assert 1 <= len(ans.nearest) <= 2
    assert ans.refusal.startswith("The story may not answer this")


def test_mentions_and_question_words_are_not_searched_for(service):
    assert service.ask("@everyone <@123> who is Zarif?").answered
    ans = service.ask("How many Canadians were killed?")
    assert ans.answered and ans.quotes[0].passage.paragraph == 4  # "how many" counts against nothing


def test_irregular_forms_meet(service):
    ans = service.ask("Why did they shoot down the plane?")
    assert 4 in [q.passage.paragraph for q in ans.quotes]  # "shoot" meets "shot"
    first = next(q for q in ans.quotes if q.passage.paragraph == 4)
    assert any("shot down" in first.passage.text[s:e] for s, e in first.highlights)


def test_a_when_question_ranks_the_passage_that_gives_the_date(service):
    ans = service.ask("When did the talks get abandoned?")
    assert (ans.quotes or ans.nearest)[0].passage.paragraph == 14  # "abandoned in early 2018"


def test_a_story_narrows_the_search(tmp_path):
    from tests.conftest import write_story
    import shutil
    shutil.copy(CORPUS / "iran-canada-ties.md", tmp_path)
    write_story(tmp_path, "other.md", "Zarif visited Oman again in March.\n\nNothing else happened.", id="other")
    service = StoryService.open(tmp_path)
    assert service.ask("face-to-face meeting in Oman").quotes[0].passage.doc_id == "iran-canada-ties"
    narrowed = service.ask("face-to-face meeting in Oman", story="other")
    assert {q.passage.doc_id for q in narrowed.quotes or narrowed.nearest} == {"other"}
    assert service.ask("Zarif", story="nope").refusal.startswith("There is no story")


@pytest.mark.parametrize("question", [
    "", "   ", "x" * 5000, "?!?...", "the of and is it", "🙂🔥🇨🇦", "¿Dónde está la embajada?",
    "@everyone <@123> <@&456>", "**bold** __under__ `code` ||spoiler|| > quote", "\x00\u200b\n\t",
])
def test_odd_questions_get_an_answer_or_a_polite_refusal(service, question):
    ans = service.ask(question)
    assert ans.answered or (ans.refusal and len(ans.refusal) < 300)
    if len(question) > MAX_QUESTION_CHARS:
        assert "too long" in ans.refusal


def test_at_most_three_quotes_and_each_is_verbatim(service):
    paragraphs = service.snapshot.documents["iran-canada-ties"].paragraphs
    for q in ["black boxes", "Flight 752", "interests sections", "Zarif Champagne meeting"]:
        ans = service.ask(q)
        assert 1 <= len(ans.quotes) <= 3
        for quote in ans.quotes:
            assert quote.passage.text in paragraphs


def test_without_the_semantic_model_bm25_alone_still_answers(monkeypatch):
    from bot.core import semantic

    monkeypatch.setattr(semantic, "load_model", lambda: None)
    service = StoryService.open(CORPUS)
    assert service.snapshot.embeddings is None
    assert service.ask("Why did Canada close its embassy in Tehran?").quotes[0].passage.paragraph == 8
    assert service.ask("Who won the Stanley Cup?").kind == "refused"


def test_the_semantic_model_loads_offline_from_its_wheel():
    from bot.core import semantic

    model = semantic.load_model()
    assert model is not None  # installed by pyproject; WordLlama would raise rather than download
    vectors = model.embed(["killed", "died", "banana"], norm=True)
    assert vectors[0] @ vectors[1] > 0.6 > vectors[0] @ vectors[2]
