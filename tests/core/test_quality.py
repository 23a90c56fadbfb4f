"""Answer quality on every question set, beside plain rank-bm25 in the same run (README, "Answer quality").

Guarded on every set: what the member sees first (reach@1, answer or "closest") is never worse than plain
rank-bm25's first quote, and an off-topic question is shown nothing. On the sets the rule was not tuned on,
no answerable question gets a bare refusal. The stricter targets (hit@1, hard negatives) are reported by
`./dev eval`, not asserted here.
"""

from __future__ import annotations

import pytest

from bot.core.service import StoryService
from bot.evaluate import BENCHMARKS, QuestionSet, baseline_ranker, default_sets, score, services, storybot_ranker
from tests.conftest import CORPUS, QUESTIONS

TUNED_ON = {"members-dev", "dev", "hard-negatives-dev", "squad2 southern-california"}
"""The sets the answer rule's numbers were chosen on; every other set is held out."""


@pytest.fixture(scope="module")
def scored() -> dict[str, tuple]:
    sets = [QuestionSet.load(p) for p in default_sets()]
    out = {}
    for qs, svc in services(StoryService.open(CORPUS), sets):
        ours, base = score(qs, "storybot", storybot_ranker(svc)), score(qs, "rank-bm25", baseline_ranker(svc))
        print("\n" + ours.row() + "\n" + base.row())
        out[qs.name] = (qs, ours, base)
    return out


def test_question_sets_are_well_formed():
    for path in QUESTIONS.glob("*.yaml"):
        qs = QuestionSet.load(path)
        assert qs.answerable or qs.hard_negatives, path.name
        assert all(p >= 1 for _, ps in qs.answerable for p in ps), path.name
        assert all(s.is_file() for s in qs.stories), path.name
    assert len(QuestionSet.load(QUESTIONS / "hard-negatives-holdout.yaml").hard_negatives) >= 30


def test_the_squad_articles_are_measured_when_shared_is_there():
    if not BENCHMARKS.is_dir():
        pytest.skip(f"{BENCHMARKS} is not there (it sits beside the repository in CI and development)")
    assert {p.stem for p in BENCHMARKS.glob("*.json")} <= {p.stem for p in default_sets()}


def test_what_members_see_first_is_never_worse_than_plain_bm25(scored):
    for qs, ours, base in scored.values():
        if qs.answerable:
            assert ours.reach1 >= base.hit1, (qs.name, ours.misses)


def test_off_topic_questions_are_shown_nothing(scored):
    for qs, ours, _ in scored.values():
        assert ours.offtopic_shown == 0, (qs.name, [m for m in ours.misses if m.startswith("off-topic")])


def test_no_answerable_question_of_a_held_out_set_gets_a_bare_refusal(scored):
    for name, (qs, ours, _) in scored.items():
        if name not in TUNED_ON:
            assert ours.silent == 0, (name, [m for m in ours.misses if m.startswith("silent")])


def test_most_hard_negatives_are_not_answered(scored):
    # the target is 3 in 4 (reported by ./dev eval); the floor here is that most are not answered
    hard = [ours for qs, ours, _ in scored.values() if qs.hard_negatives and not qs.name.startswith("squad")]
    assert sum(s.hard_answered for s in hard) <= 0.5 * sum(s.hard for s in hard)


def test_every_easy_off_topic_question_is_refused():
    service = StoryService.open(CORPUS)
    for question in ["Who won the Stanley Cup?", "How do I make banana bread?", "any good movies out this week",
                     "How many goals did McDavid score this season?", "what's the weather in vancouver tomorrow"]:
        assert service.ask(question).kind == "refused", question
