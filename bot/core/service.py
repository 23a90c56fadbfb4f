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
from functools import partial
from pathlib import Path
from typing import Sequence

from ..archive.index import Params
from ..archive.runtime import Runtime, in_daemon_thread
from ..archive.table import PassageTable
from ..archive.workers import BuildFailed
from .answer import Answer, AnswerRule, answer
from .snapshot import DEFAULT_PARAMS, Snapshot, build_snapshot
from .timeline import Event, filter_events

log = logging.getLogger(__name__)

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
    paragraphs: tuple[str, ...] = ()
    """The paragraphs added, removed or edited, each named by its story, number and first words."""

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
            shown = self.paragraphs[:PARAGRAPHS_LISTED]
            out.extend(f"  {p}" for p in shown)
            if len(self.paragraphs) > len(shown):
                out.append(f"  … and {len(self.paragraphs) - len(shown)} more")
        else:
            out.append(f"No changes ({self.passages_total} passages).")
        out.append(f"Timeline events: {self.events_before} → {self.events_after}")
        out.append(f"Took {self.seconds:.2f} s")
        return out


PARAGRAPHS_LISTED = 10


def first_words(text: str, words: int = 6) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


@dataclass
class StoryService:
    folder: Path
    snapshot: Snapshot
    params: Params = DEFAULT_PARAMS
    rule: AnswerRule = AnswerRule()
    cache_dir: Path | None = None
    """Where snapshots are cached between runs (None: no cache)."""
    semantic: bool = True
    """Mix in the semantic stage where its model loaded (False: BM25 alone)."""
    runtime: Runtime = field(default_factory=Runtime.plain)
    """Process-wide policy around builds and swaps, chosen by whoever runs the bot (``Runtime()`` there)."""
    generation: int = 0
    """How many reloads have swapped a new snapshot in: it changes exactly when ``snapshot`` does."""
    _reload_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _swap_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _async_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    _threads: set[threading.Thread] = field(default_factory=set, repr=False)
    """Reload threads still running (an abandoned one may never return)."""

    @classmethod
    def open(cls, folder: str | Path, *, params: Params = DEFAULT_PARAMS, rule: AnswerRule = AnswerRule(),
             cache_dir: str | Path | None = None, semantic: bool = True,
             runtime: Runtime | None = None) -> StoryService:
        folder = Path(folder)
        cache_dir = Path(cache_dir) if cache_dir is not None else None
        runtime = runtime or Runtime.plain()
        build = partial(build_snapshot, folder, params=params, cache_dir=cache_dir, checkpoint=runtime.checkpoint,
                        write=runtime.write)
        try:
            snapshot = build(workers=runtime.workers)
        except BuildFailed as exc:  # nothing serves yet: build it here instead (a reload says so, and stops)
            log.warning("%s; building the corpus in this process instead", exc)
            snapshot = build(workers=1)
        return cls(folder, snapshot, params, rule, cache_dir, semantic, runtime)

    # --- what members ask ----------------------------------------------------------------------------------

    def ask(self, question: str, *, story: str | None = None) -> Answer:
        """Answer from the whole corpus, or only from the story with id ``story``."""
        snap = self.snapshot  # one corpus for the whole answer, even if a reload swaps meanwhile
        within = None
        if story is not None:
            if story not in snap.documents:
                return Answer(question, refusal=f"There is no story `{story}`: `/sources` lists them.")
            within = snap.passages.range_of(story)
        with self.runtime.answering():  # a reload running meanwhile gives way (Runtime.checkpoint)
            return answer(question, index=snap.index, passages=snap.passages, documents=snap.documents,
                          rule=self.rule, within=within, semantic=snap.embeddings if self.semantic else None)

    def timeline(self, *, year: int | None = None, contains: str | None = None) -> list[Event]:
        return filter_events(self.snapshot.events, year=year, contains=contains)

    def sources(self) -> list[Source]:
        snap = self.snapshot
        counts = snap.passages.counts()
        return [
            Source(d.id, d.title, str(d.published), d.url, d.publisher, counts.get(d.id, 0))
            for d in snap.corpus.documents
        ]

    # --- what moderators do --------------------------------------------------------------------------------

    def reload(self) -> ReloadReport:
        """Re-read the folder and swap the new corpus in; on CorpusError, or BuildFailed (a worker process
        died), the old one keeps serving."""
        with self._reload_lock:
            return self._reload(None)

    def _reload(self, attempt: _Attempt | None) -> ReloadReport:
        with self.runtime.building():
            started = time.perf_counter()
            old = self.snapshot
            new = build_snapshot(self.folder, params=self.params, cache_dir=self.cache_dir,
                                 checkpoint=self.runtime.checkpoint, write=self.runtime.write,
                                 workers=self.runtime.workers, stop=lambda: attempt is not None and attempt.abandoned,
                                 serving=True)
            with self._swap_lock:
                if attempt is not None:
                    if attempt.abandoned:
                        log.warning("an abandoned reload of %s finished after %.0f s; its corpus was discarded",
                                    self.folder, time.perf_counter() - started)
                        raise ReloadTimeout(attempt.limit)
                    attempt.swapped = True
                self.snapshot = new
                self.generation += 1
            report = diff(old, new, seconds=time.perf_counter() - started)
            self.runtime.release(old)
            # Freed all at once, an archive's snapshot is one deallocation of hundreds of thousands of objects
            # with the GIL held (80 ms at 300k passages); a thousand at a time, questions get their turns between.
            held = [list(old.events), list(old.corpus.documents), list(old.passages.paragraphs)]
            del old  # the snapshot and its containers; what they held is still held here
            for items in held:
                while items:
                    del items[-1000:]
                    self.runtime.checkpoint()
        log.info("corpus reloaded from %s: %s", self.folder, "; ".join(report.lines()))
        return report

    async def reload_async(self, timeout: float | None = None) -> ReloadReport:
        """``reload`` off the event loop; concurrent calls wait their turn. A reload still running after
        ``timeout`` seconds is abandoned (ReloadTimeout): the old corpus keeps serving, the next reload can
        start at once, and whatever the abandoned one builds, if it ever finishes, is thrown away (worker processes
        building it are killed)."""
        async with self._async_lock:
            attempt = _Attempt(timeout or 0.0)
            work = in_daemon_thread(self._threads, self._reload, attempt)
            try:
                return await asyncio.wait_for(asyncio.shield(work), timeout)
            except asyncio.TimeoutError:
                with self._swap_lock:
                    attempt.abandoned = not attempt.swapped
                if not attempt.abandoned:  # it swapped just now: let it finish its report
                    return await work
                work.add_done_callback(_quiet)
                log.warning("the reload of %s did not finish within %.0f s and was abandoned; the old corpus "
                            "keeps serving", self.folder, timeout)
                raise ReloadTimeout(timeout) from None

    def wait_for_reloads(self, timeout: float) -> bool:
        """At shutdown: wait up to ``timeout`` seconds for reloads and cache writes still running; True when
        none is left. A reload stuck reading a dead disk is left behind: its thread is a daemon, and does not
        keep the process alive."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        written = self.runtime.wait_for_writes(max(0.0, deadline - time.monotonic()))
        return written and not any(thread.is_alive() for thread in list(self._threads))


class ReloadTimeout(Exception):
    """A reload did not finish in time and was abandoned; the corpus that was serving still serves."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"the reload did not finish within {seconds:.0f} s")


@dataclass
class _Attempt:
    limit: float
    abandoned: bool = False
    swapped: bool = False


def _quiet(work: asyncio.Future) -> None:
    """An abandoned reload's outcome: nobody waits for it any more (its own log line said how it ended)."""
    if not work.cancelled():
        work.exception()


def diff(old: Snapshot, new: Snapshot, *, seconds: float = 0.0) -> ReloadReport:
    old_docs = {d.id: d.sha256 for d in old.corpus.documents}
    new_docs = {d.id: d.sha256 for d in new.corpus.documents}
    added = [i for i in new_docs if i not in old_docs]
    removed = [i for i in old_docs if i not in new_docs]
    edited = [i for i in new_docs if i in old_docs and new_docs[i] != old_docs[i]]
    # A story file with the same bytes has the same passages, and a passage id starts with its story's id:
    # only the passages of added, removed and edited stories can differ, so only they are compared (an
    # archive's 300k passages are not).
    unsure = [i for i in new_docs if i in old_docs and not new_docs[i]]  # no digest: compare
    old_text = _texts_by_id(old.passages, [*removed, *edited, *unsure])
    new_text = _texts_by_id(new.passages, [*added, *edited, *unsure])
    changed_in_kept = {*edited, *unsure}  # whole stories added or removed are named as stories
    paragraphs = []
    for pid, body in new_text.items():
        if pid.rpartition("#")[0] in changed_in_kept and old_text.get(pid) != body:
            verb = "edited" if pid in old_text else "added"
            paragraphs.append(f"{verb} {pid}: “{first_words(body)}”")
    for pid, body in old_text.items():
        if pid.rpartition("#")[0] in changed_in_kept and pid not in new_text:
            paragraphs.append(f"removed {pid}: “{first_words(body)}”")
    return ReloadReport(
        stories_added=tuple(sorted(added)),
        stories_removed=tuple(sorted(removed)),
        stories_edited=tuple(sorted(edited)),
        passages_added=sum(1 for i in new_text if i not in old_text),
        passages_removed=sum(1 for i in old_text if i not in new_text),
        passages_edited=sum(1 for i in new_text if i in old_text and new_text[i] != old_text[i]),
        passages_total=len(new.passages),
        events_before=len(old.events),
        events_after=len(new.events),
        seconds=seconds,
        paragraphs=tuple(paragraphs),
    )


def _texts_by_id(ps: PassageTable, doc_ids: Sequence[str]) -> dict[str, str]:
    """Passage id -> text, for the passages of the stories ``doc_ids``."""
    return {p.id: p.text for doc_id in doc_ids for p in ps.of_document(doc_id)}
