"""One measurement in a fresh process, so that its peak memory is its own: ``python -m bench.worker TASK``.

Tasks: ``storybot-cold`` (start with an empty cache, then time questions), ``storybot-warm`` (start from the
cache), ``storybot-reload`` (event-loop lag while ``reload_async`` rebuilds the corpus and questions are
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
    from bot.core.service import StoryService
    from bot.core.text import tokenize

    imported = time.perf_counter() - T0
    shutil.rmtree(args.cache, ignore_errors=True)
    t = time.perf_counter()
    service = StoryService.open(args.corpus, cache_dir=args.cache)
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
    from bot.core.service import StoryService

    imported = time.perf_counter() - T0
    t = time.perf_counter()
    service = StoryService.open(args.corpus, cache_dir=args.cache)
    start = time.perf_counter() - t
    service.ask("warm start check")
    return {"engine": "storybot", "passages": len(service.snapshot.passages), "import_s": imported,
            "warm_s": start, "peak_warm_mib": peak_mib()}


def storybot_reload(args) -> dict:
    """Lag of a ticker coroutine while reload_async rebuilds the corpus (no cache: the worst case, then it
    writes the cache), with questions answered on the loop throughout, as the bot would."""
    from bot.core.service import StoryService

    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    service = StoryService.open(args.corpus, cache_dir=args.cache)
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


def rank_bm25(args) -> dict:
    from bot.core.corpus import load_corpus
    from bot.core.index import Params
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
         "rank-bm25": rank_bm25}


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
