"""The Bot subclass: built from a StoryService and Settings, mentions off, one error handler on the tree."""

from __future__ import annotations

import logging
import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from ..record import Record
from ..core.service import StoryService
from ..settings import Settings
from . import render

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.exts.story", "bot.exts.admin")


class NotModerator(app_commands.CheckFailure):
    """The member may not use a moderator command."""


class NotHere(app_commands.CheckFailure):
    """Questions are answered only in ALLOWED_CHANNEL_IDS."""


class StoryBotMixin:
    """What every storybot client shares, sharded or not. Mixed into commands.Bot / AutoShardedBot."""

    service: StoryService
    settings: Settings
    record: Record | None
    """Where feedback and questions are kept; None: nothing is recorded (and no vote buttons are shown)."""
    tree: app_commands.CommandTree
    started_at: float

    def _init_story(self, service: StoryService, settings: Settings, options: dict[str, Any],
                    record: Record | None = None) -> dict[str, Any]:
        self.service = service
        self.settings = settings
        self.record = record
        self.started_at = time.monotonic()
        return dict(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=discord.Intents.default(),  # slash commands and mentions need nothing privileged
            allowed_mentions=discord.AllowedMentions.none(),  # nothing the bot says can ping anyone
            activity=discord.Activity(type=discord.ActivityType.listening, name="/ask"),
        ) | options

    async def setup_hook(self) -> None:
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]
        if self.record is not None:
            self.record.submit(self.record.migrate())  # in the background: a database that is down can't stop us
        for ext in EXTENSIONS:
            await self.load_extension(ext)  # type: ignore[attr-defined]
        if self.settings.guild_id:
            guild = discord.Object(self.settings.guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                synced = await self.tree.sync(guild=guild)
            except (discord.NotFound, discord.Forbidden) as exc:
                log.error("%s; the bot keeps running", guild_sync_problem("GUILD_ID", self.settings.guild_id, exc))
                return
            log.info("synced %d commands to guild %s", len(synced), self.settings.guild_id)

    async def on_ready(self) -> None:
        user = self.user  # type: ignore[attr-defined]
        log.info("ready as %s (id %s) in %d guilds, serving %d passages",
                 user, getattr(user, "id", "?"), len(self.guilds),  # type: ignore[attr-defined]
                 len(self.service.snapshot.passages))

    async def on_message(self, message: discord.Message) -> None:
        """Mentions are answered by the story cog; there are no prefix commands to process."""

    async def close(self) -> None:
        await super().close()  # type: ignore[misc]
        if self.record is not None:
            await self.record.close()  # the writes in flight finish first (a few seconds at most)

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        original = getattr(error, "original", error)
        if isinstance(error, app_commands.CommandOnCooldown):
            text = f"Slow down a little: you can ask again in {error.retry_after:.0f} s."
        elif isinstance(error, (NotModerator, app_commands.MissingPermissions)):
            text = "Only moderators (Manage Server, or a moderator role) can do that."
        elif isinstance(error, NotHere):
            text = render.not_here(self.settings.allowed_channel_ids)
        elif isinstance(error, app_commands.NoPrivateMessage):
            text = "That command only works in a server."
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("command /%s failed for user %s", command, interaction.user.id, exc_info=original)
            text = "Sorry, something went wrong on my side. It has been logged; please try again."
        await send(interaction, content=text, ephemeral=True)


def guild_sync_problem(setting: str, guild_id: int | None, exc: discord.HTTPException) -> str:
    """Why the commands could not be synced to a guild, in one sentence for the operator."""
    if isinstance(exc, discord.NotFound):
        return (f"{setting} {guild_id} is not a server this bot is in (Discord: {exc.text or 'Unknown Guild'}), so "
                "the commands were not synced there: invite the bot there (`./dev invite`) or correct "
                f"{setting}")
    return (f"the bot may not create commands in the server {setting} {guild_id} (Discord: "
            f"{exc.text or 'Missing Access'}): invite it again with `./dev invite`, which asks for the "
            "applications.commands scope")


async def send(interaction: discord.Interaction, **kwargs: Any) -> None:
    """Respond, or follow up when the interaction has been responded to already; never raise."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(**kwargs)
        else:
            await interaction.response.send_message(**kwargs)
    except discord.HTTPException:
        log.warning("could not tell user %s about an error", interaction.user.id, exc_info=True)


class StoryBot(StoryBotMixin, commands.Bot):
    def __init__(self, service: StoryService, settings: Settings, *, record: Record | None = None,
                 **options: Any) -> None:
        super().__init__(**self._init_story(service, settings, options, record))


class ShardedStoryBot(StoryBotMixin, commands.AutoShardedBot):
    def __init__(self, service: StoryService, settings: Settings, *, record: Record | None = None,
                 **options: Any) -> None:
        options = self._init_story(service, settings, options, record)
        if settings.shard_count is not None:
            options["shard_count"] = settings.shard_count
        if settings.shard_ids:
            options["shard_ids"] = list(settings.shard_ids)
        super().__init__(**options)


def create_bot(service: StoryService, settings: Settings, *, record: Record | None = None,
               **options: Any) -> commands.Bot:
    """A sharded bot when SHARD_COUNT is set, else a plain one. ``record``: where feedback goes (the
    launcher opens the one the settings name). ``options`` go to discord.py."""
    if settings.shard_count is not None:
        return ShardedStoryBot(service, settings, record=record, **options)
    return StoryBot(service, settings, record=record, **options)
