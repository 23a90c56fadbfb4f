"""Answer quality on the question sets in tests/data/questions (see `python -m bot eval --help`).

members-dev is the set the BM25 variant, parameters and refusal rule were chosen on; the floors below guard
what was measured there so that a change that makes answers worse fails. The other sets (members-holdout,
the paraphrase sets dev/holdout) were not tuned on; their figures are reported, not asserted, because they
measure where keyword search stops (see README, "Answer quality").
"""

from __future__ import annotations

import pytest

from bot.core.service import StoryService
from bot.evaluate import QuestionSet, baseline_ranker, score, storybot_ranker
from tests.conftest import CORPUS, QUESTIONS


@pytest.fixture(scope="module")
def service() -> StoryService:
    return StoryService.open(CORPUS)


def test_question_sets_are_well_formed():
    for path in QUESTIONS.glob("*.yaml"):
        qs = QuestionSet.load(path)
        assert len(qs.answerable) >= 30 and len(qs.offtopic) >= 10, path.name
        assert all(1 <= p <= 20 for _, ps in qs.answerable for p in ps), path.name


def test_members_dev_floors(service):
    qs = QuestionSet.load(QUESTIONS / "members-dev.yaml")
    ours = score("storybot", qs, storybot_ranker(service, qs.story))
    base = score("baseline", qs, baseline_ranker(service, qs.story))
    print("\n" + ours.row() + "\n" + base.row())
    assert ours.offtopic_answered == 0, ours.misses
    assert ours.hit1 / ours.questions >= 0.8, ours.misses
    assert ours.hit1 >= base.hit1, "storybot must not rank worse than plain rank-bm25"
    assert ours.wrong_refusals <= 5, ours.misses


def test_every_easy_off_topic_question_is_refused(service):
    # none of these shares a distinctive word with the story
    for question in ["Who won the Stanley Cup?", "How do I make banana bread?", "any good movies out this week",
                     "How many goals did McDavid score this season?", "what's the weather in vancouver tomorrow"]:
        assert not service.ask(question).answered, question
