"""`run`, `sync` and `invite`: the commands that talk to Discord."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import aiohttp
import discord
from discord.backoff import ExponentialBackoff

from ..core.corpus import CorpusError
from ..display import printable
from ..archive.runtime import Runtime
from ..core.service import StoryService
from ..settings import Settings, SettingsError
from .client import create_bot, guild_sync_problem

log = logging.getLogger(__name__)

PERMISSIONS = discord.Permissions(send_messages=True, embed_links=True, read_message_history=True)
SCOPES = ("bot", "applications.commands")


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)


def setup_logging(level: str) -> None:
    discord.utils.setup_logging(level=logging.getLevelName(level), root=True)
    logging.getLogger("discord.http").setLevel(logging.WARNING)


def main(command: str, settings: Settings, args: argparse.Namespace) -> int:
    try:
        token = settings.token()
    except SettingsError as exc:
        print(f"storybot: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    try:
        service = StoryService.open(args.corpus, cache_dir=settings.cache_dir,  # CACHE_DIR, as the other commands
                                    runtime=Runtime())  # the bot's policy around reloads: see bot/archive/runtime.py
    except CorpusError as exc:
        print(printable("storybot: the corpus has problems:\n" + "\n".join(f"  {p}" for p in exc.problems)),
              file=sys.stderr)
        return 1
    from ..record import Record

    record = None
    if command == "run":  # reads (or makes) the key file: before the event loop runs
        record = Record.open(settings.data_dir, **settings.record_options())
        if settings.database_url is not None and settings.record_key is None:
            log.warning("DATABASE_URL is shared but RECORD_KEY is not set: members are hashed with %s, so give "
                        "every process that shares the database the same RECORD_KEY (or that file), or one "
                        "member's votes count once per process", settings.data_dir / "record.key")
    bot = create_bot(service, settings, record=record)
    try:
        if command == "run":
            asyncio.run(run(bot, token))
            if not service.wait_for_reloads(SHUTDOWN_PATIENCE):
                log.warning("a reload was still running after %.0f s (stuck reading the corpus?); exiting without "
                            "it", SHUTDOWN_PATIENCE)
        elif command == "sync":
            asyncio.run(sync(bot, token, args.guild))
        else:
            asyncio.run(invite(bot, token))
    except discord.LoginFailure:
        print("storybot: Discord rejected DISCORD_TOKEN; copy the bot token again from the developer portal.",
              file=sys.stderr)
        return 2
    except discord.PrivilegedIntentsRequired:
        print("storybot: Discord refused the gateway intents this bot asked for.", file=sys.stderr)
        return 2
    except (discord.NotFound, discord.Forbidden) as exc:  # sync --guild ID
        print(f"storybot: {guild_sync_problem('--guild', args.guild, exc)}", file=sys.stderr)
        return 2
    except UNREACHABLE as exc:
        print(f"storybot: {unreachable(exc)}; check the network and try again.", file=sys.stderr)
        return 3
    return 0


SHUTDOWN_PATIENCE = 10.0
"""How long `run` waits, once closed, for a reload still running (its cache write) before exiting anyway."""

UNREACHABLE = (aiohttp.ClientConnectionError, asyncio.TimeoutError, OSError, discord.DiscordServerError)
"""What a Discord that cannot be reached raises (DNS failure, connection refused or reset, timeout, or 5xx
answers after discord.py's own retries)."""


def unreachable(exc: BaseException) -> str:
    """One sentence naming the host and the network problem."""
    if isinstance(exc, discord.DiscordServerError):
        return f"Discord is not answering at {discord.http.Route.BASE} (HTTP {exc.status}: it is having trouble)"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot reach Discord: the name {exc.host} does not resolve (DNS lookup failed)"
    if isinstance(exc, aiohttp.ClientConnectorError):
        why = exc.os_error.strerror or str(exc.os_error) if exc.os_error else "no answer"
        return f"cannot reach Discord at {exc.host}:{exc.port} ({why})"
    if isinstance(exc, asyncio.TimeoutError):
        return f"cannot reach Discord at {discord.http.Route.BASE}: it did not answer in time"
    return f"cannot reach Discord at {discord.http.Route.BASE} ({type(exc).__name__}: {exc})"


async def login(bot: discord.Client, token: str) -> bool:
    """Log in, retrying with discord.py's own exponential backoff while Discord cannot be reached (each
    attempt logged in one line); False if the bot was closed meanwhile (Ctrl-C, SIGTERM)."""
    backoff = ExponentialBackoff()
    while True:
        try:
            await bot.login(token)
            return True
        except UNREACHABLE as exc:
            await bot.http.close()  # each attempt opens a session (and a connector) of its own: close this one
            bot.http.connector = discord.utils.MISSING
            if bot.is_closed():
                return False
            delay = backoff.delay()
            log.warning("%s; retrying in %.0f s", unreachable(exc), delay)
            waited = 0.0
            while waited < delay and not bot.is_closed():
                await asyncio.sleep(0.2)
                waited += 0.2
            if bot.is_closed():
                return False


async def run(bot: discord.Client, token: str) -> None:
    """Run until SIGINT or SIGTERM, then close the connection cleanly."""
    loop = asyncio.get_running_loop()

    def stop(signame: str) -> None:
        log.info("%s received: closing", signame)
        loop.create_task(bot.close())

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop, sig.name)
        except (NotImplementedError, RuntimeError):  # not on this platform or thread
            pass
    async with bot:
        if await login(bot, token):
            await bot.connect()  # reconnects as discord.py does
    log.info("closed")


async def sync(bot: discord.Client, token: str, guild_id: int | None) -> None:
    """Publish the slash commands (globally, or to one guild), then log out."""
    async with bot:
        await bot.login(token)
        tree = bot.tree  # type: ignore[attr-defined]
        if guild_id:
            guild = discord.Object(guild_id)
            tree.copy_global_to(guild=guild)
            synced = await tree.sync(guild=guild)
        else:
            synced = await tree.sync()
        where = f"guild {guild_id}" if guild_id else "all guilds (may take up to an hour to show)"
        print(f"Synced {len(synced)} commands to {where}: " + ", ".join(f"/{c.name}" for c in synced))


async def invite(bot: discord.Client, token: str) -> None:
    async with bot:
        await bot.login(token)
        print(invite_url(bot.application_id))  # type: ignore[arg-type]
