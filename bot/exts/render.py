"""Answers, timelines, sources and reload reports -> Discord embeds and views, within Discord's limits.

Every text that comes from a story or a member is escaped (markdown cannot break the formatting around it)
and defused (no @everyone, @here or <@id> survives as a mention), and every piece is cut to fit its limit
before it is placed, so an embed is valid by construction whatever the corpus holds.
"""

from __future__ import annotations

import re
from typing import Sequence

import discord

from ..core.answer import Answer, Quote
from ..core.context import Context
from ..core.corpus import Problem
from ..record import Stats
from ..core.service import ReloadReport, Snapshot, Source
from ..core.timeline import Event

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
CONTENT = 2000
TITLE = 256
DESCRIPTION = 4096
FIELD_NAME = 256
FIELD_VALUE = 1024
FIELDS = 25
FOOTER = 2048
EMBED_TOTAL = 6000
BUTTON_LABEL = 80
BUTTON_URL = 512
CUSTOM_ID = 100

ANSWER_COLOUR = discord.Colour.blurple()
REFUSAL_COLOUR = discord.Colour.light_grey()
CLOSEST_COLOUR = discord.Colour.gold()
ERROR_COLOUR = discord.Colour.red()
OK_COLOUR = discord.Colour.green()

_MENTION = re.compile(r"@(everyone|here)|<(@[!&]?|#)(?=\d)", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_MARKDOWN = re.compile(r"([\\*_~|`\[\]<>:])")
_LINE_START = re.compile(r"^(?:[#>\-+]|(\d+)\.)")
_LINK_UNSAFE = {ord(c): f"%{ord(c):02X}" for c in "()<>\\ "}


def defuse(text: str) -> str:
    """Break anything Discord would read as a mention, with a zero-width space."""
    return _MENTION.sub(lambda m: f"@\u200b{m.group(1)}" if m.group(1) else f"<{m.group(2)}\u200b", text)


def literal(text: str) -> str:
    """Text shown as written: every markdown character escaped, mentions defused, on one line."""
    return defuse(_MARKDOWN.sub(r"\\\1", _SPACES.sub(" ", text)))


def _line_start(text: str) -> str:
    """Escape what would make a line a heading, list or quote: ``\\#``, ``\\>``, ``\\-``, ``\\+``, ``1\\.``
    (Discord shows a backslash before a digit as written, so a numbered list is escaped at its dot)."""
    return _LINE_START.sub(lambda m: f"{m[1]}\\." if m[1] else f"\\{m[0]}", text, count=1)


def safe(text: str) -> str:
    """``literal`` text, trimmed, that may also start a line (no heading, list or quote)."""
    return _line_start(literal(text.strip()))


def link_target(url: str) -> str:
    """``url`` for a markdown link ``[label](url)``: characters that would end or bend it percent-encoded."""
    return url.translate(_LINK_UNSAFE)


def cut(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` characters, at a word end where possible, with '…'."""
    if len(text) <= limit:
        return text
    head = text[: max(limit - 1, 0)]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip("\\") + "…"


def cut_safe(raw: str, limit: int) -> str:
    """``safe(raw)`` within ``limit``: the raw text is shortened, never the escapes."""
    out = safe(raw[: limit + 1])  # escaping only lengthens text, so more than limit + 1 raw chars never fit
    if len(out) <= limit and len(raw) <= limit:
        return out
    lo, hi = 0, min(len(raw), limit)
    while lo < hi:  # the longest prefix whose escaped form fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if len(safe(raw[:mid])) + 1 <= limit:
            lo = mid
        else:
            hi = mid - 1
    head = raw[:lo]
    space = head.rfind(" ")
    if space > lo // 2:
        head = head[:space]
    return safe(head) + "…"


def highlighted(text: str, spans: Sequence[tuple[int, int]], limit: int) -> str:
    """The passage, escaped, with the matched words in bold; plain or shortened if that is what fits."""
    parts, last = [], 0
    for start, end in spans:
        parts.append(literal(text[last:start]))
        parts.append(f"**{literal(text[start:end])}**")
        last = end
    parts.append(literal(text[last:]))
    out = _line_start("".join(parts))
    return out if len(out) <= limit else cut_safe(text, limit)


# --- answers -----------------------------------------------------------------------------------------------


def _citation(quote: Quote) -> str:
    label = cut_safe(quote.document.title, 120)  # brackets are escaped with the rest of the markdown
    where = f"{label}, paragraph {quote.passage.paragraph}"
    link = link_target(quote.link) if quote.link else None
    return f"— [{where}]({link})" if link and len(link) <= 1000 else f"— {where}"


def answer_embed(answer: Answer) -> discord.Embed:
    """Reply 1, the quotes; reply 2, "the closest the story comes" under the refusal's heading; reply 3, the
    refusal alone."""
    title = cut_safe(answer.question, TITLE) or "Question"
    quotes = answer.quotes or answer.nearest
    if not quotes:
        return discord.Embed(title=title, description=cut_safe(answer.refusal or "", DESCRIPTION),
                             colour=REFUSAL_COLOUR)
    heading = "" if answer.answered else f"**{cut_safe(answer.refusal or '', 600)}**\n\n"
    budget = (DESCRIPTION - len(heading) - 4 * len(quotes)) // len(quotes)
    blocks = []
    for quote in quotes:
        cite = _citation(quote)
        body = highlighted(quote.passage.text, quote.highlights, budget - len(cite) - 4)
        blocks.append(f"> {body}\n{cite}")
    embed = discord.Embed(title=title, description=heading + "\n\n".join(blocks),
                          colour=ANSWER_COLOUR if answer.answered else CLOSEST_COLOUR)
    stories = {q.document.id for q in quotes}
    what = "Quoted" if answer.answered else "The closest passages, quoted"
    embed.set_footer(text=f"{what} word for word from {len(stories)} stor{'y' if len(stories) == 1 else 'ies'}. "
                          "Bold words matched your question.")
    return embed


def answer_view(answer: Answer) -> discord.ui.View | None:
    """Link buttons to the stories quoted (at the quoted words where the link fits)."""
    view = discord.ui.View(timeout=None)
    seen = set()
    quotes = answer.quotes or answer.nearest
    for quote in quotes:
        doc = quote.document
        if not doc.url or doc.id in seen or len(seen) == 5:
            continue
        seen.add(doc.id)
        link = quote.link if quote.link and len(quote.link) <= BUTTON_URL else doc.url
        if len(link) > BUTTON_URL:
            continue
        label = "Read the story" if len({q.document.id for q in quotes}) == 1 \
            else cut(defuse(_SPACES.sub(" ", f"Read: {doc.title}")), BUTTON_LABEL)
        view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, label=label, url=link))
    return view if view.children else None


def with_version(embed: discord.Embed, snapshot: Snapshot) -> discord.Embed:
    """``embed`` with the corpus version and when it was loaded added to its footer, so staleness shows."""
    loaded = snapshot.loaded_at.strftime("%Y-%m-%d %H:%M UTC")
    stamp = f"Corpus {snapshot.version}, loaded {loaded}"
    before = embed.footer.text if embed.footer and embed.footer.text else ""
    embed.set_footer(text=cut(f"{before} · {stamp}" if before else stamp, FOOTER))
    return embed


def context_embeds(contexts: Sequence[Context]) -> list[discord.Embed]:
    """One embed per quoted paragraph: the paragraph before, the quoted one, the one after, verbatim (shortened
    with '…' only where all of them would not fit one message)."""
    if not contexts:
        return [discord.Embed(title="No context to show",
                              description="Those paragraphs are no longer in the corpus (it was reloaded since).",
                              colour=REFUSAL_COLOUR)]
    budget = min(DESCRIPTION, (EMBED_TOTAL - 100) // len(contexts) - TITLE)
    embeds = []
    for c in contexts[:10]:
        piece = (budget - 120) // 3
        parts = []
        if c.before is not None:
            parts.append(f"*¶{c.paragraph - 1}*\n{cut_safe(c.before, piece)}")
        note = " (edited since it was quoted: this is how it reads now)" if c.changed else ""
        parts.append(f"**¶{c.paragraph}, quoted**{note}\n> {cut_safe(c.quoted, piece)}")
        if c.after is not None:
            parts.append(f"*¶{c.paragraph + 1}*\n{cut_safe(c.after, piece)}")
        title = cut_safe(f"{c.document.title}, around paragraph {c.paragraph}", TITLE)
        embeds.append(discord.Embed(title=title, description="\n\n".join(parts), colour=ANSWER_COLOUR))
    return embeds


def _lines_within(lines: Sequence[str], limit: int, more: str = "…and {n} more") -> str:
    out, size = [], 0
    for i, line in enumerate(lines):
        if size + len(line) + 1 > limit - 30:
            out.append(more.format(n=len(lines) - i))
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def _jump(text: str, link: str | None, limit: int = 120) -> str:
    label = cut_safe(text, limit)
    return f"[{label}]({link_target(link)})" if link and len(link) <= 300 else label


def stats_embed(stats: Stats) -> discord.Embed:
    span = f"in the last {stats.days} days" if stats.days else "all time"
    desc = (f"**{stats.asked}** questions {span}: answered {stats.answered} ({stats.share('answered'):.0%}) · "
            f"closest {stats.closest} ({stats.share('closest'):.0%}) · refused {stats.refused} "
            f"({stats.share('refused'):.0%})\nVotes: {stats.votes_up} 👍 · {stats.votes_down} 👎")
    embed = discord.Embed(title="What members asked", description=desc, colour=ANSWER_COLOUR)
    groups = [f"{g.count}× {_jump(g.latest_question, g.latest_link)} · refused {g.refused}, closest {g.closest}"
              for g in stats.unanswered]
    embed.add_field(name="Most asked without an answer (what the corpus may be missing)",
                    value=_lines_within(groups, FIELD_VALUE) or "None yet.", inline=False)
    down = [f"{v.down}👎 {v.up}👍 {_jump(v.question or '(question not recorded)', v.link)} · "
            f"{cut_safe(', '.join(v.passages) or 'nothing quoted', 150)}" for v in stats.voted_down]
    embed.add_field(name="Answers voted down, newest first", value=_lines_within(down, FIELD_VALUE) or "None yet.",
                    inline=False)
    embed.set_footer(text="Grouped by the words each question was searched by. Members are counted, never named.")
    return fit_total(embed)


def help_embed(sources: Sequence[Source], *, max_question: int, allowed_channels: Sequence[int] = ()) -> discord.Embed:
    embed = discord.Embed(
        title="storybot answers questions about the news by quoting the story",
        description=("I quote the passages that answer your question word for word, with the matched words in "
                     "bold and a link to the story; when the story doesn't answer it, I say so, or show the "
                     "closest it comes, marked as such."),
        colour=ANSWER_COLOUR)
    embed.add_field(name="Ask", inline=False, value=(
        f"`/ask question [story] [private]`: up to {max_question:,} characters; `story` asks one story only, "
        "`private` answers only you.\n"
        "Mention me with a question: the same answer, as a reply.\n"
        "On any message: *Apps → Ask storybot* asks its text (privately)."))
    embed.add_field(name="Under an answer", inline=False, value=(
        "👍 / 👎 tell the moderators whether it helped (one vote each, change it any time).\n"
        "**More context** shows you the paragraphs before and after the quote."))
    embed.add_field(name="Explore", inline=False, value=(
        "`/timeline [year] [contains]`: the dated events · `/sources`: the stories, with links · `/help`: this."))
    embed.add_field(name="Moderators", inline=False, value=(
        "`/reload`: re-read the stories (a broken file is refused, the old ones keep serving) · "
        "`/stats [days]`: what members asked, what went unanswered, what was voted down."))
    embed.add_field(name="What I can't do", inline=False, value=(
        "I never paraphrase, summarise, guess or give opinions, and I know nothing beyond these stories: "
        "ask about something else and I will tell you the story doesn't say."))
    if allowed_channels:
        embed.add_field(name="Where", inline=False,
                        value="I answer questions in " + ", ".join(f"<#{c}>" for c in allowed_channels[:20]) + ".")
    stories = [f"• {cut_safe(s.title, 150)} ({s.published}) `{cut(s.id.replace('`', ''), 60)}`" for s in sources]
    embed.add_field(name=f"Stories ({len(sources)})", value=_lines_within(stories, FIELD_VALUE) or "None.",
                    inline=False)
    return fit_total(embed)


def not_here(allowed_channels: Sequence[int]) -> str:
    where = ", ".join(f"<#{c}>" for c in allowed_channels[:20])
    return f"I answer questions in {where}: ask me there (or `/ask` with `private` there)."


def modlog_reload(user: discord.abc.User, report: ReloadReport) -> str:
    """The mod-log line for a reload: who, what changed, how long."""
    what = " · ".join(literal(line.strip()) for line in report.lines()[:-1])
    return cut(f"🔄 **Corpus reloaded** by {user.mention} in {report.seconds:.2f} s: {what}", CONTENT)


def modlog_refused(user: discord.abc.User, problems: Sequence[Problem]) -> str:
    listed = "; ".join(literal(str(p)) for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return cut(f"⛔ **Reload refused** (asked by {user.mention}): {len(problems)} problem"
               f"{'s' if len(problems) != 1 else ''}: {listed}{more}. The corpus that was serving still is.", CONTENT)


def modlog_failed(user: discord.abc.User, *, swapped: bool, reason: str | None = None) -> str:
    state = "the new corpus is serving" if swapped else "the corpus that was serving still is"
    why = f": {reason}" if reason is not None else " with an error"
    return f"⚠️ **Reload failed** (asked by {user.mention}){why}; {state}. The details are in the log."


def modlog_abandoned(user: discord.abc.User, seconds: float) -> str:
    return (f"⏱️ **Reload abandoned** (asked by {user.mention}) after {seconds:.0f} s (RELOAD_TIMEOUT_SECONDS); "
            "the corpus that was serving still is.")


# --- timeline ----------------------------------------------------------------------------------------------

PAGE_EVENTS = 8
LINE_CHARS = (DESCRIPTION - PAGE_EVENTS) // PAGE_EVENTS  # so that any page of lines fits one description


def event_line(event: Event) -> str:
    head = f"**{event.date.human()}** — "
    tail = f" *(¶{event.paragraph}, {cut_safe(event.doc_id, 60)})*"
    return head + cut_safe(event.text, LINE_CHARS - len(head) - len(tail)) + tail


def page_count(events: Sequence[Event]) -> int:
    return max(1, -(-len(events) // PAGE_EVENTS))


def timeline_embed(events: Sequence[Event], page: int, *, year: int | None,
                   contains: str | None) -> tuple[discord.Embed, int, int]:
    """The embed for one page (clamped to the pages there are) -> (embed, page shown, page count)."""
    scope = " ".join(filter(None, [str(year) if year else None, f"“{contains}”" if contains else None]))
    title = cut_safe(f"Timeline {scope}".strip(), TITLE)
    if not events:
        return discord.Embed(title=title, description="No dated events match.", colour=REFUSAL_COLOUR), 0, 1
    count = page_count(events)
    page = min(max(page, 0), count - 1)
    lines = [event_line(e) for e in events[page * PAGE_EVENTS : (page + 1) * PAGE_EVENTS]]
    embed = discord.Embed(title=title, description="\n".join(lines), colour=ANSWER_COLOUR)
    embed.set_footer(text=f"Page {page + 1} of {count} · {len(events)} events · dates as precise as the story")
    return embed, page, count


# --- sources and reloads -------------------------------------------------------------------------------------


def sources_embed(sources: Sequence[Source]) -> discord.Embed:
    embed = discord.Embed(title="Stories I can quote", colour=ANSWER_COLOUR)
    shown = list(sources[: FIELDS - 1]) if len(sources) > FIELDS else list(sources)
    for s in shown:
        by = f" · {cut_safe(s.publisher, 100)}" if s.publisher else ""
        link = f"\n[Read it]({link_target(s.url)})" if s.url and len(link_target(s.url)) <= 800 else ""
        embed.add_field(name=cut_safe(s.title, FIELD_NAME),
                        value=f"Published {s.published}{by} · {s.passages} passages · `{s.id}`{link}"[:FIELD_VALUE],
                        inline=False)
    if len(sources) > len(shown):
        embed.add_field(name="…", value=f"and {len(sources) - len(shown)} more stories", inline=False)
    total = sum(s.passages for s in sources)
    embed.set_footer(text=f"{len(sources)} stories · {total} passages")
    return fit_total(embed)


def reload_embed(report: ReloadReport) -> discord.Embed:
    title = "Corpus reloaded" if report.changed else "Corpus reloaded: nothing changed"
    lines = [safe(line) for line in report.lines()]
    return discord.Embed(title=title, description=cut("\n".join(lines), DESCRIPTION), colour=OK_COLOUR)


def problems_embed(problems: Sequence[Problem]) -> discord.Embed:
    lines, size = [], 0
    for i, p in enumerate(problems):
        name = defuse(_SPACES.sub(" ", cut(p.file, 100).replace("`", "")))
        line = f"• `{name}`: {cut_safe(p.message, 400)}"
        if size + len(line) > DESCRIPTION - 200:
            lines.append(f"…and {len(problems) - i} more problems")
            break
        lines.append(line)
        size += len(line) + 1
    return discord.Embed(title="Reload refused: the corpus that was serving still is",
                         description="\n".join(lines), colour=ERROR_COLOUR)


def reload_failed_embed(*, swapped: bool = False, reason: str | None = None) -> discord.Embed:
    """A reload that raised something other than a CorpusError; ``swapped``: after the new corpus went in;
    ``reason``: what went wrong, when it can be said (a build worker process died)."""
    if reason is not None:
        return discord.Embed(title="Reload failed: the corpus that was serving still is",
                             description=f"{reason[:1].upper()}{reason[1:]}. The details are in the log; you can "
                                         "run /reload again.", colour=ERROR_COLOUR)
    if swapped:
        return discord.Embed(title="Reload finished with an error: the new corpus is serving",
                             description="Something went wrong after the swap; the details are in the log.",
                             colour=ERROR_COLOUR)
    return discord.Embed(title="Reload failed: the corpus that was serving still is",
                         description="Something went wrong while reading the corpus; the details are in the log.",
                         colour=ERROR_COLOUR)


def reload_timeout_embed(seconds: float) -> discord.Embed:
    """A reload abandoned after RELOAD_TIMEOUT_SECONDS."""
    return discord.Embed(title="Reload abandoned: the corpus that was serving still is",
                         description=f"Reading the corpus took longer than {seconds:.0f} s (RELOAD_TIMEOUT_SECONDS), "
                                     "so it was given up. A file on a slow or stuck disk or network share is the "
                                     "usual cause; the log names the folder. You can run /reload again now.",
                         colour=ERROR_COLOUR)


def fit_total(embed: discord.Embed) -> discord.Embed:
    """Drop trailing fields until the embed is within Discord's 6,000-character total."""
    while len(embed) > EMBED_TOTAL and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    return embed
