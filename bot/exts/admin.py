"""What moderators use: /reload, checked by the bot itself (Discord's default permissions are only a hint)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from ..core.corpus import CorpusError
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
        serving = id(self.bot.service.snapshot)  # not the snapshot itself: the reload waits for it to be let go
        try:
            report = await self.bot.service.reload_async()
        except CorpusError as exc:
            log.warning("reload by %s (%s) in guild %s refused: %s", user, user.id, interaction.guild_id,
                        "; ".join(map(str, exc.problems)))
            await interaction.followup.send(embed=render.problems_embed(exc.problems), ephemeral=True)
            return
        except Exception:
            # not a problem the loader could name (a bug, or a file it could not cope with): say which corpus
            # serves now, and leave the traceback to the log
            log.exception("reload by %s (%s) in guild %s failed", user, user.id, interaction.guild_id)
            swapped = id(self.bot.service.snapshot) != serving
            await interaction.followup.send(embed=render.reload_failed_embed(swapped=swapped), ephemeral=True)
            return
        log.info("reload by %s (%s) in guild %s: %s", user, user.id, interaction.guild_id, "; ".join(report.lines()))
        await interaction.followup.send(embed=render.reload_embed(report), ephemeral=True)


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(Admin(bot))
