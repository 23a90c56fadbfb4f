"""What members use: /ask, a mention of the bot, "Ask storybot" on a message, /timeline with its page buttons,
/sources and /help."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Optional

import discord
from discord import app_commands
from discord.ext import commands

from ..core.answer import MAX_QUESTION_CHARS, Answer
from . import render
from .client import NotHere
from .feedback import record_reply, reply_view

if TYPE_CHECKING:
    from .client import StoryBot

log = logging.getLogger(__name__)

MAX_CONTAINS = 40


def ask_cooldown(interaction: discord.Interaction) -> app_commands.Cooldown:
    settings = interaction.client.settings  # type: ignore[attr-defined]
    return app_commands.Cooldown(settings.ask_cooldown_rate, settings.ask_cooldown_seconds)


def allowed_here(bot: StoryBot, channel: object) -> bool:
    """Whether questions are answered in ``channel``: anywhere without ALLOWED_CHANNEL_IDS, else in those
    channels and their threads."""
    allowed = bot.settings.allowed_channel_ids
    if not allowed:
        return True
    ids = {getattr(channel, "id", None), getattr(channel, "parent_id", None)}
    return bool(ids & set(allowed))


def in_allowed_channel(interaction: discord.Interaction) -> bool:
    if allowed_here(interaction.client, interaction.channel):  # type: ignore[arg-type]
        return True
    raise NotHere("not in ALLOWED_CHANNEL_IDS")


def answer_message(bot: StoryBot, answer: Answer, ask_id: int) -> dict:
    """The embed and buttons for an answer: the same for /ask, a mention and the context menu."""
    kwargs: dict = {"embed": render.with_version(render.answer_embed(answer), bot.service.snapshot)}
    view = reply_view(bot, answer, ask_id)
    if view is not None:
        kwargs["view"] = view
    return kwargs


async def reply_to_interaction(bot: StoryBot, interaction: discord.Interaction, answer: Answer, *, via: str,
                               private: bool, story: str | None = None) -> None:
    response = await interaction.response.send_message(**answer_message(bot, answer, interaction.id),
                                                       ephemeral=private)
    record_reply(bot, answer, ask_id=interaction.id, via=via, user_id=interaction.user.id,
                 guild_id=interaction.guild_id, channel_id=interaction.channel_id,
                 message_id=getattr(response, "message_id", None), private=private, story=story)


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
        self.ask_menu = app_commands.ContextMenu(name="Ask storybot", callback=self.ask_about_message)
        self.ask_menu.guild_only = True
        self.bot.tree.add_command(self.ask_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.ask_menu.name, type=self.ask_menu.type)

    @app_commands.command()
    @app_commands.describe(question="What you want to know about the story",
                           story="Ask this story only (start typing its title)",
                           private="Answer only me (nobody else sees the question or the answer)")
    @app_commands.checks.dynamic_cooldown(ask_cooldown, key=lambda i: i.user.id)
    @app_commands.check(in_allowed_channel)
    async def ask(self, interaction: discord.Interaction,
                  question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
                  story: Optional[app_commands.Range[str, 1, 100]] = None,
                  private: bool = False) -> None:
        """Ask about the story: I answer by quoting it, or say that it doesn't say."""
        if story is not None and story not in self.bot.service.snapshot.documents:
            await interaction.response.send_message(
                f"I have no story `{render.cut(render.defuse(story.replace('`', '')), 100)}`: pick one from the list "
                "as you type, or see `/sources`.", ephemeral=True)
            return
        answer = self.bot.service.ask(question, story=story)
        await reply_to_interaction(self.bot, interaction, answer, via="slash", private=private, story=story)

    @ask.autocomplete("story")
    async def ask_story(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """The loaded stories whose title or id holds what is typed (from memory: autocomplete can't wait)."""
        typed = current.casefold().strip()
        choices = []
        for doc in self.bot.service.snapshot.corpus.documents:
            if not typed or typed in doc.title.casefold() or typed in doc.id.casefold():
                name = render.cut(render.defuse(" ".join(f"{doc.title} ({doc.published})".split())), 100)
                choices.append(app_commands.Choice(name=name, value=doc.id))
                if len(choices) == 25:
                    break
        return choices

    @app_commands.checks.dynamic_cooldown(ask_cooldown, key=lambda i: i.user.id)
    async def ask_about_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Ask storybot the selected message's text, as a question (privately)."""
        question = message.content.strip()
        if not question and message.embeds:  # another bot's message: its embed's words
            question = " ".join(filter(None, [message.embeds[0].title, message.embeds[0].description])).strip()
        if self.bot.user is not None:
            question = re.sub(rf"<@!?{self.bot.user.id}>", " ", question).strip()
        if not question:
            await interaction.response.send_message("That message has no text I can ask about.", ephemeral=True)
            return
        answer = self.bot.service.ask(question)
        await reply_to_interaction(self.bot, interaction, answer, via="message", private=True)

    @app_commands.command(name="help")
    async def help_(self, interaction: discord.Interaction) -> None:
        """What I can and can't do, my commands, and the stories I know."""
        embed = render.help_embed(self.bot.service.sources(), max_question=MAX_QUESTION_CHARS,
                                  allowed_channels=self.bot.settings.allowed_channel_ids)
        await interaction.response.send_message(embed=render.with_version(embed, self.bot.service.snapshot),
                                                ephemeral=True)

    @app_commands.command()
    @app_commands.describe(year="Only events in this year",
                           contains="Only events whose sentence has this word (in any form: embassy, embassies)")
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
            if not allowed_here(self.bot, message.channel):
                await self.tell_where(message)
                return
            if self.mention_cooldown.update_rate_limit(message) is not None:
                await message.reply("Slow down a little: ask again in a few seconds.", mention_author=False)
                return
            if not question:
                await message.reply("Ask me about the story: mention me with a question, or use `/ask`.",
                                    mention_author=False)
                return
            answer = self.bot.service.ask(question)
            reply = await message.reply(**answer_message(self.bot, answer, message.id), mention_author=False)
            record_reply(self.bot, answer, ask_id=message.id, via="mention", user_id=message.author.id,
                         guild_id=message.guild.id if message.guild else None, channel_id=message.channel.id,
                         message_id=reply.id, private=False)
        except discord.HTTPException:
            log.exception("could not answer a mention in channel %s", message.channel.id)
        except Exception:
            log.exception("answering a mention by user %s failed", message.author.id)
            try:
                await message.reply("Sorry, something went wrong on my side. It has been logged.", mention_author=False)
            except discord.HTTPException:
                pass


    async def tell_where(self, message: discord.Message) -> None:
        """A mention outside ALLOWED_CHANNEL_IDS: say where the bot answers, privately (a direct message, if
        the member accepts them; nothing is said in the channel)."""
        if self.mention_cooldown.update_rate_limit(message) is not None:
            return
        try:
            await message.author.send(render.not_here(self.bot.settings.allowed_channel_ids))
        except discord.HTTPException:
            log.debug("could not tell user %s where the bot answers", message.author.id)


async def setup(bot: StoryBot) -> None:
    from .feedback import ContextButton, VoteButton

    bot.add_dynamic_items(TimelinePager, VoteButton, ContextButton)
    await bot.add_cog(Story(bot))
