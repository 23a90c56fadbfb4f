"""The runtime policy is the runner's choice: the core sets nothing process-wide unless it is handed a
``Runtime``; a reload that swaps moves the service's generation on, one that is refused does not."""

from __future__ import annotations

import gc
import sys
import threading
import time

import pytest

from bot.archive.runtime import GIVE_WAY_SECONDS, RELOAD_SWITCH_INTERVAL, Runtime
from bot.core import service as service_module
from bot.core.corpus import CorpusError
from bot.core.service import StoryService
from tests.conftest import write_story


def switch_interval_while_building(monkeypatch, service: StoryService) -> float:
    seen = []
    build = service_module.build_snapshot

    def watched(*args, **kwargs):
        seen.append(sys.getswitchinterval())
        return build(*args, **kwargs)

    monkeypatch.setattr(service_module, "build_snapshot", watched)
    service.reload()
    return seen[0]


def test_the_core_alone_leaves_the_interpreter_as_it_is(tmp_path, monkeypatch):
    write_story(tmp_path, "a.md")
    service = StoryService.open(tmp_path)
    before, frozen = sys.getswitchinterval(), gc.get_freeze_count()
    assert switch_interval_while_building(monkeypatch, service) == before
    assert gc.get_freeze_count() == frozen and sys.getswitchinterval() == before


def test_the_bots_runtime_shortens_the_switch_interval_for_a_reload_only(tmp_path, monkeypatch):
    write_story(tmp_path, "a.md")
    service = StoryService.open(tmp_path, runtime=Runtime())
    before = sys.getswitchinterval()
    assert switch_interval_while_building(monkeypatch, service) == min(before, RELOAD_SWITCH_INTERVAL)
    assert sys.getswitchinterval() == before


def test_the_generation_counts_swaps(tmp_path):
    write_story(tmp_path, "a.md")
    service = StoryService.open(tmp_path)
    assert service.generation == 0
    service.reload()
    assert service.generation == 1
    (tmp_path / "broken.md").write_text("no front matter", encoding="utf-8")
    with pytest.raises(CorpusError):
        service.reload()
    assert service.generation == 1


def test_a_reload_gives_way_to_a_question_being_answered_but_never_waits_long():
    runtime = Runtime(settle=False)
    answering, done = threading.Event(), threading.Event()

    def answer() -> None:
        with runtime.answering():
            answering.set()
            done.wait(5)

    question = threading.Thread(target=answer)
    question.start()
    answering.wait(5)
    threading.Timer(0.002, done.set).start()
    started = time.monotonic()
    runtime.checkpoint()  # the reload's next step waits for the answer to be done
    waited = time.monotonic() - started
    question.join()
    assert waited >= 0.001
    with runtime.answering():  # a question that never ends holds a reload back GIVE_WAY_SECONDS at most
        started = time.monotonic()
        runtime.checkpoint()
        assert time.monotonic() - started < GIVE_WAY_SECONDS + 0.1
    started = time.monotonic()
    for _ in range(100):
        runtime.checkpoint()  # and with no question in flight, none waits (100 waits would take 0.5 s)
    assert time.monotonic() - started < 0.1
