"""The runtime policy is the runner's choice: the core sets nothing process-wide unless it is handed a
``Runtime``; a reload that swaps moves the service's generation on, one that is refused does not."""

from __future__ import annotations

import gc
import sys

import pytest

from bot.archive.runtime import RELOAD_SWITCH_INTERVAL, Runtime
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
