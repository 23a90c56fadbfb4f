"""A Snapshot: a loaded corpus with its passages, index and timeline, built together and never changed.

The archive (``bot/archive/``) stores and searches the arrays; this module turns a folder into a Snapshot,
by building it or by loading it from the archive's cache, and says what a cached snapshot means as stories.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, NamedTuple

import numpy as np

from ..archive import cache
from ..archive.index import Bm25Index, IndexBuilder, Params
from ..archive.table import PassageTable, PassageTableBuilder
from ..files import open_regular
from .corpus import MAX_FILE_BYTES, Corpus, Document, fingerprint, load_corpus, story_names
from .dates import PartialDate
from .passages import passages
from .semantic import Embeddings
from .text import tokenize
from .timeline import Event, build_timeline

DEFAULT_PARAMS = Params()
GC_CHECKPOINT_STORIES = 500
_HERE = Path(__file__).resolve().parent
SOURCES = tuple(_HERE / name for name in ("corpus.py", "dates.py", "frontmatter.py", "passages.py", "snapshot.py",
                                          "text.py", "timeline.py"))
"""The core's modules whose code decides what a snapshot holds (with the archive's own, see ``cache.py``)."""
_DOC_FIELDS = ("id", "title", "published", "url", "publisher", "caption", "file", "sha256")


@dataclass(frozen=True)
class Snapshot:
    """Everything a question needs, built together and never changed."""

    corpus: Corpus
    passages: PassageTable
    """``passages[i]``, ``len()`` and iteration give Passage objects, made on access."""
    index: Bm25Index
    events: tuple[Event, ...]
    documents: Mapping[str, Document]
    embeddings: Embeddings | None = None
    """The semantic stage's passage vectors (None: BM25 alone; see ``semantic.py``)."""
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    """When this corpus started serving (UTC)."""

    @property
    def version(self) -> str:
        """A short hash of the corpus's content: equal versions, equal stories."""
        return self.corpus.fingerprint[:8]


class Parts(NamedTuple):
    corpus: Corpus
    passages: PassageTable
    index: Bm25Index
    events: tuple[Event, ...]


def _nothing() -> None:
    pass


def build_snapshot(folder: str | Path, *, params: Params = DEFAULT_PARAMS, max_file_bytes: int = MAX_FILE_BYTES,
                   cache_dir: str | Path | None = None, checkpoint: Callable[[], None] = _nothing) -> Snapshot:
    """Load, validate and index a corpus folder. Raises CorpusError; never returns half a corpus.

    With ``cache_dir``, a corpus whose files are byte for byte those of a cached snapshot is loaded from the
    cache instead (see ``bot/archive/cache.py``), and a newly built snapshot is cached. ``checkpoint`` is
    called every few thousand stories (the runtime policy settles the garbage collector there).
    """
    return _snapshot(_parts(Path(folder), params, max_file_bytes, cache_dir, checkpoint), checkpoint)


def prepare_cache(folder: str | Path, *, cache_dir: str | Path, params: Params = DEFAULT_PARAMS,
                  max_file_bytes: int = MAX_FILE_BYTES) -> None:
    """Make ``cache_dir`` hold the snapshot of ``folder`` as its files are now, building it if need be, so
    that ``build_snapshot`` with the same cache then only loads it (a worker process does the building).
    Raises CorpusError."""
    _parts(Path(folder), params, max_file_bytes, cache_dir, _nothing)


def _parts(folder: Path, params: Params, max_file_bytes: int, cache_dir: str | Path | None,
           checkpoint: Callable[[], None]) -> Parts:
    if cache_dir is not None:
        parts = cache.lookup(cache_dir, folder, checkpoint=checkpoint,
                             fingerprint=lambda: folder_fingerprint(folder, max_file_bytes=max_file_bytes),
                             key_of=lambda digest: cache.cache_key(digest, params, max_file_bytes, SOURCES),
                             make=lambda stored: _from_stored(stored, checkpoint))
        if parts is not None:
            return parts
    corpus = load_corpus(folder, max_file_bytes=max_file_bytes, checkpoint=checkpoint)
    parts = build_parts(corpus, params, checkpoint)
    if cache_dir is not None:
        files = tuple((d.file, d.sha256) for d in corpus.documents)
        cache.save(cache_dir, folder, cache.cache_key(corpus.fingerprint, params, max_file_bytes, SOURCES),
                   _stored(parts), files)
    return parts


def build_parts(corpus: Corpus, params: Params = DEFAULT_PARAMS,
                checkpoint: Callable[[], None] = _nothing) -> Parts:
    """Passages, index and timeline of a loaded corpus, one story at a time: no token lists or Passage
    objects for the whole archive are ever held at once."""
    builder = IndexBuilder()
    table = PassageTableBuilder()

    def stories():
        for i, doc in enumerate(corpus.documents, start=1):
            ps = passages(doc)
            table.add(doc.id, doc.paragraphs, ps)
            for p in ps:
                builder.add(tokenize(p.text))
            yield doc, ps
            if i % GC_CHECKPOINT_STORIES == 0:
                checkpoint()

    events = build_timeline(stories())
    return Parts(corpus, table.build(), builder.build(params), events)


def _snapshot(parts: Parts, checkpoint: Callable[[], None]) -> Snapshot:
    corpus, table, index, events = parts
    embeddings = Embeddings.build((p.text for p in table), len(table))
    checkpoint()
    return Snapshot(corpus=corpus, passages=table, index=index, events=events,
                    documents={doc.id: doc for doc in corpus.documents}, embeddings=embeddings)


# --- the cache: a folder's fingerprint, and snapshots as arrays and texts --------------------------------------


def folder_fingerprint(folder: str | Path, *, max_file_bytes: int) -> cache.Fingerprint | None:
    """The folder's corpus fingerprint, from the files' bytes alone (no parsing); None when the folder
    cannot be a valid corpus as it stands (missing, empty, a file too large or unreadable)."""
    folder = Path(folder)
    try:
        files = story_names(folder)
        if not files:
            return None
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None
    out = []
    try:
        for name in files:
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                return None  # a file name that is not UTF-8: load_corpus will say which
            try:
                with open_regular(name, dir_fd=fd) as f:  # never blocks: a FIFO or a device is refused
                    raw = f.read(max_file_bytes + 1)
            except OSError:
                return None
            if len(raw) > max_file_bytes:
                return None
            out.append((name, hashlib.sha256(raw).hexdigest()))
    finally:
        os.close(fd)
    return cache.Fingerprint(fingerprint(out), tuple(out))


def _stored(parts: Parts) -> cache.Stored:
    corpus, table, index, events = parts
    docs = corpus.documents
    columns = {f: [str(getattr(d, f)) if f == "published" else getattr(d, f) for d in docs] for f in _DOC_FIELDS}
    timeline = cache.Events(
        dates=np.array([(e.date.year, e.date.month, e.date.day) for e in events], dtype=np.int32).reshape(-1, 3),
        texts=[e.text for e in events], passage_ids=[e.passage_id for e in events],
        positions=np.array([table.position(e.passage_id) for e in events], dtype=np.int32))
    return cache.Stored(corpus.fingerprint, columns, [d.paragraphs for d in docs], table, index, timeline)


def _from_stored(stored: cache.Stored, checkpoint: Callable[[], None]) -> Parts:
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
        if (i + 1) % 2000 == 0:
            checkpoint()
    checkpoint()
    ev = stored.events
    doc_ids = table.doc_ids
    where = ev.positions
    docs = [doc_ids[d] for d in table.columns["doc"][where].tolist()]
    numbers = table.columns["number"][where].tolist()
    memo: dict[tuple[int, int, int], PartialDate] = {}
    dates_ = []
    for ymd in zip(*ev.dates.T.tolist()):
        date = memo.get(ymd)
        if date is None:
            date = memo[ymd] = PartialDate(*ymd)
        dates_.append(date)
    events = tuple(map(Event, dates_, ev.texts, ev.passage_ids, docs, numbers))
    return Parts(Corpus(tuple(documents), stored.fingerprint), table, stored.index, events)
