"""One measurement in a fresh process, so that its peak memory is its own: ``python -m bench.worker TASK``.

Tasks: ``storybot-cold`` (start with an empty cache, then time questions), ``storybot-warm`` (start from the
cache), ``storybot-prepare`` (an empty cache built for a corpus, nothing else), ``storybot-change`` (start-up,
or ``reload_async``, from a copy of a warm cache after one story of a corpus copy was edited or added: see
bench/reloads.py), ``storybot-spelling`` (spelling correction's cost per question, ordinary and adversarial),
``storybot-reload`` (questions asked open-loop at a fixed rate, and the event loop's lag, while
``reload_async`` rebuilds the corpus from nothing), ``rank-bm25`` (plain BM25Okapi on the same tokens, then
time questions). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()

import numpy as np  # noqa: E402

WARMUP = 20
WRITE_PATIENCE = 600.0
"""How long a task waits for the cache a build writes behind the serving corpus (``Runtime().write``)."""
MISSED_S = 3.0
"""Discord's interaction deadline: an answer later than this is a missed window."""
LEAD_S, TAIL_S = 1.0, 0.5
"""How long questions are asked before a reload starts and after its cache is written."""
BUCKET_S = 0.25
"""The reload's timeline of question latency, in steps of this."""


def peak_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not inherited across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def workers_peak_mib() -> float:
    """The peak resident memory of the largest process this one started and waited for (a build's worker
    processes: VmHWM counts this process alone)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    if not len(ms):
        return {}
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)), "max": float(ms.max()),
            "mean": float(ms.mean()), "n": int(len(ms))}


def time_each(fn, items) -> list[float]:
    for item in items[:WARMUP]:
        fn(item)
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - t)
    return out


def storybot_cold(args) -> dict:
    from bot.archive.runtime import Runtime
    from bot.core.service import StoryService
    from bot.core.text import tokenize

    imported = time.perf_counter() - T0
    shutil.rmtree(args.cache, ignore_errors=True)
    t = time.perf_counter()
    service = StoryService.open(args.corpus, cache_dir=args.cache, runtime=Runtime())
    start = time.perf_counter() - t
    written = written_behind(service)  # before questions are timed: the write would compete with them
    snap = service.snapshot
    questions = json.loads(Path(args.questions).read_text())[: args.n]
    tokens = [tokenize(q) for q in questions]
    index = snap.index
    ask = time_each(service.ask, questions)
    search = time_each(lambda toks: index.search(toks, 5), tokens)
    top = [[(h.index, h.score) for h in index.search(toks, 5)] for toks in tokens[: args.parity]]
    answered = sum(service.ask(q).answered for q in questions)
    return {"engine": "storybot", "passages": len(snap.passages), "stories": len(snap.corpus.documents),
            "events": len(snap.events), "terms": len(index.vocabulary), "import_s": imported, "cold_s": start,
            "cache_write_s": written, "peak_cold_mib": peak_mib(), "peak_workers_mib": workers_peak_mib(),
            "ask": percentiles(ask), "search": percentiles(search),
            "answered": answered, "top5": top}


def storybot_warm(args) -> dict:
    from bot.archive.runtime import Runtime
    from bot.core.service import StoryService

    imported = time.perf_counter() - T0
    t = time.perf_counter()
    service = StoryService.open(args.corpus, cache_dir=args.cache, runtime=Runtime())
    start = time.perf_counter() - t
    service.ask("warm start check")
    peak = peak_mib()
    written_behind(service)  # (none when the cache was warm)
    return {"engine": "storybot", "passages": len(service.snapshot.passages), "import_s": imported,
            "warm_s": start, "peak_warm_mib": peak}


def written_behind(service) -> float | None:
    """Wait for the reloads and cache writes ``service`` still has running; how long that took (s)."""
    t = time.perf_counter()
    if not service.wait_for_reloads(WRITE_PATIENCE):
        raise SystemExit(f"bench: the cache was still being written after {WRITE_PATIENCE:.0f} s")
    return time.perf_counter() - t


class Said(logging.Handler):
    """What the bot logs at INFO and above (which cache it loaded, what it rebuilt, what it reused)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        logger = logging.getLogger("bot")
        logger.setLevel(logging.INFO)
        logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        self.lines.append(text if len(text) <= 300 else text[:300] + "…")


def storybot_prepare(args) -> dict:
    """An empty cache (``--cache``) made to hold ``--corpus``'s snapshot: a cold start, and its cache written."""
    from bot.archive.runtime import Runtime
    from bot.core.service import StoryService

    shutil.rmtree(args.cache, ignore_errors=True)
    said = Said()
    t = time.perf_counter()
    service = StoryService.open(args.corpus, cache_dir=args.cache, runtime=Runtime())
    start = time.perf_counter() - t
    written = written_behind(service)
    return {"engine": "storybot", "passages": len(service.snapshot.passages),
            "stories": len(service.snapshot.corpus.documents), "cold_s": start, "cache_write_s": written,
            "peak_cold_mib": peak_mib(), "peak_workers_mib": workers_peak_mib(), "said": said.lines}


def storybot_change(args) -> dict:
    """Start-up after a moderator's change (``--change`` none, edit or add, made to the corpus copy
    ``--corpus`` of ``--original``), from a copy of the warm cache ``--cache``: ``StoryService.open``
    (``--via open``), or ``reload_async`` of a service that was serving the corpus before the change
    (``--via reload``). The copy of the cache is thrown away after, and the corpus copy put back."""
    from bot.archive.runtime import Runtime
    from bot.core.service import StoryService
    from bot.core.text import tokenize

    from .reloads import CorpusCopy

    corpus = CorpusCopy(args.original, args.corpus)
    cache = Path(tempfile.mkdtemp(prefix="storybot-bench-change-"))
    said = Said()
    try:
        t = time.perf_counter()
        shutil.copytree(args.cache, cache, dirs_exist_ok=True)
        copied = time.perf_counter() - t
        corpus.pristine()
        service = before = None
        if args.via == "reload":
            service = StoryService.open(args.corpus, cache_dir=cache, runtime=Runtime())
            written_behind(service)
            before = len(service.snapshot.passages)
        change = corpus.apply(args.change, args.seed)
        said.lines.clear()
        t = time.perf_counter()
        if args.via == "open":
            service = StoryService.open(args.corpus, cache_dir=cache, runtime=Runtime())
            report = None
        else:
            report = asyncio.run(service.reload_async())
        took = time.perf_counter() - t
        peak = peak_mib()
        written = written_behind(service)
        snap = service.snapshot
        if change is not None:  # the change is served: in the story, in the index, found by a search
            doc = snap.documents.get(change.story)
            tokens = tokenize(change.words)
            hits = snap.index.search(tokens, 5)
            if (doc is None or change.words not in " ".join(doc.paragraphs)
                    or any(t not in snap.index.vocabulary for t in tokens)
                    or not any(snap.passages[h.index].id.rpartition("#")[0] == change.story for h in hits)):
                raise SystemExit(f"bench: after the {change.kind} of {change.file} the new corpus does not serve it")
    finally:
        corpus.pristine()
        shutil.rmtree(cache, ignore_errors=True)
    out = {"engine": "storybot", "change": args.change, "via": args.via, "seconds": took,
           "cache_write_s": written, "cache_copy_s": copied, "peak_mib": peak, "peak_workers_mib": workers_peak_mib(),
           "passages": len(snap.passages), "stories": len(snap.corpus.documents), "said": said.lines}
    if change is not None:
        out.update(file=change.file, story=change.story)
    if report is not None:
        out.update(passages_before=before, reported_s=report.seconds, stories_edited=list(report.stories_edited),
                   stories_added=list(report.stories_added), passages_added=report.passages_added,
                   passages_edited=report.passages_edited)
    return out


def storybot_reload(args) -> dict:
    """``StoryService.ask`` called open-loop at ``--rate`` questions a second (each at its scheduled time,
    its latency counted from then, so a stalled loop counts against it) from ``LEAD_S`` before a
    ``reload_async`` until ``TAIL_S`` after the cache it writes is written; the reload has an empty cache
    (the worst case a moderator can cause: a full rebuild). A 5 ms ticker measures the loop's lag meanwhile."""
    from bot.archive.runtime import Runtime
    from bot.core.service import StoryService

    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    service = StoryService.open(args.corpus, cache_dir=args.cache, runtime=Runtime())
    written_behind(service)
    fresh = Path(tempfile.mkdtemp(prefix="storybot-bench-cache-"))
    service.cache_dir = fresh  # an empty cache: the reload parses, tokenizes, indexes and writes it
    said = Said()
    questions = json.loads(Path(args.questions).read_text())
    for q in questions[:WARMUP]:  # the first answers build what answers keep (the speller's tables, ...)
        service.ask(q)
    rate = args.rate

    async def main() -> dict:
        ticks: list[tuple[float, float]] = []
        asked: list[tuple[float, float, float, bool, bool]] = []  # due, started, done, ok, answered
        stop_at = math.inf
        interval = 0.005

        async def ticker() -> None:
            while time.perf_counter() < stop_at:
                t = time.perf_counter()
                await asyncio.sleep(interval)
                ticks.append((t, time.perf_counter() - t - interval))

        async def asker() -> None:
            first = time.perf_counter()
            i = 0
            while (due := first + i / rate) <= stop_at:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))  # behind: still yield, as tasks do
                started = time.perf_counter()
                try:
                    ok, answered = True, service.ask(questions[i % len(questions)]).answered
                except Exception:  # noqa: BLE001 - counted: none may fail
                    ok, answered = False, False
                asked.append((due, started, time.perf_counter(), ok, answered))
                i += 1

        tasks = [asyncio.create_task(ticker()), asyncio.create_task(asker())]
        await asyncio.sleep(LEAD_S)
        began = time.perf_counter()
        report = await service.reload_async()
        ended = time.perf_counter()
        await asyncio.to_thread(written_behind, service)
        written = time.perf_counter()
        stop_at = written + TAIL_S
        await asyncio.gather(*tasks)

        def window(lo: float, hi: float) -> dict:
            qs = [q for q in asked if lo <= q[0] <= hi]
            latency = [done - due for due, _, done, _, _ in qs]
            return {"questions": len(qs), "failed": sum(not q[3] for q in qs), "answered": sum(q[4] for q in qs),
                    "latency": percentiles(latency), "missed": sum(x > MISSED_S for x in latency),
                    "ask": percentiles([done - started for _, started, done, _, _ in qs])}

        during = window(began, ended)
        timeline = []  # what members felt second by second: [since the reload began (s), asked, p50, max (ms)]
        for k in range(math.floor(-LEAD_S / BUCKET_S), math.ceil((stop_at - began) / BUCKET_S)):
            lo = began + k * BUCKET_S
            lat = [(done - due) * 1e3 for due, _, done, _, _ in asked if lo <= due < lo + BUCKET_S]
            if lat:
                timeline.append([round(k * BUCKET_S, 2), len(lat), round(float(np.median(lat)), 2),
                                 round(max(lat), 2)])
        return {"reload_s": ended - began, "cache_write_s": written - ended,
                "lag": percentiles([lag for t, lag in ticks if began <= t <= ended]),
                "ticks": sum(began <= t <= ended for t, _ in ticks),
                # the figures the table has shown since before the open-loop asker: questions in the reload
                "questions": during["questions"], "failed": during["failed"], "answered": during["answered"],
                "ask_during": during["ask"], "during": during, "until_written": window(began, written),
                "before": window(-math.inf, began), "rate": rate, "timeline": timeline, "timeline_step_s": BUCKET_S,
                "changed": report.changed, "passages_total": report.passages_total}

    try:
        out = asyncio.run(main())
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    out.update(engine="storybot", switch_interval=sys.getswitchinterval(), peak_reload_mib=peak_mib(),
               peak_workers_mib=workers_peak_mib(), said=said.lines)
    return out


def adversarial_questions(vocabulary, kind: str, count: int, seed: int, chars: int = 300) -> list[str]:
    """``count`` questions of ``chars`` characters built to make spelling correction work hard: story words
    with their letters shuffled (``shuffled``: the first letter kept, so each lands among its neighbours;
    ``anagrams``: all shuffled), one typo in each word (``typos``), or the words that cost the most to look up
    (``hunted``: the worst 200 of 10,000 shuffled and misspelt words)."""
    import random

    from bot.archive.spelling import Speller
    from bot.core.text import stem

    rnd = random.Random(seed)
    known = set(vocabulary)
    words = [w for w in vocabulary if w.isalpha() and len(w) >= 5]

    def shuffle(w: str, keep_first: bool) -> str:
        rest = list(w[1:] if keep_first else w)
        rnd.shuffle(rest)
        return (w[0] if keep_first else "") + "".join(rest)

    def typo(w: str) -> str:
        i = rnd.randrange(len(w))
        c = rnd.choice("abcdefghijklmnopqrstuvwxyz")
        return rnd.choice([w[:i] + w[i + 1:], w[:i] + c + w[i:], w[:i] + c + w[i + 1:],
                           w[:i] + w[i + 1:i + 2] + w[i:i + 1] + w[i + 2:]])

    if kind == "hunted":  # the words that cost the most to look up: most exact ratios, then most candidates
        speller = Speller(vocabulary)
        tried = {stem(f(w)) for w in rnd.sample(words, min(5000, len(words)))
                 for f in (lambda w: shuffle(w, True), typo)}
        work = {}
        for t in sorted(tried - known):
            speller.correct(t)
            work[t] = speller.work[::-1]
        pool = sorted(work, key=lambda t: (work[t], len(t)), reverse=True)[:200]
    else:
        pool = None
    out = []
    for _ in range(count):
        picked: list[str] = []
        while len(" ".join(picked)) < chars:
            if pool is not None:
                picked.append(rnd.choice(pool))
            else:
                w = rnd.choice(words)
                picked.append(typo(w) if kind == "typos" else shuffle(w, kind == "shuffled"))
        out.append(" ".join(picked)[:chars])
    return out


def best_of(fn, items, repeats: int = 3) -> list[float]:
    """Each item's best time of ``repeats`` (on a shared machine, a pause is not the item's cost)."""
    for item in items[:WARMUP]:
        fn(item)
    out = []
    for item in items:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn(item)
            times.append(time.perf_counter() - t)
        out.append(min(times))
    return out


def at_the_caps(vocabulary) -> tuple[object, list[str], tuple[int, int]]:
    """A speller over ``vocabulary`` plus words made so that each of ``MAX_WORDS`` question words costs the
    most the bounds allow: per word, anagrams that pass the letter bound and fail the subsequence bound (up to
    ``MAX_TRIED`` candidates looked at), then transpositions whose exact ratio is computed (``MAX_RATIOS``).
    Returns the speller, the question's words, and the work the first word took."""
    import random

    from bot.archive.spelling import MAX_RATIOS, MAX_TRIED, MAX_WORDS, Speller

    rnd = random.Random(5)
    extra, terms = [], []
    for k in range(MAX_WORDS):
        rest = rnd.sample("abcdefghijklmnoprstuvwxyz", 13)
        term = "q" + "".join(rest)
        anagrams: set[str] = set()
        while len(anagrams) < MAX_TRIED - MAX_RATIOS:
            rnd.shuffle(rest)
            anagrams.add("q" + "".join(rest))
        anagrams.discard(term)
        swaps = [term[:i] + term[i + 1] + term[i] + term[i + 2:] for i in range(1, 13)]
        extra += sorted(anagrams) + swaps
        terms.append(term)
    speller = Speller([*vocabulary, *extra])
    speller.correct(terms[0])
    return speller, terms, speller.work


def storybot_spelling(args) -> dict:
    """Spelling correction's cost per question (``Bm25Index.corrections`` with nothing remembered), for the
    bench questions and for adversarial ones; and the whole answer to the worst of those."""
    from bot.archive.runtime import Runtime
    from bot.core.service import StoryService
    from bot.core.text import tokenize

    service = StoryService.open(args.corpus, cache_dir=args.cache, runtime=Runtime())
    index = service.snapshot.index
    vocabulary = list(index.vocabulary)

    def corrections(toks):
        index._speller.forget()
        index.corrections(toks)

    normal = [tokenize(q) for q in json.loads(Path(args.questions).read_text())[: args.n]]
    out = {"engine": "storybot", "passages": len(service.snapshot.passages), "terms": len(vocabulary),
           "spelling": {"questions": percentiles(best_of(corrections, normal))}}
    worst = ("", -1.0, [])
    for kind in ("typos", "anagrams", "shuffled", "hunted"):
        questions = adversarial_questions(vocabulary, kind, args.n, seed=11)
        timed = best_of(corrections, [tokenize(q) for q in questions])
        out["spelling"][kind] = percentiles(timed)
        work = (0, 0)
        for toks in [tokenize(q) for q in questions[:50]]:
            for t in toks:
                if t not in index.vocabulary:
                    index._speller.forget()
                    index.correct(t)
                    work = max(work, index._speller.work[::-1])
        out["spelling"][kind]["most_ratios_per_word"], out["spelling"][kind]["most_candidates_per_word"] = work
        if out["spelling"][kind]["p99"] > worst[1]:
            worst = (kind, out["spelling"][kind]["p99"], questions)
    kind, _, questions = worst

    speller, terms, work = at_the_caps(vocabulary)

    def capped(ts):
        speller.forget()
        speller.correct_all(ts, known=())

    out["spelling"]["caps"] = percentiles(best_of(capped, [terms] * 100))
    out["spelling"]["caps"]["most_candidates_per_word"], out["spelling"]["caps"]["most_ratios_per_word"] = work

    def ask(q):
        index._speller.forget()
        service.ask(q)

    out["spelling"]["worst"] = kind
    out["spelling"]["ask_worst"] = percentiles(time_each(ask, questions))
    return out


def rank_bm25(args) -> dict:
    from bot.core.corpus import load_corpus
    from bot.archive.index import Params
    from bot.core.passages import passages
    from bot.core.text import tokenize

    imported = time.perf_counter() - T0
    t = time.perf_counter()
    corpus = load_corpus(args.corpus)
    loaded = time.perf_counter()
    tokenized = [tokenize(p.text) for doc in corpus.documents for p in passages(doc)]
    tokens_done = time.perf_counter()
    bm25 = Params().reference(tokenized)  # BM25Okapi, k1=1.5, b=0.75, epsilon=0.25: the index's params
    built = time.perf_counter()
    n = len(tokenized)
    del tokenized
    start = time.perf_counter() - t
    questions = json.loads(Path(args.questions).read_text())[: args.n]
    tokens = [tokenize(q) for q in questions]

    def search(toks):  # what plain rank-bm25 use does: get_top_n's scoring and sort
        scores = bm25.get_scores(toks)
        return np.argsort(scores)[::-1][:5]

    global WARMUP
    WARMUP = min(WARMUP, max(1, len(tokens) // 10))
    timed = time_each(search, tokens)
    top = []
    for toks in tokens[: args.parity]:  # the same top 5, ties in passage order (not timed)
        scores = bm25.get_scores(toks)
        best = np.lexsort((np.arange(n), -scores))[:5]
        top.append([(int(i), float(scores[i])) for i in best if scores[i] > 0])  # passages with a query word
    return {"engine": "rank-bm25", "passages": n, "import_s": imported, "cold_s": start,
            "load_s": loaded - t, "tokenize_s": tokens_done - loaded, "construct_s": built - tokens_done,
            "peak_cold_mib": peak_mib(), "search": percentiles(timed), "top5": top}


TASKS = {"storybot-cold": storybot_cold, "storybot-warm": storybot_warm, "storybot-prepare": storybot_prepare,
         "storybot-change": storybot_change, "storybot-reload": storybot_reload,
         "storybot-spelling": storybot_spelling, "rank-bm25": rank_bm25}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--n", type=int, default=500, help="questions to time")
    parser.add_argument("--parity", type=int, default=0, help="questions whose top 5 to report")
    parser.add_argument("--switch-interval", type=float, default=0.0)
    parser.add_argument("--rate", type=float, default=200.0, help="storybot-reload: questions a second")
    parser.add_argument("--original", type=Path, help="storybot-change: the corpus that --corpus is a copy of")
    parser.add_argument("--change", choices=("none", "edit", "add"), default="none")
    parser.add_argument("--via", choices=("open", "reload"), default="open")
    parser.add_argument("--seed", type=int, default=7, help="storybot-change: the archive's seed (its words)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    result = TASKS[args.task](args)
    result["task"] = args.task
    result["load_average"] = [load_before, os.getloadavg()[0]]  # other work on the machine skews timings
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
