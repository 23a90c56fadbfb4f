"""What members use: /ask, a mention of the bot, /timeline with its page buttons, /sources."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Optional

import discord
from discord import app_commands
from discord.ext import commands

from . import render

if TYPE_CHECKING:
    from .client import StoryBot

log = logging.getLogger(__name__)

MAX_QUESTION = 300
MAX_CONTAINS = 40


def ask_cooldown(interaction: discord.Interaction) -> app_commands.Cooldown:
    settings = interaction.client.settings  # type: ignore[attr-defined]
    return app_commands.Cooldown(settings.ask_cooldown_rate, settings.ask_cooldown_seconds)


def answer_message(bot: StoryBot, question: str) -> dict:
    """The embed and link buttons for a question: the same for /ask and for a mention."""
    answer = bot.service.ask(question)
    kwargs: dict = {"embed": render.answer_embed(answer)}
    view = render.answer_view(answer)
    if view is not None:
        kwargs["view"] = view
    return kwargs


class TimelinePager(discord.ui.DynamicItem[discord.ui.Button],
                    template=re.compile(r"tl:(?P<user>\d+):(?P<page>\d+):(?P<year>\d{0,4}):(?P<contains>.*)",
                                        re.DOTALL)):  # DOTALL: a filter word may hold any character
    """A Previous/Next button whose custom id holds its whole state, so it works after a restart."""

    def __init__(self, user: int, page: int, year: int | None, contains: str | None,
                 *, label: str = "Next ▶", disabled: bool = False) -> None:
        self.user, self.page, self.year, self.contains = user, page, year, contains
        custom_id = f"tl:{user}:{page}:{year or ''}:{contains or ''}"[: render.CUSTOM_ID]
        super().__init__(discord.ui.Button(label=label, custom_id=custom_id, disabled=disabled,
                                           style=discord.ButtonStyle.secondary))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button,
                             match: re.Match[str]) -> TimelinePager:
        return cls(int(match["user"]), int(match["page"]), int(match["year"]) if match["year"] else None,
                   match["contains"] or None, label=item.label or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: StoryBot = interaction.client  # type: ignore[assignment]
        if interaction.user.id != self.user:
            # someone else's timeline: page through a copy of your own rather than theirs
            await interaction.response.send_message(
                **timeline_message(bot, interaction.user.id, self.page, self.year, self.contains), ephemeral=True)
            return
        await interaction.response.edit_message(**timeline_message(bot, self.user, self.page, self.year, self.contains))


def timeline_message(bot: StoryBot, user: int, page: int, year: int | None, contains: str | None) -> dict:
    events = bot.service.timeline(year=year, contains=contains)
    embed, page, count = render.timeline_embed(events, page, year=year, contains=contains)
    if count <= 1:
        return {"embed": embed, "view": None}
    view = discord.ui.View(timeout=None)
    view.add_item(TimelinePager(user, max(page - 1, 0), year, contains, label="◀ Previous", disabled=page == 0))
    view.add_item(TimelinePager(user, min(page + 1, count - 1), year, contains, label="Next ▶",
                                disabled=page == count - 1))
    return {"embed": embed, "view": view}


class Story(commands.Cog):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot
        settings = bot.settings
        self.mention_cooldown = commands.CooldownMapping.from_cooldown(
            settings.ask_cooldown_rate, settings.ask_cooldown_seconds, commands.BucketType.user)

    @app_commands.command()
    @app_commands.describe(question="What you want to know about the story")
    @app_commands.checks.dynamic_cooldown(ask_cooldown, key=lambda i: i.user.id)
    async def ask(self, interaction: discord.Interaction,
                  question: app_commands.Range[str, 1, MAX_QUESTION]) -> None:
        """Ask about the story: I answer by quoting it, or say that it doesn't say."""
        await interaction.response.send_message(**answer_message(self.bot, question))

    @app_commands.command()
    @app_commands.describe(year="Only events in this year", contains="Only events whose sentence has this word")
    async def timeline(self, interaction: discord.Interaction,
                       year: Optional[app_commands.Range[int, 1000, 9999]] = None,
                       contains: Optional[app_commands.Range[str, 1, MAX_CONTAINS]] = None) -> None:
        """The story's dated events, in order."""
        message = timeline_message(self.bot, interaction.user.id, 0, year, contains)
        if message["view"] is None:
            del message["view"]
        await interaction.response.send_message(**message)

    @app_commands.command()
    async def sources(self, interaction: discord.Interaction) -> None:
        """The stories I can quote, with their dates and links."""
        await interaction.response.send_message(embed=render.sources_embed(self.bot.service.sources()))

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or me not in message.mentions:
            return
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        try:
            if self.mention_cooldown.update_rate_limit(message) is not None:
                await message.reply("Slow down a little: ask again in a few seconds.", mention_author=False)
                return
            if not question:
                await message.reply("Ask me about the story: mention me with a question, or use `/ask`.",
                                    mention_author=False)
                return
            await message.reply(**answer_message(self.bot, question), mention_author=False)
        except discord.HTTPException:
            log.exception("could not answer a mention in channel %s", message.channel.id)
        except Exception:
            log.exception("answering a mention by user %s failed", message.author.id)
            try:
                await message.reply("Sorry, something went wrong on my side. It has been logged.", mention_author=False)
            except discord.HTTPException:
                pass


async def setup(bot: StoryBot) -> None:
    bot.add_dynamic_items(TimelinePager)
    await bot.add_cog(Story(bot))
