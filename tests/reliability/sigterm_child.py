"""The child process of ``test_faults.py::test_sigterm_during_a_reload``: ``storybot run`` against the stand-in.

    python -m tests.reliability.sigterm_child CORPUS_DIR

The stand-in (FakeDiscord) runs on its own event loop in a daemon thread of this process; the main thread runs
the real command line, ``bot.__main__.main(["run", "--corpus", CORPUS_DIR])``, with its settings from the
environment (DISCORD_TOKEN; GUILD_ID is set here to the stand-in's guild), its logging, its signal handlers and
its ``asyncio.run``. Once connected, a moderator runs /reload. Markers on stdout, one a line, let the parent
time its SIGTERM and check the order of events:

    READY            the bot is connected
    RELOAD-START     the reload thread began reading the corpus (with SIGTERM_CHILD_STUCK set, it then
                     blocks for ever, as on a dead network share)
    RELOAD-END ...   the reload thread finished (how, and when)
    REPLIED          the moderator saw the bot's reply to /reload
    LOG <message>    a record of the launcher's logger ("SIGTERM received: closing", "closed")
    EXIT <code>      what ``main`` returned
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from pathlib import Path

import discord

from bot.core.service import StoryService
from tests.e2e.fakediscord import FakeDiscord


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Markers(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        say(f"LOG {record.getMessage()}")


def instrument_reload() -> None:
    original = StoryService._reload  # what reload() and reload_async() run

    def reload(self: StoryService, *args):  # type: ignore[no-untyped-def]
        say("RELOAD-START")
        if os.environ.get("SIGTERM_CHILD_STUCK"):  # a reload stuck reading a dead disk: it never returns
            threading.Event().wait()
        started = time.perf_counter()
        try:
            report = original(self, *args)
        except BaseException as exc:
            say(f"RELOAD-END {type(exc).__name__} after {time.perf_counter() - started:.2f}s")
            raise
        say(f"RELOAD-END ok after {time.perf_counter() - started:.2f}s")
        return report

    StoryService._reload = reload  # type: ignore[method-assign]


def start_stand_in(corpus: Path) -> None:
    """FakeDiscord on a thread of its own; drives one /reload once the bot is connected."""
    ready = threading.Event()
    state: dict = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        fd = FakeDiscord(token=os.environ["DISCORD_TOKEN"])
        loop.run_until_complete(fd.start())
        state["fd"], state["loop"] = fd, loop
        ready.set()
        loop.run_forever()

    threading.Thread(target=serve, name="fakediscord", daemon=True).start()
    if not ready.wait(10):
        raise SystemExit("the stand-in did not start")
    fd: FakeDiscord = state["fd"]
    os.environ["GUILD_ID"] = str(fd.guild_id)

    async def drive() -> None:
        await fd.wait_ready(timeout=120)
        say("READY")
        admin = fd.add_member("admin", permissions=discord.Permissions(manage_guild=True).value)
        (corpus / "follow-up.md").write_text(
            "---\ntitle: A follow-up\npublished: 2020-07-18\n---\nOn July 18, 2020, Iran said the flight "
            "recorders would be sent to France.\n", encoding="utf-8")
        interaction = await fd.slash("reload", {}, user=admin)
        await interaction.wait_final(timeout=120)
        say("REPLIED")

    asyncio.run_coroutine_threadsafe(drive(), state["loop"])


def main() -> int:
    corpus = Path(sys.argv[1])
    instrument_reload()
    logging.getLogger("bot.exts.launcher").addHandler(Markers())
    start_stand_in(corpus)
    from bot.__main__ import main as storybot

    code = storybot(["run", "--corpus", str(corpus)])
    say(f"EXIT {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
