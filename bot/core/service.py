"""StoryService: the loaded corpus, its index and timeline, and the one code path that answers.

Discord, the console and the command line all call this. A reload builds a new Snapshot aside and swaps
one reference, so a question is always answered from one whole corpus, old or new.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .answer import Answer, AnswerRule, answer
from .corpus import MAX_FILE_BYTES, Corpus, Document, load_corpus
from .index import Bm25Index, Params
from .passages import Passage, passages
from .text import tokenize
from .timeline import Event, build_timeline, filter_events

log = logging.getLogger(__name__)

DEFAULT_PARAMS = Params()


@dataclass(frozen=True)
class Snapshot:
    """Everything a question needs, built together and never changed."""

    corpus: Corpus
    passages: tuple[Passage, ...]
    index: Bm25Index
    events: tuple[Event, ...]
    documents: Mapping[str, Document]
    build_seconds: float = 0.0


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    published: str
    url: str | None
    publisher: str | None
    passages: int


@dataclass(frozen=True)
class ReloadReport:
    stories_added: tuple[str, ...] = ()
    stories_removed: tuple[str, ...] = ()
    stories_edited: tuple[str, ...] = ()
    passages_added: int = 0
    passages_removed: int = 0
    passages_edited: int = 0
    passages_total: int = 0
    events_before: int = 0
    events_after: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.stories_added or self.stories_removed or self.stories_edited
                    or self.passages_added or self.passages_removed or self.passages_edited)

    def lines(self) -> list[str]:
        """What changed, for the moderator who reloaded."""
        out = []
        for label, ids in (("added", self.stories_added), ("removed", self.stories_removed),
                           ("edited", self.stories_edited)):
            if ids:
                out.append(f"Stories {label}: {', '.join(ids)}")
        if self.changed:
            out.append(f"Passages: +{self.passages_added} added, -{self.passages_removed} removed, "
                       f"~{self.passages_edited} edited ({self.passages_total} in all)")
        else:
            out.append(f"No changes ({self.passages_total} passages).")
        out.append(f"Timeline events: {self.events_before} → {self.events_after}")
        out.append(f"Took {self.seconds:.2f} s")
        return out


def build_snapshot(folder: str | Path, *, params: Params = DEFAULT_PARAMS,
                   max_file_bytes: int = MAX_FILE_BYTES) -> Snapshot:
    """Load, validate and index a corpus folder. Raises CorpusError; never returns half a corpus."""
    started = time.perf_counter()
    corpus = load_corpus(folder, max_file_bytes=max_file_bytes)
    per_doc = [(doc, passages(doc)) for doc in corpus.documents]
    all_passages = tuple(p for _, ps in per_doc for p in ps)
    index = Bm25Index([tokenize(p.text) for p in all_passages], params)
    events = build_timeline(per_doc)
    return Snapshot(
        corpus=corpus,
        passages=all_passages,
        index=index,
        events=events,
        documents={doc.id: doc for doc in corpus.documents},
        build_seconds=time.perf_counter() - started,
    )


@dataclass
class StoryService:
    folder: Path
    snapshot: Snapshot
    params: Params = DEFAULT_PARAMS
    rule: AnswerRule = AnswerRule()
    _reload_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _async_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @classmethod
    def open(cls, folder: str | Path, *, params: Params = DEFAULT_PARAMS,
             rule: AnswerRule = AnswerRule()) -> StoryService:
        folder = Path(folder)
        return cls(folder, build_snapshot(folder, params=params), params, rule)

    # --- what members ask ----------------------------------------------------------------------------------

    def ask(self, question: str) -> Answer:
        snap = self.snapshot  # one corpus for the whole answer, even if a reload swaps meanwhile
        return answer(question, index=snap.index, passages=snap.passages,
                      documents=snap.documents, rule=self.rule)

    def timeline(self, *, year: int | None = None, contains: str | None = None) -> list[Event]:
        return filter_events(self.snapshot.events, year=year, contains=contains)

    def sources(self) -> list[Source]:
        snap = self.snapshot
        counts: dict[str, int] = {}
        for p in snap.passages:
            counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
        return [
            Source(d.id, d.title, str(d.published), d.url, d.publisher, counts.get(d.id, 0))
            for d in snap.corpus.documents
        ]

    # --- what moderators do --------------------------------------------------------------------------------

    def reload(self) -> ReloadReport:
        """Re-read the folder and swap the new corpus in; on CorpusError the old one keeps serving."""
        with self._reload_lock:
            started = time.perf_counter()
            old = self.snapshot
            new = build_snapshot(self.folder, params=self.params)
            self.snapshot = new
            report = diff(old, new, seconds=time.perf_counter() - started)
        log.info("corpus reloaded from %s: %s", self.folder, "; ".join(report.lines()))
        return report

    async def reload_async(self) -> ReloadReport:
        """``reload`` off the event loop; concurrent calls wait their turn."""
        async with self._async_lock:
            return await asyncio.to_thread(self.reload)


def diff(old: Snapshot, new: Snapshot, *, seconds: float = 0.0) -> ReloadReport:
    old_docs = {d.id: d.sha256 for d in old.corpus.documents}
    new_docs = {d.id: d.sha256 for d in new.corpus.documents}
    old_text = {p.id: p.text for p in old.passages}
    new_text = {p.id: p.text for p in new.passages}
    return ReloadReport(
        stories_added=tuple(sorted(new_docs.keys() - old_docs.keys())),
        stories_removed=tuple(sorted(old_docs.keys() - new_docs.keys())),
        stories_edited=tuple(sorted(i for i in new_docs.keys() & old_docs.keys() if new_docs[i] != old_docs[i])),
        passages_added=len(new_text.keys() - old_text.keys()),
        passages_removed=len(old_text.keys() - new_text.keys()),
        passages_edited=sum(1 for i in new_text.keys() & old_text.keys() if new_text[i] != old_text[i]),
        passages_total=len(new.passages),
        events_before=len(old.events),
        events_after=len(new.events),
        seconds=seconds,
    )
