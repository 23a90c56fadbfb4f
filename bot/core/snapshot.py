"""A Snapshot: a loaded corpus with its passages, index and timeline, built together and never changed.

The archive (``bot/archive/``) stores and searches the arrays; this module turns a folder into a Snapshot,
by building it or by loading it from the archive's cache, and says what a cached snapshot means as stories.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, NamedTuple

import numpy as np

from ..archive import cache
from ..archive.index import Bm25Index, Entries, IndexBuilder, Params
from ..archive.splice import Run, splice
from ..archive.table import PassageTable, PassageTableBuilder
from ..files import open_regular
from .corpus import (MAX_FILE_BYTES, Corpus, CorpusError, Document, Problem, fingerprint, id_problems,
                     load_corpus, read_stories, story_names)
from .dates import PartialDate
from .passages import passages
from .semantic import Embeddings
from .text import tokenize
from .timeline import Event, extract_events, timeline_order

log = logging.getLogger(__name__)

DEFAULT_PARAMS = Params()
GC_CHECKPOINT_STORIES = 500
_HERE = Path(__file__).resolve().parent
SOURCES = tuple(_HERE / name for name in ("corpus.py", "dates.py", "frontmatter.py", "passages.py", "snapshot.py",
                                          "text.py", "timeline.py"))
"""The core's modules whose code decides what a snapshot holds (with the archive's own, see ``cache.py``)."""
WORKER_STORIES = 2000
"""A corpus is built by worker processes (when the caller allows them) once each gets this many stories."""
REUSE_AT_MOST = 0.5
"""A reload reuses the last cache's unchanged stories unless more than this share of the files changed."""
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
    """The timeline."""
    stored: Callable[[], cache.Stored] | None = None
    """The parts as the cache stores them (None: they came from the cache)."""


def _nothing() -> None:
    pass


def _now(save: Callable[[], object]) -> None:
    save()


def build_snapshot(folder: str | Path, *, params: Params = DEFAULT_PARAMS, max_file_bytes: int = MAX_FILE_BYTES,
                   cache_dir: str | Path | None = None, checkpoint: Callable[[], None] = _nothing,
                   write: Callable[[Callable[[], object]], None] = _now, workers: int = 1) -> Snapshot:
    """Load, validate and index a corpus folder. Raises CorpusError; never returns half a corpus.

    With ``cache_dir``, a corpus whose files are byte for byte those of a cached snapshot is loaded from the
    cache instead (see ``bot/archive/cache.py``); failing that, the stories of the last cached snapshot whose
    files are unchanged are reused, and only the others read (``bot/archive/splice.py``); a newly built
    snapshot is cached (``write`` runs the cache's writing: at once, or later), and built by up to ``workers``
    processes, the stories split between them. ``checkpoint`` is called every few thousand stories (the
    runtime policy settles the garbage collector there).
    """
    return _snapshot(_parts(Path(folder), params, max_file_bytes, cache_dir, checkpoint, write, workers),
                     checkpoint)


def prepare_cache(folder: str | Path, *, cache_dir: str | Path, params: Params = DEFAULT_PARAMS,
                  max_file_bytes: int = MAX_FILE_BYTES, workers: int = 1) -> None:
    """Make ``cache_dir`` hold the snapshot of ``folder`` as its files are now, building it if need be, so
    that ``build_snapshot`` with the same cache then only loads it (a worker process does the building).
    Raises CorpusError."""
    _parts(Path(folder), params, max_file_bytes, cache_dir, _nothing, _now, workers)


def _parts(folder: Path, params: Params, max_file_bytes: int, cache_dir: str | Path | None,
           checkpoint: Callable[[], None], write: Callable[[Callable[[], object]], None], workers: int) -> Parts:
    if cache_dir is None:
        return build_parts(load_corpus(folder, max_file_bytes=max_file_bytes, checkpoint=checkpoint), params,
                           checkpoint)
    base = cache.base_key(params, max_file_bytes, SOURCES)

    def reuse(old: cache.Stored, now: cache.Fingerprint) -> Parts | None:
        parts = _spliced(folder, old, now, params, max_file_bytes, checkpoint)
        if parts is not None:
            write(lambda: _save(cache_dir, folder, base, parts))
        return parts

    parts = cache.lookup(cache_dir, folder, base=base, checkpoint=checkpoint, reuse=reuse,
                         fingerprint=lambda: folder_fingerprint(folder, max_file_bytes=max_file_bytes),
                         make=lambda stored: _from_stored(stored, checkpoint))
    if parts is None:
        parts = _build(folder, params, max_file_bytes, checkpoint, Path(cache_dir), base, workers)
        write(lambda: _save(cache_dir, folder, base, parts))
    return parts


def _build(folder: Path, params: Params, max_file_bytes: int, checkpoint: Callable[[], None], cache_dir: Path,
           base: str, workers: int) -> Parts:
    try:
        names = story_names(folder) if workers > 1 else []
    except OSError:
        names = []  # load_corpus says why
    workers = min(workers, len(names) // WORKER_STORIES)
    if workers > 1:
        try:
            return _build_in_workers(folder, names, params, max_file_bytes, checkpoint, cache_dir, base, workers)
        except (BrokenProcessPool, OSError, cache.CacheMiss) as exc:
            log.warning("the worker processes building %s failed (%s: %s); building it in this process", folder,
                        type(exc).__name__, exc)
    return build_parts(load_corpus(folder, max_file_bytes=max_file_bytes, checkpoint=checkpoint), params,
                       checkpoint)


def _build_in_workers(folder: Path, names: list[str], params: Params, max_file_bytes: int,
                      checkpoint: Callable[[], None], cache_dir: Path, base: str, workers: int) -> Parts:
    """The corpus built by ``workers`` processes, each a run of its stories, their parts spliced here."""
    chunks = [names[i * len(names) // workers : (i + 1) * len(names) // workers] for i in range(workers)]
    log.info("building %s in %d worker processes (%d stories)", folder, workers, len(names))
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of this process is copied
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        done = list(pool.map(build_part, *zip(*[(str(folder), chunk, str(cache_dir), params, max_file_bytes, base)
                                                for chunk in chunks])))
    problems = [Problem(file, message) for _, found, _ in done for file, message in found]
    problems.extend(id_problems([pair for _, _, ids in done for pair in ids]))
    paths = [path for path, _, _ in done]
    if problems or None in paths:
        for path in filter(None, paths):
            cache.drop_part(Path(path))
        if problems:
            raise CorpusError(problems)
        raise cache.CacheMiss("a worker could not write its part")
    parts = [cache.load_part(Path(path), base) for path in paths]
    stored = splice([Run(part, 0, len(part.paragraphs)) for part in parts], "", _timeline)
    stored = stored._replace(fingerprint=fingerprint(zip(stored.stories["file"], stored.stories["sha256"])))
    checkpoint()
    return _from_stored(stored, checkpoint)._replace(stored=lambda: stored)


def build_part(folder: str, names: list[str], cache_dir: str, params: Params, max_file_bytes: int,
               base: str) -> tuple[str | None, list[tuple[str, str]], list[tuple[str, str]]]:
    """In a worker process: the stories ``names`` of ``folder`` built and cached as a part. Returns where the
    part is (None when it could not be written), each problem's file and message, and each story's id and
    file (ids must differ across all parts)."""
    docs, problems = read_stories(Path(folder), names, max_file_bytes=max_file_bytes)
    ids = [(d.id, d.file) for d in docs]
    if problems or not docs:
        return None, [(p.file, p.message) for p in problems], ids
    stored = build_parts(Corpus(tuple(docs), fingerprint((d.file, d.sha256) for d in docs)), params).stored()
    path = cache.save_part(cache_dir, base, stored)
    return (str(path) if path is not None else None), [], ids


def _save(cache_dir: str | Path, folder: Path, base: str, parts: Parts) -> None:
    if parts.stored is not None:
        stored = parts.stored()
        files = tuple(zip(stored.stories["file"], stored.stories["sha256"]))
        cache.save(cache_dir, folder, base, stored, files)


def build_parts(corpus: Corpus, params: Params = DEFAULT_PARAMS,
                checkpoint: Callable[[], None] = _nothing) -> Parts:
    """Passages, index and timeline of a loaded corpus, one story at a time: no token lists or Passage
    objects for the whole archive are ever held at once."""
    builder = IndexBuilder()
    table = PassageTableBuilder()
    own: list[Event] = []  # every story's events, story after story
    for i, doc in enumerate(corpus.documents, start=1):
        ps = passages(doc)
        table.add(doc.id, doc.paragraphs, ps)
        for p in ps:
            builder.add(tokenize(p.text))
        own.extend(extract_events(doc, ps))
        if i % GC_CHECKPOINT_STORIES == 0:
            checkpoint()
    order = timeline_order([e.date for e in own], [e.text for e in own])
    index, entries = builder.build_with_entries(params)
    built = table.build()
    return Parts(corpus, built, index, tuple(own[i] for i in order),
                 lambda: _stored(corpus, built, index, own, order, entries))


def _spliced(folder: Path, old: cache.Stored, now: cache.Fingerprint, params: Params, max_file_bytes: int,
             checkpoint: Callable[[], None]) -> Parts | None:
    """The corpus as its files are ``now``, from the stories of ``old`` whose files are unchanged and the
    stories added or edited since, read now; None when too much changed for that to pay. Raises CorpusError
    (naming only the files read now, and ids that collide)."""
    had = {(name, sha): i for i, (name, sha) in enumerate(zip(old.stories["file"], old.stories["sha256"]))}
    where = [had.get(file) for file in now.files]
    changed = [name for (name, _), i in zip(now.files, where) if i is None]
    if len(changed) > REUSE_AT_MOST * len(now.files):
        return None
    fresh, problems = read_stories(folder, changed, max_file_bytes=max_file_bytes)
    new_ids = iter([d.id for d in fresh])
    problems.extend(id_problems([(old.stories["id"][i] if i is not None else next(new_ids, ""), name)
                                 for (name, _), i in zip(now.files, where)]))
    if problems:
        raise CorpusError(problems)
    runs: list[Run] = []
    added = build_parts(Corpus(tuple(fresh), ""), params, checkpoint).stored() if fresh else None
    j = 0
    for i in where:
        run = Run(old, i, i + 1) if i is not None else Run(added, j, j + 1)
        j += i is None
        if runs and runs[-1].source is run.source and runs[-1].stop == run.start:
            runs[-1] = runs[-1]._replace(stop=run.stop)
        else:
            runs.append(run)
    stored = splice(runs, "", _timeline)
    files = list(zip(stored.stories["file"], stored.stories["sha256"]))
    stored = stored._replace(fingerprint=fingerprint(files))
    checkpoint()
    return _from_stored(stored, checkpoint)._replace(stored=lambda: stored)


def _timeline(events: cache.Events) -> np.ndarray:
    return np.array(timeline_order(list(zip(*events.dates.T.tolist())) if len(events.texts) else [], events.texts),
                    dtype=np.int32)


def _snapshot(parts: Parts, checkpoint: Callable[[], None]) -> Snapshot:
    corpus, table, index, events, _ = parts
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


def _stored(corpus: Corpus, table: PassageTable, index: Bm25Index, own: list[Event], timeline: list[int],
            entries: Entries) -> cache.Stored:
    docs = corpus.documents
    columns = {f: [str(getattr(d, f)) if f == "published" else getattr(d, f) for d in docs] for f in _DOC_FIELDS}
    events = cache.Events(
        dates=np.array([(e.date.year, e.date.month, e.date.day) for e in own], dtype=np.int32).reshape(-1, 3),
        texts=[e.text for e in own], passage_ids=[e.passage_id for e in own],
        positions=np.array([table.position(e.passage_id) for e in own], dtype=np.int32))
    return cache.Stored(corpus.fingerprint, columns, [d.paragraphs for d in docs], table, index, events,
                        np.array(timeline, dtype=np.int32), lambda: entries)


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
    ev, chosen = stored.events, stored.timeline
    doc_ids = table.doc_ids
    where = ev.positions[chosen]
    docs = [doc_ids[d] for d in table.columns["doc"][where].tolist()]
    numbers = table.columns["number"][where].tolist()
    memo: dict[tuple[int, int, int], PartialDate] = {}
    dates_ = []
    for ymd in zip(*ev.dates[chosen].T.tolist()):
        date = memo.get(ymd)
        if date is None:
            date = memo[ymd] = PartialDate(*ymd)
        dates_.append(date)
    texts, pids = ev.texts, ev.passage_ids
    picked = chosen.tolist()
    events = tuple(map(Event, dates_, [texts[i] for i in picked], [pids[i] for i in picked], docs, numbers))
    return Parts(Corpus(tuple(documents), stored.fingerprint), table, stored.index, events)
