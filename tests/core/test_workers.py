"""Worker processes that build a corpus are watched: one that dies or fails is reported and the corpus that was
serving keeps serving; one that hangs is killed when the reload is given up; none is left running."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import time
from pathlib import Path

import pytest

import bot.core.rebuild as rebuild
from bench.synth import Generator
from bot.archive import workers
from bot.archive.runtime import Runtime
from bot.archive.workers import Stopped, WorkerDied, WorkerFailed
from bot.core.service import ReloadTimeout, StoryService
# what the workers run, in a module that imports little: each spawned worker imports it
from tests.core.worker_calls import dies, exit_with, hangs, killed, niceness, pid_and, raises, sleep_then

REAL_BUILD_PART = rebuild.build_part
REAL_CACHE_WHOLE = rebuild.cache_whole

def none_left(within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not multiprocessing.active_children()


# --- the runner ------------------------------------------------------------------------------------------


def test_each_call_runs_in_a_process_of_its_own_and_the_results_come_in_order():
    out = workers.run(pid_and, [(1,), (2,), (3,)])
    assert [x for _, x in out] == [2, 4, 6]
    assert os.getpid() not in {pid for pid, _ in out} and len({pid for pid, _ in out}) == 3
    assert none_left()


def test_workers_yield_the_cpu_to_the_bot_that_started_them():
    assert workers.run(niceness, [(1,), (2,)]) == [min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)] * 2


def test_a_worker_that_exits_is_reported_and_the_others_are_killed():
    started = time.monotonic()
    with pytest.raises(WorkerDied) as died:
        workers.run(exit_with, [(0,), (3,)])
    assert died.value.exitcode == 3 and "exited with code 3" in str(died.value)
    assert time.monotonic() - started < 30  # not the 60 s the other one sleeps
    assert none_left()


def test_a_worker_killed_by_the_system_is_named_as_such():
    with pytest.raises(WorkerDied) as died:
        workers.run(killed, [(0,)])
    assert "killed by signal 9" in str(died.value) and "memory" in str(died.value)


def test_what_a_worker_raised_is_reported_with_its_traceback():
    with pytest.raises(WorkerFailed) as failed:
        workers.run(raises, [(0,)])
    assert "ValueError: a story the worker could not cope with" in str(failed.value)
    assert "Traceback" in failed.value.details and "raises" in failed.value.details
    assert none_left()


def test_a_caller_that_gives_up_gets_its_workers_killed_at_once():
    give_up = time.monotonic() + 0.5  # the workers have started (0.1 s) and sleep
    with pytest.raises(Stopped):
        workers.run(sleep_then, [(600,), (600,)], stop=lambda: time.monotonic() > give_up)
    assert time.monotonic() - give_up < 5
    assert none_left()


# --- a service whose corpus is built by workers ------------------------------------------------------------


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("archive")
    # 42 stories; a vocabulary of 10,000 words, not the archive's 100,000: the same stories, other words,
    # made in 0.1 s, not 1.1 s (the workers' paths do not depend on which words)
    for story in Generator(seed=5, vocab_size=10_000).stories(320):
        (folder / f"{story.id}.md").write_text(story.markdown(), encoding="utf-8")
    return folder


@pytest.fixture
def corpus(archive: Path, tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setattr(rebuild, "WORKER_STORIES", 10)  # so that 40 stories are built by two workers
    return Path(shutil.copytree(archive, tmp_path / "corpus"))


def open_service(corpus: Path, tmp_path: Path) -> StoryService:
    return StoryService.open(corpus, cache_dir=tmp_path / "cache", semantic=False,
                             runtime=Runtime(switch=None, settle=False, write_behind=False, workers=2))


def a_full_rebuild_is_needed(corpus: Path) -> None:
    for path in sorted(corpus.glob("*.md"))[:30]:  # too many changed files to reuse the last cache
        path.write_text(path.read_text(encoding="utf-8").replace("\n\n", "\n\nAn added paragraph.\n\n", 1),
                        encoding="utf-8")


@pytest.mark.slow  # it starts worker processes four times
def test_a_reload_whose_worker_dies_is_refused_and_the_old_corpus_keeps_serving(corpus, tmp_path, monkeypatch):
    service = open_service(corpus, tmp_path)
    serving, answer = service.snapshot, service.ask("What happened?").quotes
    a_full_rebuild_is_needed(corpus)
    monkeypatch.setattr(rebuild, "build_part", dies)
    with pytest.raises(WorkerDied, match="exited with code 7"):
        service.reload()
    assert service.snapshot is serving and service.generation == 0
    assert service.ask("What happened?").quotes == answer
    assert none_left() and not list((tmp_path / "cache").glob("part-*"))
    monkeypatch.undo()
    monkeypatch.setattr(rebuild, "WORKER_STORIES", 10)
    assert service.reload().stories_edited and service.generation == 1  # the next reload runs as usual


@pytest.mark.slow  # it starts worker processes five times
def test_a_reload_whose_splicing_worker_dies_is_refused_and_leaves_no_parts(corpus, tmp_path, monkeypatch):
    service = open_service(corpus, tmp_path)
    serving = service.snapshot
    a_full_rebuild_is_needed(corpus)
    monkeypatch.setattr(rebuild, "WORKER_STORIES", 10)
    monkeypatch.setattr(rebuild, "cache_whole", dies)  # the parts are built; the worker splicing them dies
    with pytest.raises(WorkerDied, match="exited with code 7"):
        service.reload()
    assert service.snapshot is serving and service.generation == 0
    assert none_left() and not list((tmp_path / "cache").glob("part-*"))
    monkeypatch.setattr(rebuild, "cache_whole", REAL_CACHE_WHOLE)
    assert len(service.reload().stories_edited) == 30 and service.generation == 1


def test_a_start_up_whose_worker_dies_builds_the_corpus_itself(corpus, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(rebuild, "build_part", dies)
    service = open_service(corpus, tmp_path)
    assert len(service.sources()) == len(list(corpus.glob("*.md"))) >= 40
    assert "building the corpus in this process instead" in caplog.text


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_reload_whose_worker_hangs_is_given_up_and_the_worker_killed(corpus, tmp_path, monkeypatch):
    service = open_service(corpus, tmp_path)
    serving = service.snapshot
    a_full_rebuild_is_needed(corpus)
    monkeypatch.setattr(rebuild, "build_part", hangs)
    with pytest.raises(ReloadTimeout):
        await service.reload_async(timeout=1.0)
    assert service.snapshot is serving
    assert await asyncio.to_thread(none_left, 5.0)  # killed, not left sleeping for ten minutes
    monkeypatch.setattr(rebuild, "build_part", REAL_BUILD_PART)
    report = await service.reload_async(timeout=60)
    assert len(report.stories_edited) == 30 and service.generation == 1

