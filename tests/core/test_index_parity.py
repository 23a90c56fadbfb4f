"""The sparse index ranks exactly as rank-bm25 does, at archive scale (10,000 synthetic passages)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.synth import Generator, questions_from
from bot.archive.index import Bm25Index, Params
from bot.core.text import tokenize


@pytest.fixture(scope="module")
def archive() -> tuple[list[list[str]], list[list[str]]]:
    gen = Generator(seed=11)
    paragraphs = [p for story in gen.stories(10_000) for p in story.paragraphs]
    assert len(paragraphs) == 10_000
    questions = questions_from(paragraphs, 150, seed=11)
    questions += ["happen", "zzzz unknown words only", "trost"]  # no match, and the commonest word alone
    return [tokenize(p) for p in paragraphs], [tokenize(q) for q in questions]


@pytest.fixture(scope="module")
def okapi(archive) -> tuple[Bm25Index, object]:
    passages, _ = archive
    return Bm25Index(passages), Params().reference(passages)


def reference_top(ref, query: list[str], k: int) -> list[tuple[int, float]]:
    """rank-bm25's k best passages that contain a query word; equal scores in passage order."""
    scores = ref.get_scores(query)
    best = np.lexsort((np.arange(len(scores)), -scores))[:k]
    return [(int(i), float(scores[i])) for i in best if any(t in ref.doc_freqs[i] for t in query)]


def test_same_top_passages_and_scores_as_rank_bm25(archive, okapi):
    _, questions = archive
    index, ref = okapi
    for query in questions:
        ours = [(h.index, h.score) for h in index.search(query, 5)]
        assert ours == reference_top(ref, query, 5), query  # same passages, same order, same floats


@pytest.mark.parametrize("variant", ["l", "plus"])
def test_bm25l_and_bm25plus_too(archive, variant):
    passages, questions = archive
    passages = passages[:3000]
    params = Params(variant=variant)
    index, ref = Bm25Index(passages, params), params.reference(passages)
    for query in questions[:40]:
        assert [(h.index, h.score) for h in index.search(query, 5)] == reference_top(ref, query, 5), query


def test_scores_are_rank_bm25s_bit_for_bit_for_every_matching_passage(archive, okapi):
    passages, questions = archive
    index, ref = okapi
    for query in questions[:20]:
        scores = ref.get_scores(query)
        hits = index.search(query, len(passages))
        assert [h.score for h in hits] == sorted(scores[scores > 0], reverse=True)
        assert all(scores[h.index] == h.score for h in hits)


def test_the_common_words_dense_path_is_used_and_agrees(archive, okapi):
    passages, _ = archive
    index, ref = okapi
    assert index.dense_columns(), "the commonest synthetic words are in more than 1/8 of the passages"
    common = max(index.vocabulary, key=index.document_frequency)
    for query in ([common], [common, common], [common, "trost", passages[5][0]]):
        assert [(h.index, h.score) for h in index.search(query, 9)] == reference_top(ref, query, 9)


def test_searches_leave_no_trace(archive, okapi):
    """The accumulator is reused between searches; it must be clean each time."""
    _, questions = archive
    index, _ = okapi
    first = [index.search(q, 5) for q in questions[:30]]
    again = [index.search(q, 5) for q in reversed(questions[:30])]
    assert first == list(reversed(again))
