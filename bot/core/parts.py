"""A corpus's parts (passages, index, timeline) built from its stories, and the same parts as the archive's
cache stores them (arrays and texts) and back: what a cached snapshot means as stories.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from itertools import chain
from typing import Callable, Iterator, NamedTuple

import numpy as np

from ..archive import cache
from ..archive.index import Bm25Index, Entries, IndexBuilder, Params
from ..archive.table import PassageTable, PassageTableBuilder
from ..files import folder_fd, read_regular
from .corpus import CHECKPOINT_STORIES, Corpus, Document, fingerprint, story_names
from .dates import PartialDate
from .passages import passages
from .text import tokenize, word_terms
from .timeline import Event, extract_events, timeline_order

DEFAULT_PARAMS = Params()
_DOC_FIELDS = ("id", "title", "published", "url", "publisher", "caption", "file", "sha256")


class Parts(NamedTuple):
    corpus: Corpus
    passages: PassageTable
    index: Bm25Index
    events: tuple[Event, ...]
    """The timeline."""
    stored: Callable[[], cache.Stored] | None = None
    """The parts as the cache stores them (None: they came from the cache)."""


def nothing() -> None:
    pass


def build_parts(corpus: Corpus, params: Params = DEFAULT_PARAMS,
                checkpoint: Callable[[], None] = nothing) -> Parts:
    """Passages, index and timeline of a loaded corpus, one story at a time: no token lists or Passage
    objects for the whole archive are ever held at once."""
    builder = IndexBuilder()
    ids = TermIds(builder.vocabulary)
    table = PassageTableBuilder()
    own: list[Event] = []  # every story's events, story after story
    positions: list[int] = []  # where each one's passage is in the table
    for i, doc in enumerate(corpus.documents, start=1):
        ps = passages(doc)
        first = len(builder)
        table.add(doc.id, doc.paragraphs, ps)
        for p in ps:
            builder.add_ids(ids(p.text))
        events = extract_events(doc, ps)
        if events:
            where = {p.id: first + j for j, p in enumerate(ps)}
            positions.extend([where[e.passage_id] for e in events])
            own.extend(events)
        if i % CHECKPOINT_STORIES == 0:
            checkpoint()
    dates = [(e.date.year, e.date.month, e.date.day) for e in own]
    order = timeline_order(dates, [e.text for e in own])
    index, entries = builder.build_with_entries(params)
    built = table.build()
    return Parts(corpus, built, index, tuple(own[i] for i in order.tolist()),
                 lambda: to_stored(corpus, built, index, own, dates, positions, order, entries))


class TermIds(dict):
    """The index's tokenizer: ``ids(text)`` gives ``[vocabulary[t] for t in tokenize(text)]``, each term not yet
    in ``vocabulary`` added to it as ``len(vocabulary)`` (numbered in order of first use, as ``IndexBuilder``
    numbers them), with no Python code run per word once a build has met the word.

    ``str.split`` cuts a text at whitespace several times faster than the tokenizer's pattern finds its words,
    and no word straddles whitespace (it is neither a word character nor an apostrophe, before or after the
    tokenizer's character folding), so ``tokenize(text)`` is its pieces' ``tokenize`` one after the other. A
    piece ("Tehran," "(PS752)") is worked out with ``tokenize`` the first time a build meets it; after that its
    ids cost one lookup in this dict, in C (``map`` and ``chain`` over the pieces). Emptied at ``MAX_PIECES``
    (about 170 bytes a piece), like the tokenizer's own memo, so that made-up words cannot grow it without
    bound."""

    MAX_PIECES = 200_000

    def __init__(self, vocabulary: dict[str, int]) -> None:
        super().__init__()
        self.vocabulary = vocabulary
        self._ids_of = self.__getitem__

    def __missing__(self, piece: str) -> tuple[int, ...]:
        if len(self) >= self.MAX_PIECES:
            self.clear()
        vocab = self.vocabulary
        # a piece of letters only is one word, folded by nothing: its terms are the word's
        terms = word_terms(piece) if piece.isalpha() else tokenize(piece)
        ids = self[piece] = tuple([vocab.setdefault(t, len(vocab)) for t in terms])
        return ids

    def __call__(self, text: str) -> Iterator[int]:
        """The term ids of ``text``'s tokens, in order (an iterator: ``IndexBuilder.add_ids`` counts them as
        they come, without a list)."""
        return chain.from_iterable(map(self._ids_of, text.split()))


def timeline(events: cache.Events) -> np.ndarray:
    return timeline_order(events.dates, events.texts)


def folder_fingerprint(folder: str | Path, *, max_file_bytes: int) -> cache.Fingerprint | None:
    """The folder's corpus fingerprint, from the files' bytes alone (no parsing); None when the folder
    cannot be a valid corpus as it stands (missing, empty, a file too large or unreadable)."""
    try:
        files = story_names(folder)
    except OSError:
        return None
    out = []
    with folder_fd(folder) as fd:
        if fd is None or not files:
            return None
        for name in files:
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                return None  # a file name that is not UTF-8: load_corpus will say which
            try:
                raw = read_regular(name, max_file_bytes, dir_fd=fd)  # never blocks: a FIFO or a device is refused
            except OSError:
                return None
            if len(raw) > max_file_bytes:
                return None
            out.append((name, hashlib.sha256(raw).hexdigest()))
    return cache.Fingerprint(fingerprint(out), tuple(out))


def to_stored(corpus: Corpus, table: PassageTable, index: Bm25Index, own: list[Event],
              dates: list[tuple[int, int, int]], positions: list[int], timeline: np.ndarray,
              entries: Entries) -> cache.Stored:
    """The parts as the cache stores them; ``dates`` and ``positions`` are each event's (year, month, day) and
    where its passage is in ``table``."""
    docs = corpus.documents
    columns = {f: [str(getattr(d, f)) if f == "published" else getattr(d, f) for d in docs] for f in _DOC_FIELDS}
    events = cache.Events(
        dates=np.array(dates, dtype=np.int32).reshape(-1, 3),
        texts=[e.text for e in own], passage_ids=[e.passage_id for e in own],
        positions=np.array(positions, dtype=np.int32))
    return cache.Stored(corpus.fingerprint, columns, [d.paragraphs for d in docs], table, index, events,
                        np.array(timeline, dtype=np.int32), lambda: entries)


def from_stored(stored: cache.Stored, checkpoint: Callable[[], None]) -> Parts:
    """The corpus, passages, index and timeline of a stored snapshot; ``checkpoint`` is called every
    ``CHECKPOINT_STORIES`` stories and timeline events."""
    fields, table = stored.stories, stored.passages
    if set(fields) != set(_DOC_FIELDS):
        raise cache.CacheMiss("the story columns are not a story's fields")
    dates = {published: PartialDate.parse(published) for published in set(fields["published"])}
    documents: list[Document] = []
    for i, own in enumerate(stored.paragraphs):
        documents.append(Document(
            id=fields["id"][i], title=fields["title"][i], published=dates[fields["published"][i]], paragraphs=own,
            url=fields["url"][i], publisher=fields["publisher"][i], caption=fields["caption"][i],
            file=fields["file"][i], sha256=fields["sha256"][i]))
        if i % CHECKPOINT_STORIES == 0:
            checkpoint()
    ev, picked = stored.events, stored.timeline.tolist()
    where = ev.positions[stored.timeline]
    doc_ids, docs = table.doc_ids, table.columns["doc"][where].tolist()
    numbers, ymd = table.columns["number"][where].tolist(), ev.dates[stored.timeline].tolist()
    memo: dict[tuple[int, int, int], PartialDate] = {}
    events: list[Event] = []
    for i, j in enumerate(picked):
        day = tuple(ymd[i])
        date = memo.get(day) or memo.setdefault(day, PartialDate(*day))
        events.append(Event(date, ev.texts[j], ev.passage_ids[j], doc_ids[docs[i]], numbers[i]))
        if i % CHECKPOINT_STORIES == 0:
            checkpoint()
    checkpoint()
    return Parts(Corpus(tuple(documents), stored.fingerprint), table, stored.index, tuple(events))
