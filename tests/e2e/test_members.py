"""End to end, what members and moderators do beyond asking: votes, /stats, More context, private and
per-story asks, "Ask storybot" on a message, /help, the mod log and ALLOWED_CHANNEL_IDS.

The real bot runs against the loopback stand-in with a record on SQLite (and, for the restart test, on a
real PostgreSQL server too)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import discord
import pytest

from bot.record import Record
from bot.core.service import StoryService
from bot.exts.client import create_bot
from bot.settings import Settings

from tests.conftest import settle_sqlite_threads

from .fakediscord import FakeDiscord

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e]

MANAGE_GUILD = discord.Permissions(manage_guild=True).value
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.fake.e2e-members-token"
KEY = b"e2e-key"
EMBASSY = "Why did Canada close its embassy in Tehran?"


def settings(fd: FakeDiscord, corpus: Path, **overrides) -> Settings:
    values = dict(discord_token=TOKEN, guild_id=fd.guild_id, corpus_dir=corpus, ask_cooldown_rate=1000,
                  ask_cooldown_seconds=1.0) | overrides
    return Settings(_env_file=None, **values)


async def start(fd: FakeDiscord, corpus: Path, url: str | None, **overrides) -> discord.Client:
    record = Record(url, KEY) if url else None
    bot = create_bot(StoryService.open(corpus), settings(fd, corpus, **overrides), record=record,
                     guild_ready_timeout=0.05)
    await fd.start_bot(bot, TOKEN)
    return bot


def buttons(message: dict) -> dict[str, dict]:
    """label or emoji -> button, over every row."""
    out = {}
    for row in message.get("components", []):
        for c in row["components"]:
            out[c.get("label") or c.get("emoji", {}).get("name")] = c
    return out


def plain(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'record.db'}"


async def test_votes_one_per_member_changeable_and_in_stats(corpus_copy, sqlite_url):
    async with FakeDiscord() as fd:
        bot = await start(fd, corpus_copy, sqlite_url)
        alice, bob = fd.add_member("alice"), fd.add_member("bob")
        mod = fd.add_member("mod", permissions=MANAGE_GUILD)
        r = await fd.slash("ask", {"question": EMBASSY}, user=alice)
        answer = (await r.wait_final()).message
        b = buttons(answer)
        assert {"👍", "👎", "More context", "Read the story"} <= set(b)
        assert b["👍"]["custom_id"] == f"vote:{r.id}:up"

        up = await (await fd.click(answer, b["👍"]["custom_id"], user=alice)).wait_final()
        assert up.ephemeral and "helpful 👍" in up.content
        down = await (await fd.click(answer, b["👎"]["custom_id"], user=alice)).wait_final()  # changed her mind
        assert down.ephemeral and "not helpful" in down.content
        await (await fd.click(answer, b["👎"]["custom_id"], user=alice)).wait_final()  # and clicked it twice
        await (await fd.click(answer, b["👎"]["custom_id"], user=bob)).wait_final()

        s = await bot.record.stats()
        assert [(v.question, v.down, v.up) for v in s.voted_down] == [(EMBASSY, 2, 0)]
        assert s.voted_down[0].passages[0] == "iran-canada-ties#8"
        assert s.voted_down[0].link == f"https://discord.com/channels/{fd.guild_id}/{fd.channel_id}/{answer['id']}"

        refused = await (await fd.slash("stats", {}, user=alice)).wait_final()
        assert refused.ephemeral and "Only moderators" in refused.content
        st = await (await fd.slash("stats", {}, user=mod)).wait_final()
        assert st.ephemeral
        text = plain(str(st.embeds[0]))
        assert "**1** questions all time: answered 1 (100%)" in text and "2👎 0👍" in text and EMBASSY in text
        await fd.stop_bot()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_votes_recorded_before_a_restart_are_in_stats_after_it(corpus_copy, tmp_path, backend, request):
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    async with FakeDiscord() as fd:
        await start(fd, corpus_copy, url)
        alice, mod = fd.add_member("alice"), fd.add_member("mod", permissions=MANAGE_GUILD)
        r = await fd.slash("ask", {"question": "Who is Mike Poole?"}, user=alice)
        answer = (await r.wait_final()).message
        await (await fd.slash("ask", {"question": "Who won the Stanley Cup?"}, user=alice)).wait_final()
        await fd.stop_bot()  # the record's writes finish as the bot closes

        await start(fd, corpus_copy, url)  # a new process: a new Record, the same database
        vote = await (await fd.click(answer, buttons(answer)["👎"]["custom_id"], user=alice)).wait_final()
        assert "not helpful" in vote.content  # the old message's button still works
        await fd.stop_bot()

        await start(fd, corpus_copy, url)
        st = await (await fd.slash("stats", {}, user=mod)).wait_final()
        text = plain(str(st.embeds[0]))
        assert "**2** questions" in text and "refused 1 (50%)" in text
        assert "Who won the Stanley Cup?" in text and "1👎 0👍" in text and "Who is Mike Poole?" in text
        await fd.stop_bot()


async def test_more_context_shows_the_paragraphs_around_privately(corpus_copy):
    async with FakeDiscord() as fd:
        await start(fd, corpus_copy, None)  # no record: the context button still works, votes are not offered
        alice, bob = fd.add_member("alice"), fd.add_member("bob")
        answer = (await (await fd.slash("ask", {"question": EMBASSY}, user=alice)).wait_final()).message
        b = buttons(answer)
        assert "👍" not in b
        ctx = await (await fd.click(answer, b["More context"]["custom_id"], user=bob)).wait_final()
        assert ctx.ephemeral and ctx.type == 4
        first = ctx.embeds[0]
        story = StoryService.open(corpus_copy).snapshot.documents["iran-canada-ties"]
        assert "around paragraph 8" in first["title"]
        desc = plain(first["description"])
        assert story.paragraphs[6] in desc and story.paragraphs[7] in desc and story.paragraphs[8] in desc
        assert desc.index("¶7") < desc.index("¶8, quoted") < desc.index("¶9")
        assert sum(len(str(e)) for e in ctx.embeds) < 6000 * 2  # the stand-in enforces Discord's limits
        await fd.stop_bot()

        await start(fd, corpus_copy, None)  # and after a restart
        again = await (await fd.click(answer, b["More context"]["custom_id"], user=alice)).wait_final()
        assert again.embeds[0]["title"] == first["title"] and "edited since" not in again.embeds[0]["description"]
        await fd.stop_bot()

        path = corpus_copy / "iran-canada-ties.md"
        path.write_text(path.read_text().replace("shuttered the Canadian embassy", "closed the Canadian embassy"))
        await start(fd, corpus_copy, None)  # the story was edited: the click says so, and shows it as it is now
        edited = await (await fd.click(answer, b["More context"]["custom_id"], user=alice)).wait_final()
        desc = plain(edited.embeds[0]["description"])
        assert "¶8, quoted** (edited since it was quoted" in desc and "closed the Canadian embassy" in desc
        await fd.stop_bot()


async def test_private_ask_is_ephemeral_and_recorded_without_a_link(corpus_copy, sqlite_url):
    async with FakeDiscord() as fd:
        bot = await start(fd, corpus_copy, sqlite_url)
        alice = fd.add_member("alice")
        r = await fd.slash("ask", {"question": "black boxes", "private": True}, user=alice)
        body = await r.wait_response()
        assert body["data"]["flags"] & 64  # ephemeral
        final = await r.wait_final()
        assert final.ephemeral and "**black boxes**" in final.embeds[0]["description"].lower()
        public = await (await fd.slash("ask", {"question": "black boxes"}, user=alice)).wait_final()
        assert not public.ephemeral
        await bot.record.drain()
        assert (await bot.record.reply(r.id)).private and (await bot.record.reply(r.id)).link is None
        await fd.stop_bot()


async def test_story_autocomplete_from_the_loaded_corpus(corpus_copy):
    (corpus_copy / "follow-up.md").write_text(
        "---\ntitle: Iran agrees to send the black boxes abroad\npublished: 2020-07-18\n---\n"
        "On July 18, 2020, Iran said the flight recorders would be sent to France.\n")
    async with FakeDiscord() as fd:
        await start(fd, corpus_copy, None)
        alice = fd.add_member("alice")
        every = await (await fd.autocomplete("ask", {"question": "x", "story": ""}, "story", user=alice)).wait_final()
        assert every.type == 8 and {c["value"] for c in every.choices} == {"iran-canada-ties", "follow-up"}
        typed = await (await fd.autocomplete("ask", {"question": "x", "story": "black"}, "story", user=alice)).wait_final()
        assert typed.choices == [{"name": "Iran agrees to send the black boxes abroad (2020-07-18)", "value": "follow-up"}]
        unknown = await (await fd.slash("ask", {"question": "black boxes", "story": "nope"}, user=alice)).wait_final()
        assert unknown.ephemeral and "I have no story `nope`" in unknown.content
        await fd.stop_bot()


async def test_ask_storybot_on_a_message_answers_privately(corpus_copy, sqlite_url):
    async with FakeDiscord() as fd:
        bot = await start(fd, corpus_copy, sqlite_url)
        alice, bob = fd.add_member("alice"), fd.add_member("bob")
        said = await fd.send_user_message(alice, "who is Mike Poole?")
        r = await fd.message_command("Ask storybot", said, user=bob)
        final = await r.wait_final()
        assert final.ephemeral and "**Mike Poole**" in final.embeds[0]["description"]
        assert {"👍", "👎", "More context"} <= set(buttons(final.message))
        empty = await fd.send_user_message(alice, "")
        nothing = await (await fd.message_command("Ask storybot", empty, user=bob)).wait_final()
        assert nothing.ephemeral and "no text" in nothing.content
        await bot.record.drain()
        assert (await bot.record.reply(r.id)).via == "message"
        await fd.stop_bot()


async def test_help_lists_commands_limits_and_stories_and_answers_show_the_corpus_version(corpus_copy):
    async with FakeDiscord() as fd:
        bot = await start(fd, corpus_copy, None)
        alice = fd.add_member("alice")
        h = await (await fd.slash("help", {}, user=alice)).wait_final()
        assert h.ephemeral
        text = plain(str(h.embeds[0]))
        for words in ("/ask question [story] [private]", "up to 1,000 characters", "Ask storybot", "/timeline",
                      "/sources", "/reload", "/stats", "More context", "never paraphrase",
                      "Canada refused to discuss Iran's proposal"):
            assert words in text, words
        snap = bot.service.snapshot
        answer = await (await fd.slash("ask", {"question": EMBASSY}, user=alice)).wait_final()
        footer = answer.embeds[0]["footer"]["text"]
        assert f"Corpus {snap.version}, loaded {snap.loaded_at:%Y-%m-%d %H:%M} UTC" in footer
        assert len(snap.version) == 8
        await fd.stop_bot()


async def test_mod_log_gets_a_line_per_reload_and_per_refused_reload(corpus_copy):
    async with FakeDiscord() as fd:
        log_channel = fd.add_channel("mod-log")
        await start(fd, corpus_copy, None, mod_log_channel_id=log_channel)
        admin = fd.add_member("admin", permissions=MANAGE_GUILD)
        story = corpus_copy / "iran-canada-ties.md"
        story.write_text(story.read_text().replace("Stephen Harper’s Conservative government shuttered",
                                                   "The Conservative government of Stephen Harper shuttered"))
        done = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
        reply = plain(done.embeds[0]["description"])
        assert "edited iran-canada-ties#8: “The Conservative government of Stephen Harper…”" in reply
        line = (await fd.wait_message(lambda m: m["channel_id"] == str(log_channel)))["content"]
        assert line.startswith(f"🔄 **Corpus reloaded** by <@{admin.id}>")
        assert "Stories edited: iran-canada-ties" in plain(line) and "~1 edited" in line

        (corpus_copy / "broken.md").write_text("---\ntitle: Broken\npublished: 2020-13-45\n---\nText.\n")
        refused = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
        assert "Reload refused" in str(refused.embeds)
        lines = await fd._wait_until(lambda: fd.channel_history(log_channel)[1:] and fd.channel_history(log_channel),
                                     5, "two mod-log lines")
        assert lines[1]["content"].startswith("⛔ **Reload refused**") and "broken.md" in lines[1]["content"]
        assert all(not m.get("mentions") for m in lines)  # a mention of the moderator, but nobody is pinged
        await fd.stop_bot()


async def test_allowed_channels_limit_where_questions_are_answered(corpus_copy):
    async with FakeDiscord() as fd:
        other = fd.add_channel("off-topic")
        await start(fd, corpus_copy, None, allowed_channel_ids=(fd.channel_id,))
        alice = fd.add_member("alice")
        note = await (await fd.slash("ask", {"question": EMBASSY}, user=alice, channel_id=other)).wait_final()
        assert note.ephemeral and f"I answer questions in <#{fd.channel_id}>" in note.content
        here = await (await fd.slash("ask", {"question": EMBASSY}, user=alice)).wait_final()
        assert here.embeds and not here.ephemeral

        m = await fd.mention(alice, EMBASSY, channel_id=other)
        dm = await fd._wait_until(lambda: fd.dms(alice), 5, "a direct message")
        assert f"<#{fd.channel_id}>" in dm[0]["content"] and not m.replies
        assert not [msg for msg in fd.channel_history(other)  # nothing said in the channel but the private note
                    if msg["author"]["id"] == str(fd.bot_user_id) and not msg["flags"] & 64]
        await fd.stop_bot()


async def test_a_database_down_costs_only_the_record(corpus_copy, tmp_path, caplog):
    gone = tmp_path / "gone"
    async with FakeDiscord() as fd:
        with caplog.at_level(logging.DEBUG, logger="bot.record"):
            await start(fd, corpus_copy, f"sqlite+aiosqlite:///{gone / 'record.db'}")  # a folder that isn't there
            alice = fd.add_member("alice")
            finals = [await (await fd.slash("ask", {"question": q}, user=alice)).wait_final()
                      for q in [EMBASSY, "Who won the Stanley Cup?", "black boxes", EMBASSY]]
            assert all(f.embeds for f in finals)
            vote = await (await fd.click(finals[0].message, buttons(finals[0].message)["👍"]["custom_id"],
                                         user=alice)).wait_final()
            assert vote.ephemeral and "couldn't record your vote" in vote.content
            await fd.stop_bot()
            await settle_sqlite_threads()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "is unavailable" in errors[0].getMessage()


async def test_the_demo_shows_each_feature_and_stats_lists_what_it_recorded(tmp_path, monkeypatch, capsys):
    import json
    import subprocess
    import sys

    from tests.conftest import CORPUS, ROOT

    from . import demo

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/never-used")  # the demo ignores it
    await demo.main(demo.DEFAULT_QUESTIONS)
    out = capsys.readouterr().out
    for shown in ("alice: /help", "alice clicks 👎", "Thanks: noted as not helpful", "bob clicks More context",
                  "¶8, quoted", "private:True   [private: only they see it]", "story:iran-canada-ties",
                  "Apps → Ask storybot", "mod: /stats", "Answers voted down"):
        assert shown in out, shown
    assert "Sorry, something went wrong" not in out and "Slow down" not in out
    assert "story:iran-canada-ties\nWho is Mike Poole?\n> **Mike Poole**" in out
    res = subprocess.run([sys.executable, "-m", "bot", "stats", "--json"], capture_output=True, text=True, cwd=ROOT,
                         timeout=60, env={"PATH": "", "DATA_DIR": str(tmp_path), "CORPUS_DIR": str(CORPUS)})
    stats = json.loads(res.stdout)
    assert {g["latest_question"]: (g["refused"], g["closest"]) for g in stats["unanswered"]} == \
        {"Who won the Stanley Cup?": (1, 0), "How old is Zarif?": (0, 1)}
    assert [v["question"] for v in stats["voted_down"]] == [demo.DEFAULT_QUESTIONS[0]]
    assert stats["asked"] == 7


async def test_a_slow_database_never_delays_an_answer(corpus_copy, sqlite_url, monkeypatch):
    import asyncio

    real = Record.add_reply

    async def slow(self, reply):
        await asyncio.sleep(1.0)  # a database that takes a second per write
        await real(self, reply)

    monkeypatch.setattr(Record, "add_reply", slow)
    async with FakeDiscord() as fd:
        bot = await start(fd, corpus_copy, sqlite_url)
        alice = fd.add_member("alice")
        latencies = []
        for q in [EMBASSY, "Who won the Stanley Cup?", "black boxes"] * 5:
            r = await fd.slash("ask", {"question": q}, user=alice)
            await r.wait_response()
            latencies.append(r.latency)
        assert max(latencies) < 0.5, latencies  # the writes wait in the background, the replies don't
        await bot.record.drain(timeout=10)
        assert (await bot.record.stats()).asked == 15
        await fd.stop_bot()


async def test_a_per_story_ask_searches_that_story_only(corpus_copy):
    (corpus_copy / "follow-up.md").write_text(
        "---\ntitle: Iran agrees to send the black boxes abroad\npublished: 2020-07-18\n---\n"
        "On July 18, 2020, Iran said the black boxes would be sent to France.\n")
    async with FakeDiscord() as fd:
        await start(fd, corpus_copy, None)
        alice = fd.add_member("alice")
        everywhere = await (await fd.slash("ask", {"question": "black boxes"}, user=alice)).wait_final()
        assert "paragraph 16" in everywhere.embeds[0]["description"]  # the first story answers too
        narrowed = await (await fd.slash("ask", {"question": "black boxes", "story": "follow-up"},
                                         user=alice)).wait_final()
        desc = narrowed.embeds[0]["description"]
        assert "sent to France" in desc and "Canada refused" not in desc and not narrowed.ephemeral
        await fd.stop_bot()


async def test_a_closest_reply_gets_votes_and_is_recorded_as_closest(corpus_copy, sqlite_url):
    async with FakeDiscord() as fd:
        bot = await start(fd, corpus_copy, sqlite_url)
        alice, mod = fd.add_member("alice"), fd.add_member("mod", permissions=MANAGE_GUILD)
        r = await fd.slash("ask", {"question": "How old is Zarif?"}, user=alice)
        closest = (await r.wait_final()).message
        assert "The closest passages" in closest["embeds"][0]["footer"]["text"]
        assert "Corpus " in closest["embeds"][0]["footer"]["text"]
        assert {"👍", "👎", "More context"} <= set(buttons(closest))
        refused = (await (await fd.slash("ask", {"question": "Who won the Stanley Cup?"}, user=alice)).wait_final())
        assert not buttons(refused.message)  # nothing to vote on or to see around
        await (await fd.click(closest, buttons(closest)["👎"]["custom_id"], user=alice)).wait_final()
        s = await bot.record.stats()
        assert (s.asked, s.closest, s.refused) == (2, 1, 1)
        assert [g.latest_question for g in s.unanswered] == ["Who won the Stanley Cup?", "How old is Zarif?"] or \
            [g.latest_question for g in s.unanswered] == ["How old is Zarif?", "Who won the Stanley Cup?"]
        assert s.voted_down[0].kind == "closest" and s.voted_down[0].passages == ("iran-canada-ties#9", "iran-canada-ties#5")
        text = plain(str((await (await fd.slash("stats", {}, user=mod)).wait_final()).embeds[0]))
        assert "closest 1 (50%)" in text and "How old is Zarif?" in text
        await fd.stop_bot()
