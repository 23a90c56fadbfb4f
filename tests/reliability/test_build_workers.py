"""A moderator's /reload whose build worker process dies is told so, in words, and the story keeps serving."""

from __future__ import annotations


import pytest

import bot.core.rebuild as rebuild
from bench.synth import Generator
from bot.archive.runtime import Runtime
from bot.core.service import StoryService
from tests.core.test_workers import a_full_rebuild_is_needed, dies
from tests.e2e.fakediscord import FakeDiscord

from .conftest import MANAGE_GUILD, start_bot


@pytest.mark.slow  # it starts worker processes
@pytest.mark.asyncio
@pytest.mark.e2e
async def test_a_reload_whose_build_worker_dies_tells_the_moderator_and_keeps_the_story(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for story in Generator(seed=5).stories(320):
        (corpus / f"{story.id}.md").write_text(story.markdown(), encoding="utf-8")
    monkeypatch.setattr(rebuild, "WORKER_STORIES", 10)
    service = StoryService.open(corpus, cache_dir=tmp_path / "cache", semantic=False,
                                runtime=Runtime(switch=None, settle=False, write_behind=False, workers=2))
    async with FakeDiscord() as fd:
        bot = await start_bot(fd, corpus, service=service)
        admin = fd.add_member("admin", permissions=MANAGE_GUILD)
        serving = bot.service.snapshot
        a_full_rebuild_is_needed(corpus)
        monkeypatch.setattr(rebuild, "build_part", dies)
        reply = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=30)
        embed = reply.embeds[0]
        assert embed["title"] == "Reload failed: the corpus that was serving still is"
        assert embed["description"].startswith("A build worker process exited with code 7 before it finished.")
        assert bot.service.snapshot is serving
        await fd.stop_bot()
