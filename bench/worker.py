"""One measurement in a fresh process, so that its peak memory is its own: ``python -m bench.worker TASK``.

Tasks: ``storybot-cold`` (start with an empty cache, then time questions), ``storybot-warm`` (start from the
cache), ``storybot-spelling`` (spelling correction's cost per question, ordinary and adversarial),
``storybot-reload`` (event-loop lag while ``reload_async`` rebuilds the corpus and questions are
answered), ``rank-bm25`` (plain BM25Okapi on the same tokens, then time questions). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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


def peak_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not inherited across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
            "peak_cold_mib": peak_mib(), "ask": percentiles(ask), "search": percentiles(search),
            "answered": answered, "top5": top}


def storybot_warm(args) -> dict:
    from bot.archive.runtime import Runtime
    from bot.core.service import StoryService

    imported = time.perf_counter() - T0
    t = time.perf_counter()
    service = StoryService.open(args.corpus, cache_dir=args.cache, runtime=Runtime())
    start = time.perf_counter() - t
    service.ask("warm start check")
    return {"engine": "storybot", "passages": len(service.snapshot.passages), "import_s": imported,
            "warm_s": start, "peak_warm_mib": peak_mib()}


def storybot_reload(args) -> dict:
    """Lag of a ticker coroutine while reload_async rebuilds the corpus (no cache: the worst case, then it
    writes the cache), with questions answered on the loop throughout, as the bot would."""
    from bot.archive.runtime import Runtime
    from bot.core.service import StoryService

    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    service = StoryService.open(args.corpus, cache_dir=args.cache, runtime=Runtime())
    fresh = Path(tempfile.mkdtemp(prefix="storybot-bench-cache-"))
    service.cache_dir = fresh  # an empty cache: the reload parses, tokenizes, indexes and writes it
    questions = json.loads(Path(args.questions).read_text())

    async def main() -> dict:
        ticks: list[tuple[float, float]] = []
        asked: list[tuple[float, float, bool, bool]] = []
        stop = asyncio.Event()
        interval = 0.005

        async def ticker() -> None:
            while not stop.is_set():
                t = time.perf_counter()
                await asyncio.sleep(interval)
                ticks.append((t, time.perf_counter() - t - interval))

        async def asker() -> None:
            i = 0
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    ok, answered = True, service.ask(questions[i % len(questions)]).answered
                except Exception:  # noqa: BLE001 - counted: none may fail
                    ok, answered = False, False
                asked.append((t, time.perf_counter() - t, ok, answered))
                i += 1
                await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(ticker()), asyncio.create_task(asker())]
        await asyncio.sleep(0.5)
        began = time.perf_counter()
        report = await service.reload_async()
        ended = time.perf_counter()
        stop.set()
        await asyncio.gather(*tasks)
        during = [lag for t, lag in ticks if began <= t <= ended]
        qs = [(dt, ok, a) for t, dt, ok, a in asked if began <= t <= ended]
        lag = percentiles(during)
        return {"reload_s": ended - began, "lag": lag, "ticks": len(during),
                "questions": len(qs), "failed": sum(not ok for _, ok, _ in qs),
                "answered": sum(a for _, _, a in qs), "ask_during": percentiles([dt for dt, _, _ in qs]),
                "changed": report.changed, "passages_total": report.passages_total}

    try:
        out = asyncio.run(main())
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    out.update(engine="storybot", switch_interval=sys.getswitchinterval(), peak_reload_mib=peak_mib())
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
    tokenized = [tokenize(p.text) for doc in corpus.documents for p in passages(doc)]
    bm25 = Params().reference(tokenized)  # BM25Okapi, k1=1.5, b=0.75, epsilon=0.25: the index's params
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
            "peak_cold_mib": peak_mib(), "search": percentiles(timed), "top5": top}


TASKS = {"storybot-cold": storybot_cold, "storybot-warm": storybot_warm, "storybot-reload": storybot_reload,
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
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    result = TASKS[args.task](args)
    result["task"] = args.task
    result["load_average"] = [load_before, os.getloadavg()[0]]  # other work on the machine skews timings
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
