"""storybot's command line: argv -> Settings -> logging -> StoryService -> the chosen command."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from .console import (Style, render_answer, render_corpus_error, render_sources,
                      render_timeline, run_console)
from .core.answer import Answer, Quote
from .core.corpus import CorpusError
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


def _dump(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def cmd_ask(args: argparse.Namespace, service: StoryService) -> int:
    style = Style(sys.stdout.isatty())
    if args.question == ["-"]:
        questions = (line.rstrip("\n") for line in sys.stdin)
    else:
        questions = iter([" ".join(args.question)])
    for question in questions:
        ans = service.ask(question, story=args.story)
        if args.json:
            _dump(answer_json(ans))
        else:
            print(render_answer(ans, style) + "\n")
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
        print(render_timeline(events, Style(sys.stdout.isatty()), limit=len(events) or 1))
    return 0


def cmd_sources(args: argparse.Namespace, service: StoryService) -> int:
    sources = service.sources()
    if args.json:
        _dump({"documents": [
            {"id": s.id, "title": s.title, "published": s.published, "url": s.url, "passages": s.passages}
            for s in sources
        ]})
    else:
        print(render_sources(sources, Style(sys.stdout.isatty())))
    return 0


def cmd_check(args: argparse.Namespace, service: StoryService) -> int:
    snap = service.snapshot
    print(f"OK: {len(snap.corpus.documents)} stories, {len(snap.passages)} passages, "
          f"{len(snap.events)} timeline events in {args.corpus}/")
    return 0


def cmd_eval(args: argparse.Namespace, service: StoryService) -> int:
    from .evaluate import Score, evaluate

    service.semantic = not args.lexical
    scores = evaluate(service, *args.questions, baseline=not args.no_baseline)
    print(Score.header())
    for s in scores:
        print(s.row())
    if args.verbose:
        for s in scores:
            if s.engine != "storybot":
                continue
            for miss in s.misses:
                print(f"  {s.set} ({s.engine}): {miss}")
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from .console import render_stats
    from .core.record import Record, RecordUnavailable

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
        print(render_stats(stats, Style(sys.stdout.isatty())))
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"storybot: {exc}", file=sys.stderr)
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
        service = StoryService.open(args.corpus, cache_dir=settings.cache_dir)
    except CorpusError as exc:
        print(render_corpus_error(exc), file=sys.stderr)
        return 1
    if args.command == "console":
        return run_console(service)
    return COMMANDS[args.command](args, service)


if __name__ == "__main__":
    sys.exit(main())
