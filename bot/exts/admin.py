"""What moderators use: /reload (with a line in MOD_LOG_CHANNEL_ID for each) and /stats, checked by the bot
itself (Discord's default permissions are only a hint)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Optional

import discord
from discord import app_commands
from discord.ext import commands

from ..archive.workers import BuildFailed
from ..core.corpus import CorpusError
from ..record import RecordUnavailable
from ..core.service import ReloadTimeout
from . import render
from .client import NotModerator

if TYPE_CHECKING:
    from .client import StoryBot

log = logging.getLogger(__name__)


def is_moderator(interaction: discord.Interaction) -> bool:
    """Manage Server, or one of MODERATOR_ROLE_IDS. Raises NotModerator otherwise."""
    member = interaction.user
    if isinstance(member, discord.Member):
        if interaction.permissions.manage_guild:  # resolved by Discord for this member (administrators too)
            return True
        allowed = set(interaction.client.settings.moderator_role_ids)  # type: ignore[attr-defined]
        if allowed and any(role.id in allowed for role in member.roles):
            return True
    raise NotModerator("not a moderator")


class Admin(commands.Cog):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot

    @app_commands.command()
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(is_moderator)
    async def reload(self, interaction: discord.Interaction) -> None:
        """Re-read the corpus folder and swap it in (moderators only)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        user = interaction.user
        serving = self.bot.service.generation  # not the snapshot itself: the reload waits for it to be let go
        try:
            report = await self.bot.service.reload_async(timeout=self.bot.settings.reload_timeout_seconds)
        except ReloadTimeout as exc:
            log.warning("reload by %s (%s) in guild %s abandoned after %.0f s", user, user.id, interaction.guild_id,
                        exc.seconds)
            await interaction.followup.send(embed=render.reload_timeout_embed(exc.seconds), ephemeral=True)
            await self.mod_log(render.modlog_abandoned(user, exc.seconds))
            return
        except BuildFailed as exc:
            log.error("reload by %s (%s) in guild %s failed: %s", user, user.id, interaction.guild_id, exc)
            await interaction.followup.send(embed=render.reload_failed_embed(reason=str(exc)), ephemeral=True)
            await self.mod_log(render.modlog_failed(user, swapped=False, reason=str(exc)))
            return
        except CorpusError as exc:
            log.warning("reload by %s (%s) in guild %s refused: %s", user, user.id, interaction.guild_id,
                        "; ".join(map(str, exc.problems)))
            await interaction.followup.send(embed=render.problems_embed(exc.problems), ephemeral=True)
            await self.mod_log(render.modlog_refused(user, exc.problems))
            return
        except Exception:
            # not a problem the loader could name (a bug, or a file it could not cope with): say which corpus
            # serves now, and leave the traceback to the log
            log.exception("reload by %s (%s) in guild %s failed", user, user.id, interaction.guild_id)
            swapped = self.bot.service.generation != serving
            await interaction.followup.send(embed=render.reload_failed_embed(swapped=swapped), ephemeral=True)
            await self.mod_log(render.modlog_failed(user, swapped=swapped))
            return
        log.info("reload by %s (%s) in guild %s: %s", user, user.id, interaction.guild_id, "; ".join(report.lines()))
        await interaction.followup.send(embed=render.reload_embed(report), ephemeral=True)
        await self.mod_log(render.modlog_reload(user, report))

    async def mod_log(self, line: str) -> None:
        """One line in MOD_LOG_CHANNEL_ID, if it is set; a channel that can't be written to is logged, not fatal."""
        channel_id = self.bot.settings.mod_log_channel_id
        if channel_id is None:
            return
        channel = self.bot.get_channel(channel_id) or self.bot.get_partial_messageable(channel_id)
        try:
            await channel.send(line)  # type: ignore[union-attr]
        except discord.HTTPException as exc:
            log.warning("could not write to the mod-log channel %s: %s", channel_id, exc)

    @app_commands.command()
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(is_moderator)
    @app_commands.describe(days="Only the last N days (default: all time)")
    async def stats(self, interaction: discord.Interaction,
                    days: Optional[app_commands.Range[int, 1, 3650]] = None) -> None:
        """What members asked: answered, closest and refused, the most-asked unanswered, answers voted down."""
        record = self.bot.record
        if record is None:
            await interaction.response.send_message("Nothing is being recorded on this bot.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            stats = await record.stats(days=days)
        except RecordUnavailable:
            await interaction.followup.send("The record is unavailable just now (the log says why); answers go "
                                            "on meanwhile. Try /stats again later.", ephemeral=True)
            return
        await interaction.followup.send(embed=render.stats_embed(stats), ephemeral=True)


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(Admin(bot))
