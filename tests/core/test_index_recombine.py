"""An index recombined from per-story parts (an earlier index's rows, plus the stories that changed) is the
index built from scratch, bit for bit, and scores as rank-bm25 does."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

import bot.core.text
from bench.synth import Generator
from bot.archive.index import IndexBuilder, Params, Rows, build_index, combine
from bot.core.text import tokenize

PARAMS = (Params(), Params(variant="l"), Params(variant="plus"))


@pytest.fixture(scope="module")
def stories() -> list[list[str]]:
    return [list(story.paragraphs) for story in Generator(seed=5).stories(1_500)]


def scratch(stories: list[list[str]], params: Params):
    builder = IndexBuilder()
    for story in stories:
        for p in story:
            builder.add(tokenize(p))
    return builder, builder.build(params)


def slice_rows(rows: Rows, lo: int, hi: int) -> Rows:
    """Passages lo to hi - 1 of ``rows``."""
    off = rows.offsets()
    return Rows(rows.terms[off[lo]:off[hi]], rows.counts[off[lo]:off[hi]], rows.distinct[lo:hi], rows.lengths[lo:hi])


def same(a, b) -> None:
    assert list(a.vocabulary) == list(b.vocabulary)
    assert a.size == b.size
    for name, x in a.arrays().items():
        y = b.arrays()[name]
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), name
    assert sorted(a.dense_columns()) == sorted(b.dense_columns())
    for t, col in a.dense_columns().items():
        assert col.tobytes() == b.dense_columns()[t].tobytes()


def recombine(old: list[list[str]], old_builder: IndexBuilder, plan: list, params: Params, tokenized: list[str]):
    """The index of the stories ``plan`` lists, in order: an int is story i of ``old``, reused from
    ``old_builder``'s rows; a list of paragraphs is a changed or new story, tokenized now."""
    terms, rows = list(old_builder.vocabulary), old_builder.rows()
    starts = np.cumsum([0] + [len(s) for s in old])
    pieces = []
    for item in plan:
        if isinstance(item, int):
            pieces.append((terms, slice_rows(rows, starts[item], starts[item + 1])))
        else:
            b = IndexBuilder()
            for p in item:
                tokenized.append(p)
                b.add(tokenize(p))
            pieces.append((list(b.vocabulary), b.rows()))
    vocabulary, combined = combine(pieces)
    return build_index(params, vocabulary, combined)


def check(old, new_plan, expected, params) -> list[str]:
    old_builder, _ = scratch(old, params)
    tokenized: list[str] = []
    ours = recombine(old, old_builder, new_plan, params, tokenized)
    _, theirs = scratch(expected, params)
    same(ours, theirs)
    ref = params.reference([tokenize(p) for s in expected for p in s])
    for story in expected[:: max(1, len(expected) // 40)]:
        query = tokenize(story[0])[:6]
        scores = ref.get_scores(query)
        got = {h.index: h.score for h in ours.search(query, 10)}
        assert all(scores[i] == s for i, s in got.items())
    return tokenized


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: p.variant)
@pytest.mark.parametrize("at", [0, 95])  # the first story: every term's first use can move
def test_one_story_edited(stories, params, at):
    edited = [*stories[at][:2], "A new paragraph with zyxwords never seen, and another story's: " + stories[5][0]]
    plan: list = list(range(len(stories)))
    plan[at] = edited
    expected = [*stories[:at], edited, *stories[at + 1:]]
    assert check(stories, plan, expected, params) == edited  # only the edited story was tokenized


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: p.variant)
def test_one_story_added(stories, params):
    added = ["An added story about quuxification in 2021.", stories[3][1]]
    at = 100
    plan = [*range(at), added, *range(at, len(stories))]
    assert check(stories, plan, [*stories[:at], added, *stories[at:]], params) == added


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: p.variant)
def test_one_story_removed(stories, params):
    # removing the first story drops the terms only it used and moves the first use of the others
    old_builder, _ = scratch(stories, params)
    terms, rows = list(old_builder.vocabulary), old_builder.rows()
    starts = np.cumsum([0] + [len(s) for s in stories])
    with mock.patch.object(bot.core.text, "tokenize", side_effect=AssertionError("tokenized")):
        vocabulary, combined = combine([(terms, slice_rows(rows, starts[1], starts[-1]))])
    ours = build_index(params, vocabulary, combined)
    _, theirs = scratch(stories[1:], params)
    same(ours, theirs)


def test_several_runs_share_one_vocabulary(stories):
    builder, _ = scratch(stories[:10], Params())
    terms, rows = list(builder.vocabulary), builder.rows()
    starts = np.cumsum([0] + [len(s) for s in stories[:10]])
    pieces = [(terms, slice_rows(rows, starts[i], starts[i + 1])) for i in (0, 1, 3, 4, 9)]
    vocabulary, combined = combine(pieces)
    _, theirs = scratch([stories[i] for i in (0, 1, 3, 4, 9)], Params())
    same(build_index(Params(), vocabulary, combined), theirs)
