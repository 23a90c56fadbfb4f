"""A Snapshot: a loaded corpus with its passages, index and timeline, built together and never changed.

The archive (``bot/archive/``) stores and searches the arrays; this module turns a folder into a Snapshot: it
loads the snapshot cached for the folder's files as they are, or rebuilds only what changed since the last
one (``rebuild.py``), or builds it (``parts.py``), and caches what it built.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from ..archive import cache
from ..archive.index import Bm25Index, Params
from ..archive.table import PassageTable
from .corpus import MAX_FILE_BYTES, Corpus, Document, load_corpus
from .parts import DEFAULT_PARAMS, Parts, build_parts, folder_fingerprint, from_stored, nothing
from .rebuild import build, spliced
from .semantic import Embeddings
from .timeline import Event

_HERE = Path(__file__).resolve().parent
SOURCES = tuple(_HERE / name for name in ("corpus.py", "dates.py", "frontmatter.py", "irregular.tsv", "lemmas.py",
                                          "parts.py", "passages.py", "rebuild.py", "snapshot.py", "text.py",
                                          "timeline.py"))
"""The core's modules whose code decides what a snapshot holds (with the archive's own, see ``cache.py``)."""


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


def _now(save: Callable[[], object]) -> None:
    save()


def build_snapshot(folder: str | Path, *, params: Params = DEFAULT_PARAMS, max_file_bytes: int = MAX_FILE_BYTES,
                   cache_dir: str | Path | None = None, checkpoint: Callable[[], None] = nothing,
                   write: Callable[[Callable[[], object]], None] = _now, workers: int = 1,
                   stop: Callable[[], bool] = lambda: False, serving: bool = False) -> Snapshot:
    """Load, validate and index a corpus folder. Raises CorpusError; never returns half a corpus.

    With ``cache_dir``, a corpus whose files are byte for byte those of a cached snapshot is loaded from the
    cache instead (see ``bot/archive/cache.py``); failing that, the stories of the last cached snapshot whose
    files are unchanged are reused, and only the others read (``bot/archive/splice.py``); a newly built
    snapshot is cached (``write`` runs the cache's writing: at once, or later), and built by up to ``workers``
    processes, the stories split between them (BuildFailed when one dies; Stopped, with the workers killed,
    once ``stop()`` is true). ``checkpoint`` is called every few thousand stories (the runtime policy settles
    the garbage collector there). ``serving``: another corpus answers questions in this process meanwhile (a
    reload), so the workers do all they can, down to caching the whole corpus, which is then only loaded here.
    """
    parts = _parts(Path(folder), params, max_file_bytes, cache_dir, checkpoint, workers, stop, serving)
    snapshot = _snapshot(parts, checkpoint)
    if cache_dir is not None and parts.stored is not None:  # built here: cached once it is ready to serve
        write(lambda: _save(cache_dir, Path(folder), params, max_file_bytes, parts))
    return snapshot


def prepare_cache(folder: str | Path, *, cache_dir: str | Path, params: Params = DEFAULT_PARAMS,
                  max_file_bytes: int = MAX_FILE_BYTES, workers: int = 1) -> None:
    """Make ``cache_dir`` hold the snapshot of ``folder`` as its files are now, building it if need be, so
    that ``build_snapshot`` with the same cache then only loads it (a worker process does the building).
    Raises CorpusError."""
    parts = _parts(Path(folder), params, max_file_bytes, cache_dir, nothing, workers, lambda: False, False)
    _save(cache_dir, Path(folder), params, max_file_bytes, parts)


def _parts(folder: Path, params: Params, max_file_bytes: int, cache_dir: str | Path | None,
           checkpoint: Callable[[], None], workers: int, stop: Callable[[], bool], serving: bool) -> Parts:
    if cache_dir is None:
        return build_parts(load_corpus(folder, max_file_bytes=max_file_bytes, checkpoint=checkpoint), params,
                           checkpoint)
    parts = cache.lookup(cache_dir, folder, base=_base(params, max_file_bytes), checkpoint=checkpoint,
                         reuse=lambda old, now: spliced(folder, old, now, params, max_file_bytes, checkpoint),
                         fingerprint=lambda: folder_fingerprint(folder, max_file_bytes=max_file_bytes),
                         make=lambda stored: from_stored(stored, checkpoint))
    if parts is None:
        parts = build(folder, params, max_file_bytes, checkpoint, Path(cache_dir), _base(params, max_file_bytes),
                      workers, stop, serving)
    return parts


def _base(params: Params, max_file_bytes: int) -> str:
    return cache.base_key(params, max_file_bytes, SOURCES)


def _save(cache_dir: str | Path, folder: Path, params: Params, max_file_bytes: int, parts: Parts) -> None:
    """Cache what was built here (nothing, when the parts came from the cache or a worker cached them)."""
    if parts.stored is not None:
        stored = parts.stored()
        files = tuple(zip(stored.stories["file"], stored.stories["sha256"]))
        cache.save(cache_dir, folder, _base(params, max_file_bytes), stored, files)


def _snapshot(parts: Parts, checkpoint: Callable[[], None]) -> Snapshot:
    corpus, table, index, events, _ = parts
    index.prepare(checkpoint)
    checkpoint()
    embeddings = Embeddings.build((p.text for p in table), len(table))
    checkpoint()
    return Snapshot(corpus=corpus, passages=table, index=index, events=events,
                    documents={doc.id: doc for doc in corpus.documents}, embeddings=embeddings)
