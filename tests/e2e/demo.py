"""Watch the real bot answer through the loopback Discord stand-in: `python -m tests.e2e.demo [question ...]`.

Starts the stand-in on 127.0.0.1, runs storybot against it with discord.py's own gateway and HTTP code, asks
the questions (as /ask, and the first one as a mention too), pages the timeline once, and prints what a member
would see. Nothing leaves this machine.
"""

from __future__ import annotations

import asyncio
import re
import sys

from bot.core.service import StoryService
from bot.exts.client import create_bot
from bot.settings import Settings
from tests.conftest import CORPUS

from .fakediscord import FakeDiscord

DEFAULT_QUESTIONS = ["Why did Canada close its embassy in Tehran?", "Who won the Stanley Cup?"]


def show(label: str, message: dict) -> None:
    print(f"\n--- {label}")
    if message.get("content"):
        print(message["content"])
    for embed in message.get("embeds", []):
        for key in ("title", "description"):
            if embed.get(key):
                print(re.sub(r"\\(.)", r"\1", embed[key]))
        for field in embed.get("fields", []):
            print(f"{field['name']}: {field['value']}")
        if embed.get("footer"):
            print(f"({embed['footer']['text']})")
    for row in message.get("components", []):
        print("buttons: " + " | ".join(c.get("label", "") + (f" -> {c['url'][:60]}…" if c.get("url") else "")
                                       for c in row["components"]))


async def main(questions: list[str]) -> None:
    async with FakeDiscord() as fd:
        settings = Settings(_env_file=None, discord_token="demo-token", guild_id=fd.guild_id, corpus_dir=CORPUS)
        bot = create_bot(StoryService.open(CORPUS), settings, guild_ready_timeout=0.05)
        await fd.start_bot(bot, "demo-token")
        print(f"bot ready on the stand-in at {fd.base_url}; commands synced: "
              + ", ".join("/" + c["name"] for c in fd.synced_commands(guild_id=fd.guild_id)))
        alice = fd.add_member("alice")
        for q in questions:
            r = await fd.slash("ask", {"question": q}, user=alice)
            final = await r.wait_final()
            show(f"/ask {q}   ({r.latency * 1000:.1f} ms to the first response)", final.message)
        m = await fd.mention(alice, questions[0])
        show(f"@storybot {questions[0]}", await m.wait_reply())
        r = await fd.slash("timeline", {}, user=alice)
        show("/timeline", (await r.wait_final()).message)
        await fd.stop_bot()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or DEFAULT_QUESTIONS))
