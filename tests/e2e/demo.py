"""Watch the real bot answer through the loopback Discord stand-in: `python -m tests.e2e.demo [question ...]`.

Starts the stand-in on 127.0.0.1, runs storybot against it with discord.py's own gateway and HTTP code, and
plays a conversation: /help, /ask (with a vote and "More context"), a refused question, a private ask, a
per-story ask with its autocomplete, "Ask storybot" on a member's message, a mention, /timeline and a
moderator's /stats. It prints what each member would see. Nothing leaves this machine.

The demo records into the SQLite file of ``DATA_DIR`` (default ``.data/storybot.db``; never ``DATABASE_URL``),
the record the bot itself keeps by default, so that right after it ``storybot stats --json`` (with no
``DATABASE_URL`` set) lists the questions it refused and the answer it voted down. Delete ``.data/`` to forget
them.
"""

from __future__ import annotations

import asyncio
import re
import sys

import discord

from bot.record import Record, database_url, load_key
from bot.core.service import StoryService
from bot.exts.client import create_bot
from bot.settings import Settings
from tests.conftest import CORPUS

from .fakediscord import FakeDiscord

DEFAULT_QUESTIONS = ["Why did Canada close its embassy in Tehran?", "Who won the Stanley Cup?", "How old is Zarif?"]
MANAGE_GUILD = discord.Permissions(manage_guild=True).value


def unescape(text: str) -> str:
    """What Discord shows for escaped markdown (\\: is a colon)."""
    return re.sub(r"\\(.)", r"\1", text)


def show(label: str, message: dict | None, *, private: bool | None = None) -> None:
    message = message or {}
    if private is None:
        private = bool(message.get("flags", 0) & 64)
    print(f"\n--- {label}" + ("   [private: only they see it]" if private else ""))
    if message.get("content"):
        print(unescape(message["content"]))
    for embed in message.get("embeds", []):
        for key in ("title", "description"):
            if embed.get(key):
                print(unescape(embed[key]))
        for field in embed.get("fields", []):
            print(f"{field['name']}: {unescape(field['value'])}")
        if embed.get("footer"):
            print(f"({embed['footer']['text']})")
    for row in message.get("components", []):
        print("buttons: " + " | ".join(
            (c.get("label") or c.get("emoji", {}).get("name", "")) + (f" -> {c['url'][:60]}…" if c.get("url") else "")
            for c in row["components"]))


def button(message: dict, name: str) -> str:
    for row in message.get("components", []):
        for c in row["components"]:
            if name in (c.get("label"), c.get("emoji", {}).get("name")):
                return c["custom_id"]
    raise LookupError(name)


async def main(questions: list[str]) -> None:
    settings = Settings(_env_file=None, discord_token="demo-token", corpus_dir=CORPUS)
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    record = Record(database_url(data_dir), load_key(data_dir))  # SQLite in DATA_DIR, whatever DATABASE_URL says
    async with FakeDiscord() as fd:
        settings = settings.model_copy(update={"guild_id": fd.guild_id})
        bot = create_bot(StoryService.open(CORPUS), settings, record=record, guild_ready_timeout=0.05)
        await fd.start_bot(bot, "demo-token")
        print(f"bot ready on the stand-in at {fd.base_url}; commands synced: "
              + ", ".join("/" + c["name"] if c.get("type", 1) == 1 else f"“{c['name']}” (on a message)"
                          for c in fd.synced_commands(guild_id=fd.guild_id)))
        alice, bob = fd.add_member("alice"), fd.add_member("bob")
        mod = fd.add_member("mod", permissions=MANAGE_GUILD)

        show("alice: /help", (await (await fd.slash("help", {}, user=alice)).wait_final()).message)

        first = None
        for q in questions:
            r = await fd.slash("ask", {"question": q}, user=alice)
            final = await r.wait_final()
            show(f"alice: /ask {q}   ({r.latency * 1000:.1f} ms to the first response)", final.message)
            first = first or final.message
        vote = await (await fd.click(first, button(first, "👎"), user=alice)).wait_final()
        show("alice clicks 👎 under the first answer", vote.message)
        vote = await (await fd.click(first, button(first, "👍"), user=bob)).wait_final()
        show("bob clicks 👍 under it", vote.message)
        ctx = await (await fd.click(first, button(first, "More context"), user=bob)).wait_final()
        show("bob clicks More context", ctx.message)

        private = await (await fd.slash("ask", {"question": "Where are the black boxes?", "private": True},
                                        user=bob)).wait_final()
        show("bob: /ask question:Where are the black boxes? private:True", private.message)

        typed = await (await fd.autocomplete("ask", {"question": "Who is Mike Poole?", "story": "iran"}, "story",
                                             user=bob)).wait_final()
        print("\n--- bob types /ask story:iran… and Discord offers: "
              + "; ".join(f"{c['name']} [{c['value']}]" for c in typed.choices))
        story = typed.choices[0]["value"]
        narrowed = await (await fd.slash("ask", {"question": "Who is Mike Poole?", "story": story},
                                         user=bob)).wait_final()
        show(f"bob: /ask question:Who is Mike Poole? story:{story}", narrowed.message)

        said = await fd.send_user_message(bob, "what did Zarif propose to Champagne?")
        print(f"\n--- bob posts: {said.payload['content']}")
        menu = await (await fd.message_command("Ask storybot", said, user=alice)).wait_final()
        show("alice: Apps → Ask storybot on bob's message", menu.message)

        m = await fd.mention(alice, questions[0])
        show(f"alice: @storybot {questions[0]}", await m.wait_reply())
        show("alice: /timeline", (await (await fd.slash("timeline", {}, user=alice)).wait_final()).message)

        stats = await (await fd.slash("stats", {}, user=mod)).wait_final()
        show("mod: /stats", stats.message)
        await fd.stop_bot()  # the record's last writes finish as the bot closes
    print(f"\nRecorded in {record.url.split(':///', 1)[1]}: see it with `storybot stats --json` "
          f"(or `./dev stats`).")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or DEFAULT_QUESTIONS))
