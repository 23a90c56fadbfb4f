"""Discord limits hold by construction, whatever the corpus and the question hold."""

from __future__ import annotations

import re

import discord
import pytest

from bot.core.service import StoryService
from bot.exts import render
from tests.conftest import CORPUS, write_story

PING = re.compile(r"@(everyone|here)|<@[!&]?\d+>")


def check_embed(embed: discord.Embed) -> None:
    data = embed.to_dict()
    assert len(data.get("title", "")) <= render.TITLE
    assert len(data.get("description", "")) <= render.DESCRIPTION
    assert len(data.get("fields", [])) <= render.FIELDS
    for f in data.get("fields", []):
        assert 0 < len(f["name"]) <= render.FIELD_NAME and 0 < len(f["value"]) <= render.FIELD_VALUE
    assert len(data.get("footer", {}).get("text", "")) <= render.FOOTER
    assert len(embed) <= render.EMBED_TOTAL
    assert not PING.search(str(data))


def check_view(view: discord.ui.View | None) -> None:
    if view is None:
        return
    items = [getattr(c, "item", c) for c in view.children]  # a DynamicItem wraps its button
    ids = [c.custom_id for c in items if getattr(c, "custom_id", None)]
    assert len(ids) == len(set(ids)) and all(len(i) <= render.CUSTOM_ID for i in ids)
    assert len(items) <= 25 and all(len([c for c in items if c.row == r]) <= 5 for r in range(5))
    for c in items:
        assert len(c.label or "") <= render.BUTTON_LABEL
        assert c.url is None or len(c.url) <= render.BUTTON_URL


@pytest.fixture(scope="module")
def worst(tmp_path_factory) -> StoryService:
    """Stories made of the longest passages, markdown, mentions and dates the format allows."""
    folder = tmp_path_factory.mktemp("worst")
    nasty = "**@everyone** <@123456789012345678> __x__ `y` ||z|| ~~w~~ > [link](https://x.test) # h - "
    for i in range(6):
        paragraphs = ["embassy " + ("a" * 40 + " ") * 40] + [
            " ".join(f"On Jan. {d % 28 + 1}, {1990 + p} story {i} saw the embassy {nasty * 4}closed." for d in range(10))
            for p in range(30)
        ]
        write_story(folder, f"s{i}.md", body="\n\n".join(paragraphs),
                    title=("@everyone " + "T" * 400).replace("\n", ""),
                    url="https://example.test/" + "p" * 600, publisher="<@&42> " + "P" * 300)
    return StoryService.open(folder)


def test_answers_fit_and_never_ping(worst):
    from types import SimpleNamespace

    from bot.exts.feedback import reply_view

    bot = SimpleNamespace(record=object(), service=worst)  # a record: vote buttons too
    for question in ["embassy closed everyone", "a" * 300, "@everyone <@1> embassy", "**embassy**"]:
        answer = worst.ask(question)
        check_embed(render.answer_embed(answer))
        check_embed(render.with_version(render.answer_embed(answer), worst.snapshot))
        check_view(render.answer_view(answer))
        check_view(reply_view(bot, answer, 2**63 - 1))


def test_the_longest_timeline_pages_fit(worst):
    events = worst.timeline()
    assert len(events) > 1000
    pages = render.page_count(events)
    lines = 0
    for page in range(pages):
        embed, shown, count = render.timeline_embed(events, page, year=2020, contains="x" * 40)
        assert shown == page and count == pages
        check_embed(embed)
        lines += embed.description.count("\n") + 1
    assert lines == len(events)
    assert render.timeline_embed(events, 10**6, year=None, contains=None)[1] == pages - 1  # clamped


def test_sources_and_reload_reports_fit(worst):
    check_embed(render.sources_embed(worst.sources()))
    from bot.core.corpus import Problem
    check_embed(render.problems_embed([Problem("f" * 300 + ".md", "@everyone " + "x" * 2000)] * 200))


def test_an_answer_quotes_bold_words_and_links_to_them():
    answer = StoryService.open(CORPUS).ask("Why did Canada close its embassy in Tehran?")
    embed = render.answer_embed(answer).to_dict()
    assert "**embassy** in **Tehran**" in embed["description"]
    assert "paragraph 8](https://www.theglobeandmail.com/" in embed["description"]
    [button] = render.answer_view(answer).children
    assert button.url.startswith("https://www.theglobeandmail.com/") and "#:~:text=" in button.url


def test_markdown_in_a_quote_cannot_escape_its_formatting():
    out = render.highlighted("a **b** c_d ||e|| `f` @here", [(4, 5)], 1000)
    assert out == "a \\*\\***b**\\*\\* c\\_d \\|\\|e\\|\\| \\`f\\` @\u200bhere"
    assert render.safe("> quote") == "\\> quote" and render.safe("# title").startswith("\\#")


def test_refusals_render_plainly():
    answer = StoryService.open(CORPUS).ask("Who won the Stanley Cup?")
    embed = render.answer_embed(answer)
    assert embed.description.startswith("The story doesn't say") and render.answer_view(answer) is None


def test_the_three_replies_look_different_in_discord():
    service = StoryService.open(CORPUS)
    answer = render.answer_embed(service.ask("Why did Canada close its embassy in Tehran?"))
    closest = render.answer_embed(service.ask("How old is Zarif?"))
    refused = render.answer_embed(service.ask("Who won the Stanley Cup?"))
    assert answer.description.startswith("> ") and answer.colour == render.ANSWER_COLOUR
    assert closest.description.startswith("**The story may not answer this")
    assert closest.description.count("\n> ") == len(service.ask("How old is Zarif?").nearest)
    assert closest.colour == render.CLOSEST_COLOUR and "closest passages" in closest.footer.text
    assert "> " not in refused.description and refused.colour == render.REFUSAL_COLOUR
    for embed in (answer, closest, refused):
        check_embed(embed)


def test_feedback_embeds_fit_whatever_they_hold(tmp_path):
    import datetime as dt

    from bot.core.context import Context
    from bot.core.corpus import Document
    from bot.core.dates import PartialDate
    from bot.record import Stats, UnansweredGroup, VotedDown
    from bot.core.service import Source

    now = dt.datetime.now(dt.timezone.utc)
    long = "word " * 3000 + "@everyone <@123>"
    doc = Document(id="d" * 100, title=long[:500], published=PartialDate(2020), paragraphs=(long,) * 3)
    embeds = render.context_embeds([Context(doc, 2, long, long, long)] * 3)
    assert sum(len(e) for e in embeds) <= render.EMBED_TOTAL
    for e in embeds:
        check_embed(e)
    stats = Stats(days=None, asked=10**9, answered=1, closest=2, refused=3,
                  unanswered=tuple(UnansweredGroup("w " * 500, 5, 3, 2, long, "https://discord.com/channels/1/2/3",
                                                   now) for _ in range(10)),
                  voted_down=tuple(VotedDown(1, long, "answer", ("x" * 100 + "#1",) * 3, 2, 1, None, now)
                                   for _ in range(10)))
    check_embed(render.stats_embed(stats))
    sources = [Source(f"id{i}", long[:300], "2020", None, None, 5) for i in range(1000)]
    check_embed(render.help_embed(sources, max_question=1000, allowed_channels=tuple(range(1, 40))))
    snap = StoryService.open(CORPUS).snapshot
    check_embed(render.with_version(discord.Embed(title="x"), snap))
    assert render.with_version(discord.Embed(title="x"), snap).footer.text.startswith(f"Corpus {snap.version}")
