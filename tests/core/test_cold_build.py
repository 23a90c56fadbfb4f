"""A cold build (``build_parts``) takes its own fast paths through the tokenizer, the index builder and the
timeline: what it makes must be what the plain paths make, array for array."""

from __future__ import annotations

import numpy as np

from bench.synth import Generator
from bot.archive.index import IndexBuilder, Params
from bot.core.corpus import Corpus, parse_story_text
from bot.core.parts import build_parts
from bot.core.passages import passages
from bot.core.text import tokenize
from bot.core.timeline import build_timeline


def test_a_cold_build_indexes_exactly_the_terms_tokenize_gives():
    """``build_parts`` reads passages with its own fast path (``TermIds``, ``IndexBuilder.add_ids``): its index
    and entries must be the ones made from ``tokenize``'s terms, array for array; its timeline (ordered by
    dates as tuples) ``build_timeline``'s, and each stored event must point at its passage."""
    docs = [parse_story_text(story.markdown(), story.id) for story in Generator(seed=12).stories(3000)]
    tricky = "Flight PS752’s covid19 “Quoted” rock’n’roll mid-2018\u2014Tehran-based, 1990s; ﬁnancial ｍｅｔ 3rd!"
    docs.append(parse_story_text(f"---\ntitle: t\npublished: 2020\n---\n{tricky}\n\n{tricky.upper()}\n", "tricky"))
    parts = build_parts(Corpus(tuple(docs), ""))
    builder = IndexBuilder()
    for p in parts.passages:
        builder.add(tokenize(p.text))
    reference, entries = builder.build_with_entries(Params())
    assert len(parts.passages) == 3002 and list(parts.index.vocabulary) == list(reference.vocabulary)
    ours = parts.index.arrays()
    for name, array in reference.arrays().items():
        assert np.array_equal(ours[name], array), name
    stored = parts.stored()
    for name, ours, theirs in zip(entries._fields, stored.entries(), entries):
        assert np.array_equal(ours, theirs), name
    events = stored.events
    assert len(events.texts) > 500
    assert events.positions.tolist() == [parts.passages.position(pid) for pid in events.passage_ids]
    assert parts.events == build_timeline((doc, passages(doc)) for doc in docs)
