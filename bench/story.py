"""Whole-answer latency at the size of a story: ``python -m bench.story`` (``./dev bench`` runs it too).

Every question of tests/data/questions asked against the corpus it was written for, with the semantic stage
and with BM25 alone, after one warm-up pass (as a bot answers: the model loaded, the story cached), and once
more with questions never seen (no cache helps). Prints p50 / p99 / max in milliseconds and the build cost.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core import semantic  # noqa: E402
from bot.core.service import StoryService  # noqa: E402
from bot.evaluate import QUESTION_SETS, QuestionSet, services  # noqa: E402


def _times(service: StoryService, questions: list[str], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        for q in questions:
            started = time.perf_counter()
            service.ask(q)
            out.append((time.perf_counter() - started) * 1000)
    return sorted(out)


def _row(label: str, ms: list[float]) -> str:
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"| {label} | {len(ms)} | {statistics.median(ms):.3f} | {p99:.3f} | {ms[-1]:.3f} |"


def main() -> int:
    started = time.perf_counter()
    semantic.load_model()
    load = time.perf_counter() - started
    sets = [QuestionSet.load(p) for p in sorted(QUESTION_SETS.glob("*.yaml"))]
    base = StoryService.open(ROOT / "corpus")
    rows = []
    for semantic_on in (True, False):
        asked: list[float] = []
        for qs, svc in services(base, sets):
            svc.semantic = semantic_on
            questions = [q for q, _ in qs.answerable] + list(qs.hard_negatives) + list(qs.offtopic)
            _times(svc, questions, 1)  # warm-up
            asked += _times(svc, questions, 3)
        rows.append(_row(f"{'semantic + BM25' if semantic_on else 'BM25 alone'}, asked before", sorted(asked)))
    words = " ".join(q for qs in sets for q, _ in qs.answerable).split()
    rng = random.Random(7)
    unseen = [" ".join(rng.sample(words, rng.randint(3, 9))) + "?" for _ in range(500)]
    rows.append(_row("semantic + BM25, never seen", _times(base, unseen, 1)))
    started = time.perf_counter()
    StoryService.open(ROOT / "corpus")
    build = time.perf_counter() - started
    print(f"story size: {len(base.snapshot.passages)} passages; semantic model load {load * 1000:.0f} ms; "
          f"corpus build with embeddings {build * 1000:.0f} ms")
    print("| questions | asked | p50 (ms) | p99 (ms) | max (ms) |\n| --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
