"""End to end: the real storybot (discord.py's gateway, state and HTTP code) against the loopback stand-in."""

from __future__ import annotations

import asyncio
import logging
import re
import statistics
from pathlib import Path

import discord
import pytest

from bot.core.answer import MAX_QUESTION_CHARS
from bot.core.service import StoryService
from bot.exts.client import create_bot
from bot.settings import Settings

from .fakediscord import FakeDiscord

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e]

MANAGE_GUILD = discord.Permissions(manage_guild=True).value
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.fake.e2e-secret-token-value"


def make_settings(fd: FakeDiscord, corpus: Path, **overrides) -> Settings:
    values = dict(discord_token=TOKEN, guild_id=fd.guild_id, corpus_dir=corpus,
                  moderator_role_ids=(), ask_cooldown_rate=1000, ask_cooldown_seconds=1.0) | overrides
    return Settings(_env_file=None, **values)


async def start(fd: FakeDiscord, corpus: Path, **overrides) -> discord.Client:
    bot = create_bot(StoryService.open(corpus), make_settings(fd, corpus, **overrides), guild_ready_timeout=0.05)
    await fd.start_bot(bot, TOKEN)
    return bot


def pinged(fd: FakeDiscord) -> bool:
    """Whether any message the bot sent would have notified anyone."""
    return any(p["users"] or p["roles"] or p["everyone"] for p in fd.pings.values())


def plain(text: str) -> str:
    """What Discord shows for escaped markdown (\\: is a colon)."""
    return re.sub(r"\\(.)", r"\1", text)


def quote_text(final) -> str:
    return " ".join(e.get("description", "") for e in final.embeds)


async def test_start_up_syncs_the_commands_to_the_guild(corpus_copy):
    async with FakeDiscord() as fd:
        bot = await start(fd, corpus_copy)
        synced = {c["name"]: c for c in fd.synced_commands(guild_id=fd.guild_id)}
        assert set(synced) == {"ask", "timeline", "sources", "reload", "stats", "help", "Ask storybot"}
        assert [(o["name"], o["required"], o.get("max_length")) for o in synced["ask"]["options"]] == \
            [("question", True, MAX_QUESTION_CHARS), ("story", False, 100), ("private", False, None)]
        assert synced["ask"]["options"][1]["autocomplete"] is True
        assert synced["Ask storybot"]["type"] == 3  # a message context-menu command
        assert str(synced["stats"]["default_member_permissions"]) == str(MANAGE_GUILD)
        assert {o["name"] for o in synced["timeline"]["options"]} == {"year", "contains"}
        assert not any(o.get("required") for o in synced["timeline"]["options"])
        assert str(synced["reload"]["default_member_permissions"]) == str(MANAGE_GUILD)
        assert synced["ask"].get("default_member_permissions") is None
        assert fd.synced_commands() is None  # never synced globally on start
        assert bot.allowed_mentions.to_dict() == {"parse": []}
        await fd.stop_bot()


async def test_ask_quotes_the_story_and_pings_nobody(corpus_copy):
    async with FakeDiscord() as fd:
        await start(fd, corpus_copy)
        alice = fd.add_member("alice")
        r = await fd.slash("ask", {"question": "Why did Canada close its embassy in Tehran? @everyone"}, user=alice)
        body = await r.wait_response()
        assert body["type"] == 4
        assert body["data"]["allowed_mentions"] == {"parse": []}
        final = await r.wait_final()
        text = quote_text(final)
        assert "shuttered the Canadian **embassy** in **Tehran** in 2012" in text
        assert "paragraph 8](https://www.theglobeandmail.com/" in text
        [link] = [c for row in final.message["components"] for c in row["components"] if c.get("url")]
        assert link["url"].startswith("https://www.theglobeandmail.com/")
        assert "@everyone" not in str(final.message)  # defused in the echoed question
        assert not pinged(fd)

        off = await (await fd.slash("ask", {"question": "Who won the Stanley Cup?"}, user=alice)).wait_final()
        assert quote_text(off).startswith("The story doesn't say")
        await fd.stop_bot()


async def test_a_mention_gets_the_same_answer_as_a_reply(corpus_copy):
    async with FakeDiscord() as fd:
        await start(fd, corpus_copy)
        bob = fd.add_member("bob")
        m = await fd.mention(bob, "who is Mike Poole?")
        reply = await m.wait_reply()
        assert reply["message_reference"]["message_id"] in (m.payload["id"], int(m.payload["id"]))
        assert "**Mike Poole**" in reply["embeds"][0]["description"]
        slash = await (await fd.slash("ask", {"question": "who is Mike Poole?"}, user=bob)).wait_final()
        assert reply["embeds"][0]["description"] == slash.embeds[0]["description"]
        assert reply["allowed_mentions"]["parse"] == [] and not pinged(fd)
        await fd.stop_bot()


async def test_timeline_pages_with_buttons(tmp_path, corpus_copy):
    # a follow-up story with many dated events, so that the timeline needs several pages
    body = "\n\n".join(f"On March {d}, 2021, the inquiry heard witness number {d}." for d in range(1, 25))
    (corpus_copy / "inquiry.md").write_text(f"---\ntitle: The inquiry\npublished: 2021-04\n---\n{body}\n")
    async with FakeDiscord() as fd:
        await start(fd, corpus_copy)
        alice, bob = fd.add_member("alice"), fd.add_member("bob")
        r = await fd.slash("timeline", {}, user=alice)
        first = await r.wait_final()
        assert first.embeds[0]["description"].startswith("**2012**")
        assert "Page 1 of" in first.embeds[0]["footer"]["text"]
        buttons = first.message["components"][0]["components"]
        assert [b["label"] for b in buttons] == ["◀ Previous", "Next ▶"] and buttons[0]["disabled"]

        click = await fd.click(r.message, buttons[1]["custom_id"], user=alice)
        page2 = await click.wait_final()
        assert page2.type == 7 and "Page 2 of" in page2.embeds[0]["footer"]["text"]
        assert page2.embeds[0]["description"] != first.embeds[0]["description"]

        # someone else's click pages a private copy instead of changing alice's message
        next_now = page2.message["components"][0]["components"][1]["custom_id"]
        other = await (await fd.click(r.message, next_now, user=bob)).wait_final()
        assert other.ephemeral and "Page 3 of" in other.embeds[0]["footer"]["text"]
        assert "Page 2 of" in fd.messages[int(r.message["id"])]["embeds"][0]["footer"]["text"]

        narrowed = await (await fd.slash("timeline", {"year": 2017}, user=alice)).wait_final()
        assert narrowed.embeds[0]["description"].count("**2017**") == 2 and not narrowed.message.get("components")
        await fd.stop_bot()


async def test_timeline_buttons_keep_working_after_a_restart(corpus_copy):
    (corpus_copy / "inquiry.md").write_text("---\ntitle: The inquiry\npublished: 2021-04\n---\n" + "\n\n".join(
        f"On March {d}, 2021, the inquiry heard witness {d}." for d in range(1, 25)) + "\n")
    async with FakeDiscord() as fd:
        await start(fd, corpus_copy)
        alice = fd.add_member("alice")
        r = await fd.slash("timeline", {}, user=alice)
        message = (await r.wait_final()).message
        next_id = message["components"][0]["components"][1]["custom_id"]
        await fd.stop_bot()
        await start(fd, corpus_copy)  # a new process would know nothing of the old view
        page2 = await (await fd.click(message, next_id, user=alice)).wait_final()
        assert "Page 2 of" in page2.embeds[0]["footer"]["text"]
        await fd.stop_bot()


async def test_sources(corpus_copy):
    async with FakeDiscord() as fd:
        await start(fd, corpus_copy)
        final = await (await fd.slash("sources", {}, user=fd.add_member("alice"))).wait_final()
        [field] = final.embeds[0]["fields"]
        assert field["name"].startswith("Canada refused to discuss Iran")
        assert "Published 2020-02" in field["value"] and "20 passages" in field["value"]
        await fd.stop_bot()


async def test_reload_is_for_moderators_only(corpus_copy, caplog):
    async with FakeDiscord() as fd:
        mod_role = fd.add_role("mods")
        await start(fd, corpus_copy, moderator_role_ids=(mod_role,))
        member = fd.add_member("member")
        admin = fd.add_member("admin", permissions=MANAGE_GUILD)
        by_role = fd.add_member("helper", roles=[mod_role])

        refused = await (await fd.slash("reload", {}, user=member)).wait_final()
        assert refused.ephemeral and "Only moderators" in refused.content

        (corpus_copy / "follow-up.md").write_text(
            "---\ntitle: Iran agrees to send the black boxes abroad\npublished: 2020-07-18\n---\n"
            "On July 18, 2020, Iran said the flight recorders would be sent to France.\n")
        with caplog.at_level(logging.INFO, logger="bot.exts.admin"):
            done = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
        assert done.ephemeral, done
        text = plain(done.embeds[0]["description"])
        assert "Stories added: follow-up" in text and "+1 added" in text and "11 → 12" in text
        assert any("reload by admin" in rec.getMessage() for rec in caplog.records)

        again = await (await fd.slash("reload", {}, user=by_role)).wait_final(timeout=10)
        assert "nothing changed" in again.embeds[0]["title"]
        answer = await (await fd.slash("ask", {"question": "Where will the flight recorders be sent?"},
                                       user=member)).wait_final()
        assert "France" in quote_text(answer)
        await fd.stop_bot()


async def test_a_broken_corpus_is_refused_and_the_old_one_keeps_answering(corpus_copy):
    async with FakeDiscord() as fd:
        await start(fd, corpus_copy)
        admin = fd.add_member("admin", permissions=MANAGE_GUILD)
        (corpus_copy / "broken.md").write_text("---\ntitle: Broken\npublished: 2020-13-45\n---\nText.\n")
        refused = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
        assert refused.ephemeral
        assert "Reload refused" in str(refused.embeds) and "broken.md" in str(refused.embeds)
        answer = await (await fd.slash("ask", {"question": "Who is Mike Poole?"}, user=admin)).wait_final()
        assert "**Mike Poole**" in quote_text(answer)
        await fd.stop_bot()


async def test_cooldown_answers_politely(corpus_copy):
    async with FakeDiscord() as fd:
        await start(fd, corpus_copy, ask_cooldown_rate=2, ask_cooldown_seconds=60)
        alice = fd.add_member("alice")
        for _ in range(2):
            await (await fd.slash("ask", {"question": "black boxes"}, user=alice)).wait_final()
        slow = await (await fd.slash("ask", {"question": "black boxes"}, user=alice)).wait_final()
        assert slow.ephemeral and "Slow down" in slow.content
        other = await (await fd.slash("ask", {"question": "black boxes"}, user=fd.add_member("bob"))).wait_final()
        assert other.embeds  # the cooldown is per member
        await fd.stop_bot()


async def test_a_failing_command_apologises_and_the_bot_keeps_serving(corpus_copy, monkeypatch, caplog):
    async with FakeDiscord() as fd:
        bot = await start(fd, corpus_copy)
        alice = fd.add_member("alice")
        original = bot.service.ask
        monkeypatch.setattr(bot.service, "ask", lambda q, **kw: 1 / 0)
        with caplog.at_level(logging.ERROR):
            sorry = await (await fd.slash("ask", {"question": "black boxes"}, user=alice)).wait_final()
        assert sorry.ephemeral and sorry.content.startswith("Sorry, something went wrong")
        assert any(rec.exc_info and rec.exc_info[0] is ZeroDivisionError for rec in caplog.records)
        monkeypatch.setattr(bot.service, "ask", original)
        fine = await (await fd.slash("ask", {"question": "black boxes"}, user=alice)).wait_final()
        assert fine.embeds
        await fd.stop_bot()


async def test_ask_latency_and_clean_shutdown(corpus_copy):
    """Interaction-to-first-response latency over 120 /ask interactions; printed for the README."""
    questions = ["Why did Canada close its embassy?", "black boxes", "Who is Mike Poole?",
                 "When did Zarif meet Champagne in Munich?", "Who won the Stanley Cup?"]
    async with FakeDiscord() as fd:
        bot = await start(fd, corpus_copy)
        members = [fd.add_member(f"m{i}") for i in range(12)]
        latencies = []
        for i in range(120):
            r = await fd.slash("ask", {"question": questions[i % len(questions)]}, user=members[i % 12])
            await r.wait_response()
            latencies.append(r.latency)
        latencies.sort()
        p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
        print(f"\n/ask interaction -> first response: p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, "
              f"max {latencies[-1] * 1000:.2f} ms over {len(latencies)}")
        assert latencies[-1] < 3.0  # inside Discord's window, every time
        await fd.stop_bot()
        assert bot.is_closed()
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert not pending


async def test_sync_publishes_globally_only_on_request_and_invite_prints_the_link(corpus_copy, capsys):
    from bot.exts import launcher

    async with FakeDiscord() as fd:
        settings = make_settings(fd, corpus_copy, guild_id=None)
        await launcher.sync(create_bot(StoryService.open(corpus_copy), settings), TOKEN, None)
        assert {c["name"] for c in fd.synced_commands()} == \
            {"ask", "timeline", "sources", "reload", "stats", "help", "Ask storybot"}
        assert fd.synced_commands(guild_id=fd.guild_id) is None
        await launcher.invite(create_bot(StoryService.open(corpus_copy), settings), TOKEN)
    out = capsys.readouterr().out
    assert "Synced 7 commands to all guilds" in out
    assert f"client_id={fd.app_id}&scope=bot+applications.commands&permissions=83968" in out
