"""Feedback on answers: the 👍 / 👎 and "More context" buttons, and what each reply leaves in the record.

Buttons carry their whole state in their custom id (as the timeline's pager does), so they work after a
restart: a vote button holds the id of the interaction or message that asked, a context button short
references to the quoted passages. Every record write runs in the background: a reply never waits for the
database, and a database that is down only costs the record (logged once, see ``bot/record.py``).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord

from ..core.answer import Answer, Quote
from ..core.context import context_of, passage_ref
from ..record import RecordUnavailable, Reply
from . import render

if TYPE_CHECKING:
    from .client import StoryBot

log = logging.getLogger(__name__)

UP, DOWN = "up", "down"


def shown_quotes(answer: Answer) -> tuple[Quote, ...]:
    """The passages a reply shows: the answer's quotes, or for a closest reply the nearest ones."""
    return answer.quotes or answer.nearest


class VoteButton(discord.ui.DynamicItem[discord.ui.Button], template=re.compile(r"vote:(?P<ask>\d{1,19}):(?P<way>up|down)")):
    """👍 or 👎 on the reply to the question ``ask`` (an interaction or message id). One vote per member:
    voting again replaces the vote."""

    def __init__(self, ask_id: int, way: str) -> None:
        self.ask_id, self.way = ask_id, way
        super().__init__(discord.ui.Button(
            emoji="👍" if way == UP else "👎", custom_id=f"vote:{ask_id}:{way}",
            style=discord.ButtonStyle.secondary))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button,
                             match: re.Match[str]) -> VoteButton:
        return cls(int(match["ask"]), match["way"])

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: StoryBot = interaction.client  # type: ignore[assignment]
        record = bot.record
        if record is None:
            await interaction.response.send_message("Votes are not being recorded on this bot.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)  # the database may take a moment
        try:
            await record.vote(self.ask_id, record.member(interaction.user.id), 1 if self.way == UP else -1)
        except RecordUnavailable:
            await interaction.followup.send("Sorry, I couldn't record your vote just now; please try again later.",
                                            ephemeral=True)
            return
        if self.way == UP:
            text = "Thanks: noted as helpful 👍. (Click 👎 to change your vote.)"
        else:
            text = "Thanks: noted as not helpful 👎. The moderators will see it in /stats. (Click 👍 to change it.)"
        await interaction.followup.send(text, ephemeral=True)


class ContextButton(discord.ui.DynamicItem[discord.ui.Button],
                    template=re.compile(r"ctx:(?P<refs>[0-9a-f]{8}#[0-9.]{1,12}(?:~[0-9a-f]{4})?"
                                        r"(?: [0-9a-f]{8}#[0-9.]{1,12}(?:~[0-9a-f]{4})?){0,4})")):
    """"More context": privately, the paragraphs before and after each quoted one."""

    def __init__(self, refs: tuple[str, ...]) -> None:
        self.refs = refs
        super().__init__(discord.ui.Button(label="More context", custom_id=f"ctx:{' '.join(refs)}",
                                           style=discord.ButtonStyle.secondary))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button,
                             match: re.Match[str]) -> ContextButton:
        return cls(tuple(match["refs"].split()))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: StoryBot = interaction.client  # type: ignore[assignment]
        snap = bot.service.snapshot
        contexts = [c for c in (context_of(ref, snap.documents, snap.passages) for ref in self.refs) if c is not None]
        await interaction.response.send_message(embeds=render.context_embeds(contexts), ephemeral=True)


def context_refs(quotes: tuple[Quote, ...]) -> tuple[str, ...]:
    refs: list[str] = []
    for q in quotes:
        ref = passage_ref(q.passage.id, q.passage.text)
        if ref not in refs and len("ctx:" + " ".join([*refs, ref])) <= render.CUSTOM_ID:
            refs.append(ref)
    return tuple(refs)


def reply_view(bot: StoryBot, answer: Answer, ask_id: int) -> discord.ui.View | None:
    """The buttons under a reply: 👍 👎 and More context (answers and closest replies), then the story links."""
    view = discord.ui.View(timeout=None)
    quotes = shown_quotes(answer)
    if answer.kind != "refused" and quotes:
        if bot.record is not None:
            view.add_item(VoteButton(ask_id, UP))
            view.add_item(VoteButton(ask_id, DOWN))
        refs = context_refs(quotes)
        if refs:
            view.add_item(ContextButton(refs))
    links = render.answer_view(answer)
    for item in links.children if links is not None else ():
        item.row = 1 if view.children else 0
        view.add_item(item)
    return view if view.children else None


def record_reply(bot: StoryBot, answer: Answer, *, ask_id: int, via: str, user_id: int, guild_id: int | None,
                 channel_id: int | None, message_id: int | None, private: bool, story: str | None = None,
                 corpus: str = "") -> None:
    """Leave the question and what it was shown in the record, in the background."""
    record = bot.record
    if record is None or not answer.question.strip():
        return
    link = (f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"
            if message_id and channel_id and not private else None)
    reply = Reply(ask_id=ask_id, kind=answer.kind, question=answer.question.strip(),
                  passages=tuple(q.passage.id for q in shown_quotes(answer)), member=record.member(user_id),
                  corpus=corpus or bot.service.snapshot.version, via=via, private=private, story=story,
                  guild_id=guild_id, channel_id=channel_id, message_id=message_id, link=link)
    record.submit(record.add_reply(reply))
