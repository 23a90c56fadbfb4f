"""Splicing snapshots: the stored snapshot of a corpus put together from runs of stories of other stored
snapshots (the unchanged stories of the last cache, and the few stories that were added or edited since),
so that a reload re-reads and re-tokenizes only what changed.

Stories, paragraphs, passages and events are copied run by run, with their positions moved. The index is
recomputed whole from its entries (which passage has which term, how often, and where it is first used) and
each passage's length, because every story changes the statistics every score depends on (how many passages
have each term, the average length): ``index.from_entries`` makes, bit for bit, the index a build from
scratch makes, so the scores stay rank-bm25's. It is all array work: about 0.4 s at 100k passages, where
tokenizing them again takes half a minute.
"""

from __future__ import annotations

from itertools import chain
from typing import Callable, NamedTuple, Sequence

import numpy as np

from .cache import Events, Stored
from .index import Entries, from_entries
from .table import PassageTable


class Run(NamedTuple):
    """Stories ``start`` to ``stop - 1`` of a stored snapshot."""
    source: Stored
    start: int
    stop: int


def splice(runs: Sequence[Run], fingerprint: str, timeline: Callable[[Events], np.ndarray]) -> Stored:
    """The stored snapshot of the stories of ``runs``, in order; ``timeline`` orders its events (the core's
    rule: which events, in what order). The runs of one source must come in its own order."""
    if not runs:
        raise ValueError("cannot splice an empty corpus")
    stories: dict[str, list] = {f: [] for f in runs[0].source.stories}
    paragraphs: list[tuple[str, ...]] = []
    flat: list[Sequence[str]] = []
    columns: dict[str, list[np.ndarray]] = {name: [] for name in runs[0].source.passages.columns}
    lengths, events = [], []
    starts = _Starts()
    at_story = at_para = at_passage = 0
    for source, a, b in runs:
        pa, pb = starts.passages(source, a, b)
        qa, qb = starts.paragraphs(source, a, b)
        for f, col in stories.items():
            col.extend(source.stories[f][a:b])
        paragraphs.extend(source.paragraphs[a:b])
        flat.append(source.passages.paragraphs[qa:qb])
        for name, parts in columns.items():
            col = source.passages.columns[name][pa:pb]
            parts.append(col + (at_story - a) if name == "doc" else col + (at_para - qa) if name == "para" else col)
        lengths.append(source.entries().lengths[pa:pb])
        ev = source.events
        keep = np.flatnonzero((ev.positions >= pa) & (ev.positions < pb))
        events.append(Events(ev.dates[keep], [ev.texts[i] for i in keep.tolist()],
                             [ev.passage_ids[i] for i in keep.tolist()], ev.positions[keep] + (at_passage - pa)))
        at_story, at_para, at_passage = at_story + b - a, at_para + qb - qa, at_passage + pb - pa
    table = PassageTable(stories["id"], list(chain.from_iterable(flat)),
                         **{name: np.concatenate(parts) for name, parts in columns.items()})
    index, entries = _index(runs, starts, np.concatenate(lengths))
    joined = Events(np.concatenate([e.dates for e in events]).reshape(-1, 3),
                    list(chain.from_iterable(e.texts for e in events)),
                    list(chain.from_iterable(e.passage_ids for e in events)),
                    np.concatenate([e.positions for e in events]))
    return Stored(fingerprint, stories, paragraphs, table, index, joined, timeline(joined), lambda: entries)


class _Starts:
    """Where each story's passages and paragraphs start in a source (worked out once per source)."""

    def __init__(self) -> None:
        self._passages: dict[int, np.ndarray] = {}
        self._paragraphs: dict[int, np.ndarray] = {}

    def passages(self, source: Stored, a: int, b: int) -> tuple[int, int]:
        starts = self._passages.get(id(source))
        if starts is None:
            docs = source.passages.columns["doc"]  # in story order
            starts = self._passages[id(source)] = np.searchsorted(docs, np.arange(len(source.paragraphs) + 1))
        return int(starts[a]), int(starts[b])

    def paragraphs(self, source: Stored, a: int, b: int) -> tuple[int, int]:
        starts = self._paragraphs.get(id(source))
        if starts is None:
            counts = np.fromiter(map(len, source.paragraphs), dtype=np.int64, count=len(source.paragraphs))
            starts = self._paragraphs[id(source)] = np.concatenate(([0], np.cumsum(counts)))
        return int(starts[a]), int(starts[b])


def _index(runs: Sequence[Run], starts: _Starts, lengths: np.ndarray):
    """The index of the runs' passages from the entries of their sources' indexes."""
    n = len(lengths)
    sources: dict[int, Stored] = {}
    moves: dict[int, np.ndarray] = {}  # per source: each of its passages' new position, or -1
    at = 0
    for source, a, b in runs:
        pa, pb = starts.passages(source, a, b)
        move = moves.get(id(source))
        if move is None:
            sources[id(source)] = source
            move = moves[id(source)] = np.full(source.index.size, -1, dtype=np.int64)
        move[pa:pb] = np.arange(at, at + pb - pa)
        at += pb - pa
    # The largest source's vocabulary keeps its ids; the others' terms are looked up in it, or added.
    order = sorted(sources, key=lambda s: -sources[s].index.size)
    base = sources[order[0]].index
    ids = dict(base.vocabulary)
    parts = []
    for s in order:
        index, move = sources[s].index, moves[s]
        if s == order[0]:
            lut = np.arange(len(base.df), dtype=np.int32)
        else:
            lut = np.fromiter((ids.setdefault(t, len(ids)) for t in index.vocabulary), dtype=np.int32,
                              count=len(index.vocabulary))
        entries = sources[s].entries()
        where = move[index.indices]
        keep = where >= 0
        terms = np.repeat(lut, np.diff(index.indptr))
        parts.append(tuple(a[keep] for a in (terms, where, entries.counts, entries.ranks)))
    terms, where, counts, ranks = parts[0]
    kept_in_order = bool(np.all(np.diff(moves[order[0]][moves[order[0]] >= 0]) > 0))
    key = terms.astype(np.int64) * (n + 1) + where
    if len(parts) > 1 or not kept_in_order:
        # the base's entries stay sorted (term, then passage) when its runs keep their order: the others'
        # entries, few, are sorted and slotted in
        rest = [np.concatenate(col) for col in zip(*parts[1:])] if len(parts) > 1 else [np.zeros(0, np.int64)] * 4
        if not kept_in_order:
            rest = [np.concatenate((x, y)) for x, y in zip((terms, where, counts, ranks), rest)]
            terms, where, counts, ranks = (np.zeros(0, a.dtype) for a in (terms, where, counts, ranks))
            key = np.zeros(0, np.int64)
        rest_key = rest[0].astype(np.int64) * (n + 1) + rest[1]
        o = np.argsort(rest_key, kind="stable")
        slots = np.searchsorted(key, rest_key[o])
        terms, where, counts, ranks = (np.insert(x, slots, y[o]) for x, y in zip((terms, where, counts, ranks), rest))
    vocabulary = list(ids)
    return from_entries(base.params, vocabulary, terms.astype(np.int32), where.astype(np.int32),
                        Entries(counts.astype(np.int32), ranks.astype(np.int32), lengths.astype(np.int64)))
