"""The terminal face of storybot: the same answers and timeline the bot gives, as text, and the console."""

from __future__ import annotations

import re
import shlex
import sys
from typing import Callable, TextIO

from .archive.workers import BuildFailed
from .core.answer import MAX_QUESTION_CHARS, Answer
from .core.corpus import CorpusError
from .display import printable
from .record import Stats
from .core.service import ReloadReport, Source, StoryService
from .core.timeline import Event

TIMELINE_LIMIT = 50


class Style:
    """Bold and dim in a terminal; plain Markdown-ish text elsewhere."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def bold(self, s: str) -> str:
        return f"\033[1m{s}\033[0m" if self.tty else f"**{s}**"

    def dim(self, s: str) -> str:
        return f"\033[2m{s}\033[0m" if self.tty else s


def highlight(text: str, spans: tuple[tuple[int, int], ...], bold: Callable[[str], str]) -> str:
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(bold(text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


def render_answer(ans: Answer, style: Style) -> str:
    """An answer's quotes; "the closest the story comes" under its heading; or a refusal."""
    blocks = [] if ans.answered else [str(ans.refusal)]
    for quote in ans.quotes or ans.nearest:
        body = highlight(quote.passage.text, quote.highlights, style.bold)
        cite = f"— {quote.citation}"
        if quote.link:
            cite += f"\n  {quote.link}"
        blocks.append(f"“{body}”\n  {style.dim(cite)}")
    return "\n\n".join(blocks)


def render_timeline(events: list[Event], style: Style, *, limit: int = TIMELINE_LIMIT) -> str:
    if not events:
        return "No dated events match."
    shown = events[:limit]
    width = max(len(ev.date.human()) for ev in shown)
    lines = [
        f"{style.bold(ev.date.human())}{' ' * (width - len(ev.date.human()))}  {ev.text}  "
        f"{style.dim('[' + ev.passage_id + ']')}"
        for ev in shown
    ]
    if len(events) > limit:
        lines.append(f"… and {len(events) - limit} more (narrow it with a year or a word).")
    return "\n".join(lines)


def render_sources(sources: list[Source], style: Style) -> str:
    lines = []
    for s in sources:
        by = f", {s.publisher}" if s.publisher else ""
        lines.append(f"{style.bold(s.title)} ({s.published}{by}) — {s.passages} passages [{s.id}]")
        if s.url:
            lines.append(f"  {s.url}")
    return "\n".join(lines)


def render_reload(report: ReloadReport) -> str:
    return "Reloaded.\n" + "\n".join(f"  {line}" for line in report.lines())


def render_corpus_error(exc: CorpusError, *, reloading: bool = False) -> str:
    """The corpus's problems; ``reloading``: a reload was refused and the old corpus still serves."""
    head = ("The corpus has problems; nothing was changed, the corpus that was serving still is:" if reloading
            else "The corpus has problems:")
    return head + "\n" + "\n".join(f"  {p}" for p in exc.problems)


def render_stats(stats: Stats, style: Style) -> str:
    def pct(kind: str) -> str:
        return f"{stats.share(kind):.0%}"

    span = f"in the last {stats.days} days" if stats.days else "all time"
    lines = [f"{style.bold('Questions asked')} ({span}): {stats.asked} — "
             f"answered {stats.answered} ({pct('answered')}), "
             f"closest {stats.closest} ({pct('closest')}), refused {stats.refused} ({pct('refused')})",
             f"Votes: {stats.votes_up} 👍, {stats.votes_down} 👎"]
    lines.append("\n" + style.bold("Most asked without an answer") + " (what the corpus may be missing):")
    for g in stats.unanswered:
        when = g.latest_at.strftime("%Y-%m-%d %H:%M UTC")
        lines.append(f"  {g.count}×  “{g.latest_question}”  [{g.words}] refused {g.refused}, closest {g.closest}; "
                     f"latest {when}" + (f"\n      {g.latest_link}" if g.latest_link else ""))
    if not stats.unanswered:
        lines.append("  none")
    lines.append("\n" + style.bold("Answers voted down") + " (newest first):")
    for v in stats.voted_down:
        shown = ", ".join(v.passages) or "nothing quoted"
        lines.append(f"  {v.down} 👎 {v.up} 👍  “{v.question or '(not recorded)'}” — {v.kind or '?'}: {shown}"
                     + (f"\n      {v.link}" if v.link else ""))
    if not stats.voted_down:
        lines.append("  none")
    return "\n".join(lines)


def parse_timeline_args(args: list[str]) -> tuple[list[int], str | None]:
    """`/timeline [year ...] [word...]` -> (years, contains). Every leading four-digit number is a year:
    `/timeline 2017 2018` is both years, not 2017 and the word "2018"."""
    years = []
    while args and args[0].isdigit() and len(args[0]) == 4:
        years.append(int(args[0]))
        args = args[1:]
    return years, " ".join(args) or None


def console_timeline(service: StoryService, args: list[str], style: Style) -> str:
    years, contains = parse_timeline_args(args)
    if len(years) <= 1:
        return render_timeline(service.timeline(year=years[0] if years else None, contains=contains), style)
    years = sorted(set(years))
    events = [e for y in years for e in service.timeline(year=y, contains=contains)]
    return f"Events in {', '.join(map(str, years[:-1]))} and {years[-1]}:\n" + render_timeline(events, style)


_ASK_STORY = re.compile(r"/ask\s+--story[\s=]+(?P<story>\S+)\s*(?P<question>.*)", re.IGNORECASE | re.DOTALL)

HELP = f"""Ask anything about the story (up to {MAX_QUESTION_CHARS:,} characters), or:
  /ask --story ID question      ask one story only (ids: /sources)
  /timeline [year ...] [word]   dated events, e.g. /timeline 2017 or /timeline talks
  /sources                      the stories loaded
  /reload                       re-read the corpus folder
  /help, /quit"""


def handle(line: str, service: StoryService, style: Style) -> str | None:
    """One console line -> what to print; None means quit."""
    line = line.strip()
    if not line.startswith("/"):
        return render_answer(service.ask(line), style)
    try:
        parts = shlex.split(line)
    except ValueError:
        parts = line.split()
    command, args = parts[0].lower(), parts[1:]
    if command in ("/quit", "/exit", "/q"):
        return None
    if command == "/ask":
        narrowed = _ASK_STORY.match(line)
        if narrowed:
            return render_answer(service.ask(narrowed["question"], story=narrowed["story"]), style)
        return render_answer(service.ask(line[len(parts[0]):]), style)
    if command == "/timeline":
        return console_timeline(service, args, style)
    if command == "/sources":
        return render_sources(service.sources(), style)
    if command == "/reload":
        try:
            return render_reload(service.reload())
        except CorpusError as exc:
            return render_corpus_error(exc, reloading=True)
        except BuildFailed as exc:
            return f"Reload failed: {exc}. The corpus that was serving still is."
    if command in ("/help", "/?"):
        return HELP
    return f"Unknown command {parts[0]}.\n{HELP}"


def run_console(service: StoryService, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    interactive = stdin.isatty()
    style = Style(stdout.isatty())
    if interactive:
        try:
            import readline  # noqa: F401  (line editing and history for input())
        except ImportError:
            pass
        docs = service.sources()
        print(printable(f"storybot console — {len(docs)} stor{'y' if len(docs) == 1 else 'ies'} loaded "
                        f"from {service.folder}/. Ask a question, or /help."), file=stdout)
    while True:
        try:
            line = input("> ") if interactive and stdin is sys.stdin else stdin.readline()
        except (EOFError, KeyboardInterrupt):
            print(file=stdout)
            return 0
        if not interactive and not line:
            return 0
        if not line.strip():
            continue
        if not interactive:
            print(printable(f"> {line.strip()}"), file=stdout)
        out = handle(line, service, style)
        if out is None:
            return 0
        print(printable(out, styled=style.tty) + "\n", file=stdout, flush=True)
