"""storybot's command line: argv -> Settings -> logging -> StoryService -> the chosen command."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Iterator, Sequence

from .console import (Style, render_answer, render_corpus_error, render_sources,
                      render_timeline, run_console)
from .core.answer import Answer, Quote
from .core.corpus import CorpusError, ignored_stories
from .display import printable, shown
from .archive.runtime import Runtime
from .core.service import StoryService
from .settings import Settings, SettingsError, load_settings

log = logging.getLogger("bot")


def answer_json(ans: Answer) -> dict:
    return {
        "question": ans.question,
        "answered": ans.answered,
        "passages": [_quote_json(q) for q in ans.quotes],
        "nearest": [_quote_json(q) for q in ans.nearest],
    }


def _quote_json(q: Quote) -> dict:
    return {
        "id": q.passage.id,
        "doc_id": q.passage.doc_id,
        "paragraph": q.passage.paragraph,
        "text": q.passage.text,
        "score": round(q.score, 6),
        "title": q.document.title,
        "url": q.document.url,
    }


_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


def json_line(obj: object) -> str:
    """One line of JSON, UTF-8 text as it is, except what readers take for a line break (U+2028, U+2029,
    U+0085): escaped, so that a line of output is always one object."""
    text = json.dumps(obj, ensure_ascii=False)
    for char, escape in _LINE_BREAKS.items():
        text = text.replace(char, escape)
    return text


def _dump(obj: object) -> None:
    """JSON output is UTF-8, whatever the terminal's encoding."""
    line = json_line(obj) + "\n"
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(line)
    else:
        sys.stdout.flush()
        buffer.write(line.encode("utf-8", "replace"))
        buffer.flush()


def _show(text: str, style: Style | None = None, *, file=None) -> None:
    """Print text from stories, questions or file names with its control characters escaped."""
    print(printable(text, styled=bool(style and style.tty)), file=file or sys.stdout)


def stdin_lines() -> Iterator[str]:
    """Standard input, one question a line: split on newlines only (not on the other characters Python
    takes for line breaks), anything that is not UTF-8 replaced."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream (tests)
        for line in sys.stdin:
            yield line.rstrip("\n").removesuffix("\r")
        return
    for raw in stream:
        yield raw.rstrip(b"\n").removesuffix(b"\r").decode("utf-8", "replace")


def cmd_ask(args: argparse.Namespace, service: StoryService) -> int:
    style = Style(sys.stdout.isatty())
    if args.question == ["-"]:
        questions = stdin_lines()
    else:
        questions = iter([" ".join(args.question)])
    for question in questions:
        ans = service.ask(question, story=args.story)
        if args.json:
            _dump(answer_json(ans))
        else:
            _show(render_answer(ans, style) + "\n", style)
        sys.stdout.flush()
    return 0


def cmd_timeline(args: argparse.Namespace, service: StoryService) -> int:
    year, contains = args.year, args.contains
    events = service.timeline(year=year, contains=contains)
    if args.json:
        _dump({"events": [
            {"date": str(e.date), "precision": e.date.precision, "text": e.text,
             "passage_id": e.passage_id, "doc_id": e.doc_id}
            for e in events
        ]})
    else:
        style = Style(sys.stdout.isatty())
        _show(render_timeline(events, style, limit=len(events) or 1), style)
    return 0


def cmd_sources(args: argparse.Namespace, service: StoryService) -> int:
    sources = service.sources()
    if args.json:
        _dump({"documents": [
            {"id": s.id, "title": s.title, "published": s.published, "url": s.url, "passages": s.passages}
            for s in sources
        ]})
    else:
        style = Style(sys.stdout.isatty())
        _show(render_sources(sources, style), style)
    return 0


def cmd_check(args: argparse.Namespace, service: StoryService) -> int:
    snap = service.snapshot
    for warning in ignored_stories(args.corpus):
        _show(f"warning: {warning}", file=sys.stderr)
    _show(f"OK: {len(snap.corpus.documents)} stories, {len(snap.passages)} passages, "
          f"{len(snap.events)} timeline events in {shown(str(args.corpus), 200)}/")
    return 0


def cmd_eval(args: argparse.Namespace, service: StoryService) -> int:
    from .evaluate import QuestionSet, QuestionSetError, Score, evaluate

    service.semantic = not args.lexical
    try:
        for path in args.questions:
            qs = QuestionSet.load(path)
            missing = [story for story in qs.stories if not story.is_file()]
            if missing:
                raise QuestionSetError(f"{shown(str(path), 120)} lists the story file {shown(str(missing[0]), 120)}, "
                                       "which does not exist")
            if not qs.stories and qs.story not in service.snapshot.documents:
                raise QuestionSetError(f"{shown(str(path), 120)} is about the story '{shown(qs.story)}', which "
                                       "is not in the corpus (`./dev sources` lists the story ids)")
    except QuestionSetError as exc:
        _show(f"storybot: {exc}.", file=sys.stderr)
        return 2
    try:
        scores = evaluate(service, *args.questions, baseline=not args.no_baseline)
    except CorpusError as exc:  # a set's own stories
        _show(render_corpus_error(exc), file=sys.stderr)
        return 1
    _show(Score.header())
    for s in scores:
        _show(s.row())
    if args.verbose:
        for s in scores:
            if s.engine != "storybot":
                continue
            for miss in s.misses:
                _show(f"  {s.set} ({s.engine}): {miss}")
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from .console import render_stats
    from .record import Record, RecordUnavailable

    async def read():
        record = Record.open(settings.data_dir, **settings.record_options())
        try:
            return await record.stats(days=args.days, top=args.top)
        finally:
            await record.close()

    try:
        stats = asyncio.run(read())
    except RecordUnavailable:
        print("storybot: the record database is unavailable (see the error above).", file=sys.stderr)
        return 1
    if args.json:
        _dump(stats.to_json())
    else:
        style = Style(sys.stdout.isatty())
        _show(render_stats(stats, style), style)
    return 0


def cmd_discord(args: argparse.Namespace, settings: Settings) -> int:
    from .exts import launcher  # imports discord only when the Discord commands are used

    return launcher.main(args.command, settings, args)


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"a number of days, 1 or more (got {value!r})")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storybot", description="Answers questions about a news story by quoting it.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", type=Path, default=None, metavar="DIR",
                        help="the corpus folder (default: CORPUS_DIR or corpus/)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("run", parents=[common], help="run the Discord bot (needs DISCORD_TOKEN)")
    sync = sub.add_parser("sync", parents=[common], help="publish the slash commands to Discord globally, then exit")
    sync.add_argument("--guild", type=int, default=None, help="sync to this guild only (instant)")
    sub.add_parser("invite", parents=[common], help="print the link that adds the bot to a server")
    sub.add_parser("console", parents=[common], help="ask questions in the terminal, as on Discord")

    ask = sub.add_parser("ask", parents=[common], help="answer one question ('-' reads one a line from stdin)")
    ask.add_argument("question", nargs="+")
    ask.add_argument("--story", default=None, metavar="ID", help="ask this story only (ids: `sources`)")
    ask.add_argument("--json", action="store_true", help="machine-readable output")

    tl = sub.add_parser("timeline", parents=[common], help="the dated events of the stories")
    tl.add_argument("--year", type=int, default=None)
    tl.add_argument("--contains", default=None, metavar="WORD")
    tl.add_argument("--json", action="store_true")

    src = sub.add_parser("sources", parents=[common], help="the stories loaded")
    src.add_argument("--json", action="store_true")

    sub.add_parser("check", parents=[common], help="validate the corpus; exit 1 with its errors")

    st = sub.add_parser("stats", parents=[common], help="what members asked, what went unanswered, what was voted down")
    st.add_argument("--days", type=_positive, default=None, metavar="N",
                    help="only the last N days (default: all time)")
    st.add_argument("--top", type=int, default=10, metavar="K", help="list at most K groups and answers (default 10)")
    st.add_argument("--json", action="store_true")

    ev = sub.add_parser("eval", parents=[common], help="score answers on question sets, beside plain rank-bm25")
    ev.add_argument("questions", nargs="*", type=Path, metavar="QUESTIONS.yaml",
                    help="question sets (default: tests/data/questions/*.yaml and ../shared/benchmarks/squad2)")
    ev.add_argument("--no-baseline", action="store_true", help="skip the plain rank-bm25 baseline")
    ev.add_argument("--lexical", action="store_true", help="BM25 alone, without the semantic stage")
    ev.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    return parser


COMMANDS = {"ask": cmd_ask, "timeline": cmd_timeline, "sources": cmd_sources, "check": cmd_check, "eval": cmd_eval}


def _forgiving_streams() -> None:
    """Text that cannot be encoded or decoded is replaced, never a traceback halfway through the output."""
    for stream, errors in ((sys.stdout, "backslashreplace"), (sys.stderr, "backslashreplace"),
                           (sys.stdin, "replace")):
        try:
            stream.reconfigure(errors=errors)  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass


def main(argv: Sequence[str] | None = None) -> int:
    _forgiving_streams()
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        _show(f"storybot: {exc}", file=sys.stderr)
        return 2
    if args.corpus is None:
        args.corpus = settings.corpus_dir

    if args.command in ("run", "sync", "invite"):
        return cmd_discord(args, settings)

    # the terminal commands print their results; the log only says what went wrong (or everything at DEBUG)
    logging.basicConfig(level="DEBUG" if settings.log_level == "DEBUG" else "WARNING",
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command == "stats":  # reads the record, not the corpus
        return cmd_stats(args, settings)
    try:
        service = StoryService.open(args.corpus, cache_dir=settings.cache_dir, runtime=Runtime())
    except CorpusError as exc:
        _show(render_corpus_error(exc), file=sys.stderr)
        return 1
    if args.command == "console":
        return run_console(service)
    return COMMANDS[args.command](args, service)


if __name__ == "__main__":
    sys.exit(main())
