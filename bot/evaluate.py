"""Score answers on question sets, beside plain rank-bm25 in the same run.

A question set is YAML::

    story: iran-canada-ties          # the story the paragraph numbers belong to
    stories: [corpus/iran-canada-ties.md, tests/data/stories/follow-up.md]   # optional: the corpus to load
    answerable:                      # (paths from the repository root; default: the corpus being served)
      - q: Why did Canada close its embassy in Tehran?
        paragraphs: [8]              # any of these paragraphs answers it
    hard_negatives:                  # on topic, but the story does not answer them
      - How old is Zarif?
    offtopic:                        # nothing in the stories is related
      - Who won the Stanley Cup?

or a SQuAD 2.0 article as ``../shared/benchmarks/`` holds it (``NAME.json`` beside ``NAME.md``, loaded alone;
its unanswerable questions count as hard negatives).

Per set: hit@1 / hit@3 (answered, the gold paragraph first / among the quotes), reach@1 / reach@3 (the gold
paragraph first / in the first three passages the member sees, answer or "closest"), silent refusals
(answerable, nothing shown), off-topic questions shown anything, and hard negatives answered.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import yaml

from .display import shown
from .files import NotAFile, open_regular
from .archive.index import Params
from .core.service import StoryService

ROOT = Path(__file__).resolve().parent.parent
QUESTION_SETS = ROOT / "tests" / "data" / "questions"
BENCHMARKS = ROOT.parent / "shared" / "benchmarks" / "squad2"
MAX_BYTES = 16 * 1024 * 1024


class QuestionSetError(ValueError):
    """A question set cannot be read; the message names the file and says why, in one sentence."""


@dataclass(frozen=True)
class QuestionSet:
    name: str
    story: str
    answerable: tuple[tuple[str, frozenset[int]], ...]
    hard_negatives: tuple[str, ...] = ()
    offtopic: tuple[str, ...] = ()
    stories: tuple[Path, ...] = ()
    """The story files to load (empty: the corpus being served)."""

    @classmethod
    def load(cls, path: str | Path) -> QuestionSet:
        path = Path(path)
        name = shown(str(path), 120)
        try:
            with open_regular(path) as f:
                raw = f.read(MAX_BYTES + 1)
        except NotAFile as exc:
            raise QuestionSetError(f"{name} {exc.strerror}") from None
        except OSError as exc:
            raise QuestionSetError(f"{name} cannot be read ({exc.strerror or exc})") from None
        if len(raw) > MAX_BYTES:
            raise QuestionSetError(f"{name} is over {MAX_BYTES:,} bytes: not a question set")
        kind = "JSON" if path.suffix == ".json" else "YAML"
        try:
            text = raw.decode("utf-8")
            data = json.loads(text) if kind == "JSON" else yaml.safe_load(text)
        except UnicodeDecodeError:
            raise QuestionSetError(f"{name} is not UTF-8 text; save it as UTF-8") from None
        except (ValueError, yaml.YAMLError, RecursionError):
            raise QuestionSetError(f"{name} is not valid {kind}") from None
        try:
            if kind == "JSON":
                return cls._squad(path, data)
            if not isinstance(data, dict) or not isinstance(data.get("story"), str):
                raise TypeError
            return cls(
                name=path.stem,
                story=data["story"],
                answerable=tuple((str(item["q"]), frozenset(int(p) for p in item["paragraphs"]))
                                 for item in data.get("answerable") or ()),
                hard_negatives=tuple(str(q) for q in data.get("hard_negatives") or ()),
                offtopic=tuple(str(q) for q in data.get("offtopic") or ()),
                stories=tuple(ROOT / str(s) for s in data.get("stories") or ()),
            )
        except (TypeError, KeyError, ValueError, AttributeError):
            raise QuestionSetError(
                f"{name} is not a question set: it needs `story:` (a story id), `answerable:` (items with `q:` "
                "and `paragraphs:`), `hard_negatives:` and/or `offtopic:` (lists of questions)") from None

    @classmethod
    def _squad(cls, path: Path, data: dict) -> QuestionSet:
        return cls(
            name=f"squad2 {path.stem}",
            story=path.stem,
            answerable=tuple((item["q"], frozenset([item["paragraph"]])) for item in data["answerable"]),
            hard_negatives=tuple(item["q"] for item in data["impossible"]),
            stories=(path.with_suffix(".md"),),
        )


def default_sets() -> list[Path]:
    """Every question set of the repository, and the SQuAD articles when ``../shared`` is there."""
    return sorted(QUESTION_SETS.glob("*.yaml")) + sorted(BENCHMARKS.glob("*.json"))


# What a member sees: the reply kind and the (story, paragraph) of each passage shown, in order.
Shown = tuple[str, list[tuple[str, int]]]
Ranker = Callable[[str], Shown]


@dataclass
class Score:
    set: str
    engine: str
    questions: int = 0
    hit1: int = 0
    hit3: int = 0
    reach1: int = 0
    reach3: int = 0
    silent: int = 0
    offtopic: int = 0
    offtopic_shown: int = 0
    hard: int = 0
    hard_answered: int = 0
    misses: list[str] = field(default_factory=list)

    def rate(self, n: int) -> float:
        return n / max(self.questions, 1)

    def row(self) -> str:
        off = f"{self.offtopic_shown}/{self.offtopic}" if self.offtopic else "—"
        hard = f"{self.hard_answered}/{self.hard}" if self.hard else "—"
        return (f"| {self.set} | {self.engine} | {self.questions} | {self.rate(self.hit1):.3f} | "
                f"{self.rate(self.hit3):.3f} | {self.rate(self.reach1):.3f} | {self.rate(self.reach3):.3f} | "
                f"{self.silent} | {off} | {hard} |")

    @staticmethod
    def header() -> str:
        return ("| set | engine | questions | hit@1 | hit@3 | reach@1 | reach@3 | silent refusals | "
                "off-topic shown | hard negatives answered |\n" + "| --- " * 10 + "|")


def score(qs: QuestionSet, engine: str, rank: Ranker) -> Score:
    s = Score(qs.name, engine)
    for question, expected in qs.answerable:
        kind, shown = rank(question)
        gold = [doc == qs.story and paragraph in expected for doc, paragraph in shown]
        s.questions += 1
        answered = kind == "answer"
        s.hit1 += answered and gold[:1] == [True]
        s.hit3 += answered and any(gold[:3])
        s.reach1 += gold[:1] == [True]
        s.reach3 += any(gold[:3])
        if not shown:
            s.silent += 1
            s.misses.append(f"silent refusal: {question!r} (expected {sorted(expected)})")
        elif not (answered and gold[0]):
            s.misses.append(f"{kind} {[p for _, p in shown]}: {question!r} (expected {sorted(expected)})")
    for question in qs.offtopic:
        s.offtopic += 1
        kind, shown = rank(question)
        if shown:
            s.offtopic_shown += 1
            s.misses.append(f"off-topic shown {kind} {[p for _, p in shown]}: {question!r}")
    for question in qs.hard_negatives:
        s.hard += 1
        kind, shown = rank(question)
        if kind == "answer":
            s.hard_answered += 1
            s.misses.append(f"hard negative answered {[p for _, p in shown]}: {question!r}")
    return s


def storybot_ranker(service: StoryService) -> Ranker:
    def rank(question: str) -> Shown:
        ans = service.ask(question)
        return ans.kind, [(q.passage.doc_id, q.passage.paragraph) for q in ans.quotes or ans.nearest]
    return rank


def baseline_ranker(service: StoryService) -> Ranker:
    """Plain rank-bm25 (BM25Okapi) over the raw paragraphs of every loaded story, lowercase whitespace
    tokens; it answers every question with its top three."""
    paragraphs = [(doc.id, n, text) for doc in service.snapshot.corpus.documents
                  for n, text in enumerate(doc.paragraphs, start=1)]
    ref = Params().reference([text.lower().split() for _, _, text in paragraphs])

    def rank(question: str) -> Shown:
        scores = ref.get_scores(question.lower().split())
        return "answer", [paragraphs[int(i)][:2] for i in scores.argsort(kind="stable")[::-1][:3]]
    return rank


def services(service: StoryService, sets: list[QuestionSet]) -> Iterator[tuple[QuestionSet, StoryService]]:
    """Each set with the corpus it is asked against: its own stories, loaded alone, or ``service``'s."""
    for qs in sets:
        if not qs.stories:
            yield qs, service
            continue
        with tempfile.TemporaryDirectory(prefix="storybot-eval-") as folder:
            for story in qs.stories:
                shutil.copy(story, folder)
            yield qs, StoryService.open(folder, rule=service.rule, semantic=service.semantic)


def evaluate(service: StoryService, *paths: str | Path, baseline: bool = True) -> list[Score]:
    scores = []
    for qs, svc in services(service, [QuestionSet.load(p) for p in paths or default_sets()]):
        scores.append(score(qs, "storybot", storybot_ranker(svc)))
        if baseline:
            scores.append(score(qs, "rank-bm25", baseline_ranker(svc)))
    return scores
