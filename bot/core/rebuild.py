"""Rebuilding only what changed: a corpus spliced from the last cache's unchanged stories and the stories
read now (``spliced``), and a corpus built by worker processes, a run of stories each, their parts spliced
(``build``). The splicing itself is the archive's (``bot/archive/splice.py``).
"""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path
from typing import Callable

from ..archive import cache, workers as processes
from ..archive.index import Params
from ..archive.splice import Run, splice
from .corpus import Corpus, CorpusError, Problem, fingerprint, id_problems, load_corpus, read_stories, story_names
from .parts import Parts, build_parts, from_stored, timeline

log = logging.getLogger(__name__)

WORKER_STORIES = 2000
"""A corpus is built by worker processes (when the caller allows them) once each gets this many stories."""
REUSE_AT_MOST = 0.5
"""A reload reuses the last cache's unchanged stories unless more than this share of the files changed."""


def build(folder: Path, params: Params, max_file_bytes: int, checkpoint: Callable[[], None], cache_dir: Path,
          base: str, workers: int, stop: Callable[[], bool], serving: bool = False) -> Parts:
    """The corpus built whole: by worker processes when there are enough stories for ``workers`` of them,
    else in this process. While a corpus is ``serving`` (a reload), the parts are spliced and the whole cached
    by one more worker, and this process only loads it (it answers questions meanwhile). Raises CorpusError;
    BuildFailed when a worker died or failed, and Stopped when ``stop()`` turned true meanwhile (the workers
    are killed either way)."""
    try:
        names = story_names(folder) if workers > 1 else []
    except OSError:
        names = []  # load_corpus says why
    workers = min(workers, len(names) // WORKER_STORIES)
    if workers > 1:
        try:
            return _build_in_workers(folder, names, params, max_file_bytes, checkpoint, cache_dir, base, workers,
                                     stop, serving)
        except (OSError, cache.CacheMiss) as exc:  # not the workers' doing: no process, no room for a part
            log.warning("the worker processes building %s could not (%s: %s); building it in this process", folder,
                        type(exc).__name__, exc)
        except processes.Stopped:
            log.warning("the build of %s was given up; its worker processes were stopped", folder)
            raise
    return build_parts(load_corpus(folder, max_file_bytes=max_file_bytes, checkpoint=checkpoint), params,
                       checkpoint)


def _build_in_workers(folder: Path, names: list[str], params: Params, max_file_bytes: int,
                      checkpoint: Callable[[], None], cache_dir: Path, base: str, workers: int,
                      stop: Callable[[], bool], serving: bool) -> Parts:
    """The corpus built by ``workers`` processes, each a run of its stories, their parts spliced here (or,
    while ``serving``, by one more worker that caches the whole, which is then loaded here)."""
    # Each worker is told where its run of names starts and ends, not the names: a short message spares the
    # worker's start a wait on a full pipe (a list of thousands of names fills it), and a file added meanwhile
    # still falls in exactly one run.
    firsts = [names[i * len(names) // workers] for i in range(workers)]
    log.info("building %s in %d worker processes (%d stories)", folder, workers, len(names))
    started = time.time()
    try:
        done = processes.run(build_part, [(str(folder), first, end, str(cache_dir), params, max_file_bytes, base)
                                          for first, end in zip(firsts, [*firsts[1:], None])], stop=stop)
        problems = [Problem(file, message) for _, found, _ in done for file, message in found]
        problems.extend(id_problems([pair for _, _, ids in done for pair in ids]))
        paths = [path for path, _, _ in done]
        if problems:
            raise CorpusError(problems)
        if None in paths:
            raise cache.CacheMiss("a worker could not write its part")
        if serving:
            [key] = processes.run(cache_whole, [(paths, str(cache_dir), str(folder), base)], stop=stop)
            stored = cache.read(cache_dir, folder, key, checkpoint) if key is not None else None
            if stored is None:
                raise cache.CacheMiss("the worker splicing the parts could not cache the whole")
            return from_stored(stored, checkpoint)
        stored = _whole([cache.load_part(Path(path), base, checkpoint) for path in paths])
    except BaseException:
        for path in cache_dir.glob("part-*"):  # the parts written before something went wrong
            if _mtime(path) >= started - 1:
                cache.drop_part(path)
        raise
    checkpoint()
    return from_stored(stored, checkpoint)._replace(stored=lambda: stored)


def _whole(parts: list[cache.Stored]) -> cache.Stored:
    stored = splice([Run(part, 0, len(part.paragraphs)) for part in parts], "", timeline)
    return stored._replace(fingerprint=fingerprint(zip(stored.stories["file"], stored.stories["sha256"])))


def cache_whole(paths: list[str], cache_dir: str, folder: str, base: str) -> str | None:
    """In a worker process: the parts at ``paths`` spliced into the whole corpus and cached for ``folder``, as
    a build in the bot's process would cache it. Returns the cache's key (None: it could not be written)."""
    gc.disable()  # as build_part
    stored = _whole([cache.load_part(Path(path), base) for path in paths])
    files = list(zip(stored.stories["file"], stored.stories["sha256"]))
    if cache.save(cache_dir, folder, base, stored, files) is None:
        return None
    return cache.cache_key(base, stored.fingerprint)


def build_part(folder: str, first: str, end: str | None, cache_dir: str, params: Params, max_file_bytes: int,
               base: str) -> tuple[str | None, list[tuple[str, str]], list[tuple[str, str]]]:
    """In a worker process: the stories of ``folder`` named ``first`` up to ``end`` (excluded; None: to the
    last) built and cached as a part. Returns where the part is (None when it could not be written), each
    problem's file and message, and each story's id and file (ids must differ across all parts)."""
    gc.disable()  # a worker builds, then exits: collections would only walk what it builds, again and again
    names = [name for name in story_names(folder) if first <= name and (end is None or name < end)]
    docs, problems = read_stories(Path(folder), names, max_file_bytes=max_file_bytes)
    ids = [(d.id, d.file) for d in docs]
    if problems or not docs:
        return None, [(p.file, p.message) for p in problems], ids
    stored = build_parts(Corpus(tuple(docs), fingerprint((d.file, d.sha256) for d in docs)), params).stored()
    path = cache.save_part(cache_dir, base, stored)
    return (str(path) if path is not None else None), [], ids


def spliced(folder: Path, old: cache.Stored, now: cache.Fingerprint, params: Params, max_file_bytes: int,
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
    stored = splice(runs, "", timeline)
    files = list(zip(stored.stories["file"], stored.stories["sha256"]))
    stored = stored._replace(fingerprint=fingerprint(files))
    checkpoint()
    return from_stored(stored, checkpoint)._replace(stored=lambda: stored)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
