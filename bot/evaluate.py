"""Score answers against a question set: hit@1, hit@3, wrong refusals, off-topic questions answered.

A question set is YAML::

    story: iran-canada-ties          # the document id the paragraphs belong to
    answerable:
      - q: Why did Canada close its embassy in Tehran?
        paragraphs: [8]              # any of these paragraphs answers it
    offtopic:
      - Who won the Stanley Cup?
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from .core.index import Params
from .core.service import StoryService


@dataclass(frozen=True)
class QuestionSet:
    story: str
    answerable: tuple[tuple[str, frozenset[int]], ...]
    offtopic: tuple[str, ...]

    @classmethod
    def load(cls, path: str | Path) -> QuestionSet:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return cls(
            story=data["story"],
            answerable=tuple((item["q"], frozenset(item["paragraphs"])) for item in data.get("answerable", [])),
            offtopic=tuple(data.get("offtopic", [])),
        )


@dataclass
class Score:
    name: str
    questions: int = 0
    hit1: int = 0
    hit3: int = 0
    wrong_refusals: int = 0
    offtopic: int = 0
    offtopic_answered: int = 0
    misses: list[str] = field(default_factory=list)

    def row(self) -> str:
        q = max(self.questions, 1)
        return (f"| {self.name} | {self.questions} | {self.hit1 / q:.3f} | {self.hit3 / q:.3f} | "
                f"{self.wrong_refusals} | {self.offtopic_answered}/{self.offtopic} |")

    @staticmethod
    def header() -> str:
        return ("| engine | questions | hit@1 | hit@3 | wrong refusals | off-topic answered |\n"
                "| --- | --- | --- | --- | --- | --- |")


# A ranker takes a question and returns the paragraph numbers it quotes (best first); [] is a refusal.
Ranker = Callable[[str], list[int]]


def score(name: str, qs: QuestionSet, rank: Ranker) -> Score:
    s = Score(name)
    for question, expected in qs.answerable:
        got = rank(question)
        s.questions += 1
        if not got:
            s.wrong_refusals += 1
            s.misses.append(f"refused: {question!r} (expected {sorted(expected)})")
            continue
        s.hit1 += got[0] in expected
        s.hit3 += any(p in expected for p in got[:3])
        if got[0] not in expected:
            s.misses.append(f"first {got[0]}, quoted {got[:3]}: {question!r} (expected {sorted(expected)})")
    for question in qs.offtopic:
        s.offtopic += 1
        got = rank(question)
        if got:
            s.offtopic_answered += 1
            s.misses.append(f"answered off-topic {question!r} with {got}")
    return s


def storybot_ranker(service: StoryService, story: str) -> Ranker:
    def rank(question: str) -> list[int]:
        return [q.passage.paragraph for q in service.ask(question).quotes if q.passage.doc_id == story]
    return rank


def baseline_ranker(service: StoryService, story: str) -> Ranker:
    """Plain rank-bm25 (BM25Okapi) over the raw paragraphs with lowercase whitespace tokens; it never refuses."""
    doc = service.snapshot.documents[story]
    ref = Params().reference([p.lower().split() for p in doc.paragraphs])

    def rank(question: str) -> list[int]:
        scores = ref.get_scores(question.lower().split())
        return [int(i) + 1 for i in scores.argsort()[::-1][:3]]
    return rank


def evaluate(service: StoryService, *paths: str | Path, baseline: bool = True) -> list[Score]:
    scores = []
    for path in paths:
        qs = QuestionSet.load(path)
        label = Path(path).stem
        scores.append(score(f"storybot ({label})", qs, storybot_ranker(service, qs.story)))
        if baseline:
            scores.append(score(f"rank-bm25 baseline ({label})", qs, baseline_ranker(service, qs.story)))
    return scores
