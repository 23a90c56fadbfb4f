"""Splicing snapshots: the stored snapshot of a corpus put together from runs of stories of other stored
snapshots (the unchanged stories of the last cache, and the few stories that were added or edited since; or
the parts that worker processes built), so that a reload re-reads and re-tokenizes only what changed.

Stories, paragraphs, passages and events are copied run by run, with their positions moved. The index's
entries (which passage has which term, how often, and where it is first used) are copied column by column,
the unchanged stretches whole; then every contribution is recomputed from them and each passage's length,
because every story changes the statistics every score depends on (how many passages have each term, the
average length). ``index.from_entries`` makes the index a build from scratch makes, term for term and bit for
bit, so the scores stay rank-bm25's; only the order of the terms may differ. It is all array work: about
0.5 s at 300k passages for one story edited, where tokenizing them again takes over a minute.
"""

from __future__ import annotations

from itertools import chain
from typing import Callable, NamedTuple, Sequence

import numpy as np

from .cache import Events, Stored
from .index import Entries, from_entries
from .table import PassageTable

SLICED_PIECES = 20_000
"""Up to this many stretches are copied one slice at a time; more, by gathers."""
GATHER = 1 << 20
"""Entries copied by one gather."""


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
    """The index of the runs' passages from the entries of their sources' indexes.

    A column of the new index is the runs' pieces of that term's columns, run after run (each run is a
    range of its source's passages, and a column lists its passages in order). The pieces are copied as
    they lie: an unchanged stretch of the largest source, column after column, is one copy, so that
    splicing one story into an archive costs a few passes over the arrays, not a sort of them. The largest
    source's terms keep their ids; the others' new terms follow."""
    sources: dict[int, Stored] = {}
    for run in runs:
        sources.setdefault(id(run.source), run.source)
    base = max(sources.values(), key=lambda s: len(s.index.indices))
    ids = dict(base.index.vocabulary)
    pieces = []  # (output term, run, source, first entry in the source, how many entries), a column's run each
    for k, (key, source) in enumerate(sources.items()):
        lut = None if source is base else np.fromiter(
            (ids.setdefault(t, len(ids)) for t in source.index.vocabulary), dtype=np.int64,
            count=len(source.index.vocabulary))
        term, run, lo, count = _pieces(source, [(r, *starts.passages(source, a, b))
                                                for r, (s, a, b) in enumerate(runs) if s is source])
        pieces.append((term if lut is None else lut[term], run, np.full(len(run), k), lo, count))
    term, run, src, lo, count = (np.concatenate(column) for column in zip(*pieces))
    order = np.lexsort((run, term))  # column after column; a column's pieces in the order of the runs
    term, src, lo, count = term[order], src[order], lo[order], count[order]
    indptr = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term, weights=count, minlength=len(ids)).astype(np.int64), out=indptr[1:])
    at = np.zeros(len(count), dtype=np.int64)  # where each piece goes
    np.cumsum(count[:-1], out=at[1:])
    total = int(indptr[-1])
    indices = np.empty(total, dtype=np.int32)
    counts, ranks = np.empty(total, dtype=np.int32), np.empty(total, dtype=np.int32)
    for k, source in enumerate(sources.values()):
        mine = np.flatnonzero(src == k)
        entries = source.entries()
        for out, values in ((indices, _moved(runs, starts, source)), (counts, entries.counts),
                            (ranks, entries.ranks)):
            _copy_pieces(out, values, at[mine], lo[mine], count[mine])
    return from_entries(base.index.params, list(ids), indptr, indices,
                        Entries(counts, ranks, lengths.astype(np.int64)))


def _pieces(source: Stored, runs: list[tuple[int, int, int]]):
    """The pieces of the source's columns that its runs ``(run, first passage, end)`` keep: for each, the
    term, the run, its first entry and how many entries it has (a column lists its passages in order, so a
    run's entries in a column are one stretch of it)."""
    indptr, indices = source.index.indptr, source.index.indices
    df = np.diff(indptr)
    runs = [(r, a, b) for r, a, b in runs if b > a]  # a run of no passages has no entries (and no bucket)
    if not runs:
        return (np.zeros(0, dtype=np.int64),) * 4
    if len(runs) == 1 and runs[0][1:] == (0, source.index.size):  # all of it, whole columns
        has = np.flatnonzero(df)
        return has, np.full(len(has), runs[0][0]), indptr[:-1][has], df[has]
    bounds = np.array(sorted({p for _, a, b in runs for p in (a, b)}), dtype=np.int32)
    bucket = _buckets(indices, bounds)
    starts = np.zeros(len(indices), dtype=bool)
    starts[indptr[:-1][df > 0]] = True
    np.not_equal(bucket[1:], bucket[:-1], out=starts[1:], where=~starts[1:])
    lo = np.flatnonzero(starts)
    count = np.diff(np.append(lo, len(indices)))
    run_of = np.full(len(bounds) + 1, -1, dtype=np.int64)  # bucket -> run (-1: passages no run keeps)
    for r, a, _ in runs:
        run_of[np.searchsorted(bounds, a, side="right")] = r
    run = run_of[bucket[lo]]
    keep = run >= 0
    term = np.searchsorted(indptr, lo[keep], side="right") - 1
    return term, run[keep], lo[keep], count[keep]


def _buckets(passages: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """For each passage, how many of ``bounds`` (ascending) it is at or after: bucket i holds the passages
    ``bounds[i - 1]`` to ``bounds[i] - 1``. A few bounds (one story spliced) are a few comparisons, ten
    times faster than a binary search per entry."""
    if len(bounds) > 16:
        return np.searchsorted(bounds, passages, side="right")
    bucket = np.zeros(len(passages), dtype=np.int8)
    for b in bounds.tolist():
        bucket += (passages >= b).view(np.int8)
    return bucket


def _moved(runs: Sequence[Run], starts: _Starts, source: Stored) -> np.ndarray:
    """The passage of each of the source's entries, as its new position (the source's own array when no
    passage it keeps moves)."""
    move = np.full(source.index.size, -1, dtype=np.int32)
    at = 0
    for run in runs:
        pa, pb = starts.passages(run.source, run.start, run.stop)
        if run.source is source:
            move[pa:pb] = np.arange(at, at + pb - pa, dtype=np.int32)
        at += pb - pa
    kept = np.flatnonzero(move >= 0)
    if np.array_equal(move[kept], kept):
        return source.index.indices
    return move[source.index.indices]


def _copy_pieces(out: np.ndarray, source: np.ndarray, at: np.ndarray, lo: np.ndarray, count: np.ndarray) -> None:
    """``out[at[i]:at[i] + count[i]] = source[lo[i]:lo[i] + count[i]]`` for each piece ``i`` (in the order of
    ``at``), pieces that follow each other in both arrays copied as one."""
    if not len(at):
        return
    joins = np.flatnonzero((at[1:] != at[:-1] + count[:-1]) | (lo[1:] != lo[:-1] + count[:-1])) + 1
    first = np.concatenate(([0], joins))
    at, lo, count = at[first], lo[first], np.add.reduceat(count, first)
    if len(at) <= SLICED_PIECES:  # a few long stretches (one story spliced into an archive): slice by slice
        for a, s, c in zip(at.tolist(), lo.tolist(), count.tolist()):
            out[a : a + c] = source[s : s + c]
        return
    # many short ones (two halves of a corpus, interleaved column by column): gathers of about GATHER
    # entries each (np.repeat holds the GIL: a question waits for one gather at most)
    cuts = np.searchsorted(np.cumsum(count), np.arange(GATHER, int(count.sum()), GATHER)).tolist()
    for a, b in zip([0, *cuts], [*cuts, len(at)]):
        if b > a:
            c = count[a:b]
            dest = np.repeat(at[a:b] - (np.cumsum(c) - c), c) + np.arange(int(c.sum()))
            out[dest] = source[dest + np.repeat(lo[a:b] - at[a:b], c)]
