"""Runs every measurement, storybot and plain rank-bm25 side by side, and writes bench/results/.

For each size it generates (once, then reuses) a synthetic archive in bench/data/, then runs each
engine in fresh processes (bench/worker.py): start-up cold and warm, peak memory, question latency and
top-5 parity; start-up after one story is edited or added; and questions asked at 200 a second, and the
event loop's lag, while a reload rebuilds the corpus. Results: results.md (the tables), latency.png (search
latency against archive size, log-log) and results.json (every number).

The archives in bench/data may be shared (a worktree's bench/data can be a link to one folder): they are
only read. storybot reads a copy of each made of hard links (bench/reloads.py), which the edits change, and
its cache; both are named after ``--tag`` (the checkout's folder name), so two checkouts never share them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .reloads import ADDED_PARAGRAPHS, CorpusCopy
from .synth import generate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_SIZES = (1_000, 10_000, 100_000, 300_000)


def parse_sizes(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        if not part:
            continue
        scale = 1_000 if part.endswith("k") else 1
        out.append(int(float(part.rstrip("k")) * scale))
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=parse_sizes, default=list(DEFAULT_SIZES),
                   help="archive sizes in passages, comma-separated (default 1k,10k,100k,300k)")
    p.add_argument("--quick", action="store_true", help="a smoke run: sizes 1k,10k and fewer questions")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--questions", type=int, default=500, help="questions timed per size for storybot")
    p.add_argument("--ref-questions", type=int, default=200, help="questions timed for rank-bm25")
    p.add_argument("--ref-questions-large", type=int, default=50,
                   help="questions timed for rank-bm25 from 200k passages up (each takes ~0.5 s)")
    p.add_argument("--engines", default="storybot,rank-bm25")
    p.add_argument("--no-reload", action="store_true",
                   help="skip the full reload (questions at --rate a second and the event-loop lag meanwhile)")
    p.add_argument("--reloads-only", action="store_true",
                   help="only measure what reloads cost (start-up cold, warm, after one story edited or added; "
                        "questions during a full reload; rank-bm25's construction), keeping the other figures of "
                        "the last results.json")
    p.add_argument("--rate", type=float, default=200.0, help="questions a second during the full reload (200)")
    p.add_argument("--repeats", type=int, default=3,
                   help="fresh processes for each of warm, edited, added (their median is reported; default 3)")
    p.add_argument("--spelling-only", action="store_true",
                   help="only measure spelling correction (ordinary and adversarial questions), keeping the other "
                        "figures of the last results.json")
    p.add_argument("--switch-interval", type=float, default=0.0,
                   help="sys.setswitchinterval for the reload measurement (default: Python's 5 ms)")
    p.add_argument("--report-only", action="store_true",
                   help="only rewrite results.md and latency.png from the last results.json")
    p.add_argument("--data", type=Path, default=HERE / "data")
    p.add_argument("--tag", default=ROOT.name,
                   help="names this checkout's corpus copies and caches in --data, <tag>-corpus-<size>-s<seed> and "
                        "<tag>-cache-<size>-s<seed> (default: the checkout's folder name)")
    p.add_argument("--out", type=Path, default=HERE / "results")
    return p


def worker(task: str, corpus: Path, questions: Path, cache: Path, *extra: str) -> dict:
    cmd = [sys.executable, "-m", "bench.worker", task, "--corpus", str(corpus), "--questions", str(questions),
           "--cache", str(cache), *extra]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench: {task} failed:\n{done.stderr[-4000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_s"] = time.perf_counter() - started
    return out


def spelling(corpus: Path, questions: Path, cache: Path, args: argparse.Namespace) -> dict:
    out = worker("storybot-spelling", corpus, questions, cache, "--n", str(min(args.questions, 300)))
    sp = out["spelling"]
    worst = max((k for k in sp if isinstance(sp[k], dict) and "max" in sp[k] and k != "ask_worst"),
                key=lambda k: sp[k]["max"])
    print(f"  storybot: spelling correction per question p99 {sp['questions']['p99']:.3f} ms (bench questions); "
          f"adversarial worst case ({worst}) p99 {sp[worst]['p99']:.3f} ms, max {sp[worst]['max']:.3f} ms",
          flush=True)
    return {**sp, "terms": out["terms"], "load_average": out["load_average"]}


def reloads(copy: CorpusCopy, questions: Path, cache: Path, args: argparse.Namespace, cold: dict | None = None) -> dict:
    """Start-up after one story is edited or added, beside a warm start: each in a fresh process, from a copy
    of the warm cache ``cache`` (made by ``cold``, the cold start just run, or by a cold start now)."""
    if cold is None:
        cold = worker("storybot-prepare", copy.folder, questions, cache)
        print(f"  storybot: cold start {cold['cold_s']:.2f} s (the cache for what follows)", flush=True)
    out: dict = {"cold_s": cold["cold_s"], "load_average": list(cold["load_average"]), "repeats": args.repeats}
    kinds = (("warm", "none", "open"), ("edited", "edit", "open"), ("added", "add", "open"),
             ("edited_reload", "edit", "reload"))
    for _ in range(args.repeats):  # round after round, so that the machine's other work weighs on every kind
        for key, change, via in kinds:
            copy.pristine()
            try:
                got = worker("storybot-change", copy.folder, questions, cache, "--original", str(copy.original),
                             "--change", change, "--via", via, "--seed", str(args.seed))
            finally:
                copy.pristine()
            out.setdefault(key, {**got, "runs": []})["runs"].append(got["seconds"])
            out["load_average"] += got["load_average"]
    for key, _, _ in kinds:
        out[key]["seconds"] = statistics.median(out[key]["runs"])
    warm = out["warm"]
    for key, more in (("edited", 0), ("added", ADDED_PARAGRAPHS), ("edited_reload", 0)):
        if out[key]["passages"] != warm["passages"] + more:
            raise SystemExit(f"bench: {key}: {out[key]['passages']} passages served, not {warm['passages'] + more}")
    print(f"  storybot (median of {args.repeats}): warm {warm['seconds']:.2f} s; "
          f"one story edited {out['edited']['seconds']:.2f} s "
          f"({out['edited']['seconds'] - warm['seconds']:+.2f} s), by /reload {out['edited_reload']['seconds']:.2f} s; "
          f"one story added {out['added']['seconds']:.2f} s ({out['added']['seconds'] - warm['seconds']:+.2f} s)",
          flush=True)
    for key in ("warm", "edited", "added", "edited_reload"):
        for line in out[key]["said"]:
            print(f"    {key}: {line[:200]}", flush=True)
    return out


def full_reload(corpus: Path, questions: Path, cache: Path, args: argparse.Namespace) -> dict:
    extra = ["--switch-interval", str(args.switch_interval)] if args.switch_interval else []
    got = worker("storybot-reload", corpus, questions, cache, "--rate", str(args.rate), *extra)
    w = got["until_written"]
    print(f"  storybot: full reload {got['reload_s']:.1f} s (cache written {got['cache_write_s']:.1f} s after); "
          f"{w['questions']} questions at {args.rate:g}/s until then: latency p50 {w['latency']['p50']:.1f} ms "
          f"p99 {w['latency']['p99']:.1f} ms max {w['latency']['max']:.1f} ms, {w['missed']} later than 3 s, "
          f"{w['failed']} failed; loop lag p99 {got['lag']['p99']:.1f} ms max {got['lag']['max']:.1f} ms", flush=True)
    for line in got["said"]:
        print(f"    full reload: {line[:200]}", flush=True)
    return got


def parity(ours: list, ref: list) -> dict:
    """Same passages in the same order with the same scores (bit for bit), question by question."""
    same = sum(1 for a, b in zip(ours, ref) if [tuple(x) for x in a] == [tuple(x) for x in b])
    close = sum(1 for a, b in zip(ours, ref)
                if [i for i, _ in a] == [i for i, _ in b]
                and all(abs(x - y) <= 1e-9 * max(1.0, abs(y)) for (_, x), (_, y) in zip(a, b)))
    return {"compared": min(len(ours), len(ref)), "identical": same, "same_ids": close}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.sizes = [1_000, 10_000] if args.sizes == list(DEFAULT_SIZES) else args.sizes
        args.questions, args.ref_questions = min(args.questions, 200), min(args.ref_questions, 200)
    engines = {e.strip() for e in args.engines.split(",")}
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        saved = json.loads((args.out / "results.json").read_text())
        return write_report(saved["rows"], saved["machine"], args)
    rows = []
    if (args.spelling_only or args.reloads_only) and (args.out / "results.json").exists():
        rows = json.loads((args.out / "results.json").read_text())["rows"]
    for size in args.sizes:
        folder = args.data / f"synth-{size}-s{args.seed}"
        t = time.perf_counter()
        info = generate(folder, size, seed=args.seed, questions=max(args.questions, args.ref_questions))
        print(f"[{size:,} passages] archive ready in {time.perf_counter() - t:.1f} s "
              f"({info['stories']:,} stories) at {folder}", flush=True)
        copy = CorpusCopy(folder / "corpus", args.data / f"{args.tag}-corpus-{size}-s{args.seed}")
        t = time.perf_counter()
        copy.pristine()
        print(f"  storybot reads the copy {copy.folder} (hard links, put back to the archive's files in "
              f"{time.perf_counter() - t:.1f} s)", flush=True)
        corpus, questions = copy.folder, folder / "questions.json"
        cache = args.data / f"{args.tag}-cache-{size}-s{args.seed}"
        n_ref = args.ref_questions if size < 200_000 else min(args.ref_questions, args.ref_questions_large)
        row: dict = {"size": size, "stories": info["stories"]}
        if args.spelling_only or args.reloads_only:
            row = next((r for r in rows if r["size"] == size), row)
            if row not in rows:
                rows.append(row)
                rows.sort(key=lambda r: r["size"])
            sb = row.setdefault("storybot", {})
            if args.spelling_only:
                sb["spelling"] = spelling(corpus, questions, cache, args)
            if args.reloads_only:
                sb["reloads"] = reloads(copy, questions, cache, args)
                if not args.no_reload:
                    sb["reload"] = full_reload(corpus, questions, cache, args)
                built = worker("rank-bm25", corpus, questions, cache, "--n", "0")
                print(f"  rank-bm25: BM25Okapi(tokens) {built['construct_s']:.2f} s (tokenizing "
                      f"{built['tokenize_s']:.2f} s before it)", flush=True)
                row.setdefault("rank-bm25", {}).update(
                    {k: built[k] for k in ("load_s", "tokenize_s", "construct_s", "load_average")})
            (args.out / "results.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
            continue
        if "storybot" in engines:
            cold = worker("storybot-cold", corpus, questions, cache, "--n", str(args.questions),
                          "--parity", str(n_ref))
            print(f"  storybot: cold start {cold['cold_s']:.2f} s (its cache written {cold['cache_write_s']:.2f} s "
                  f"after), peak {cold['peak_cold_mib']:.0f} MiB, ask p99 {cold['ask']['p99']:.3f} ms, "
                  f"search p99 {cold['search']['p99']:.3f} ms", flush=True)
            warm = worker("storybot-warm", corpus, questions, cache)
            print(f"  storybot: warm start {warm['warm_s']:.2f} s, peak {warm['peak_warm_mib']:.0f} MiB", flush=True)
            row["storybot"] = {**cold, **warm, "load_average": cold["load_average"] + warm["load_average"]}
            row["storybot"]["spelling"] = spelling(corpus, questions, cache, args)
            row["storybot"]["reloads"] = reloads(copy, questions, cache, args, cold=cold)
            if not args.no_reload:
                row["storybot"]["reload"] = full_reload(corpus, questions, cache, args)
        if "rank-bm25" in engines:
            ref = worker("rank-bm25", corpus, questions, cache, "--n", str(n_ref), "--parity", str(n_ref))
            print(f"  rank-bm25: start {ref['cold_s']:.2f} s (BM25Okapi(tokens) alone {ref['construct_s']:.2f} s), "
                  f"peak {ref['peak_cold_mib']:.0f} MiB, search p50 {ref['search']['p50']:.1f} ms "
                  f"p99 {ref['search']['p99']:.1f} ms ({ref['search']['n']} questions)", flush=True)
            row["rank-bm25"] = ref
            if "storybot" in row:
                row["parity"] = parity(row["storybot"]["top5"], ref["top5"])
                print(f"  top 5 identical to rank-bm25's: {row['parity']['identical']}/{row['parity']['compared']}",
                      flush=True)
        for engine in ("storybot", "rank-bm25"):
            row.get(engine, {}).pop("top5", None)
        rows.append(row)
        (args.out / "results.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
    return write_report(rows, machine(), args)


def write_report(rows: list[dict], where: dict, args: argparse.Namespace) -> int:
    from .report import plot, reload_plot, table

    (args.out / "results.md").write_text(table(rows, where, args), encoding="utf-8")
    wrote = [args.out / "results.md", args.out / "results.json"]
    try:
        plot(rows, args.out / "latency.png")
        wrote.append(args.out / "latency.png")
        if reload_plot(rows, args.out / "reload.png"):
            wrote.append(args.out / "reload.png")
    except ModuleNotFoundError as exc:  # the bench extra (./dev bench installs it)
        print(f"no plots: {exc}")
    print("wrote " + ", ".join(map(str, wrote)))
    return 0


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": numpy.__version__,
            "os": platform.platform(), "code": code()}


def code() -> str:
    """The code measured: the last commit that changed bot/, and whether bot/ differs from it."""
    def git(*a: str) -> str:
        done = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("log", "-1", "--format=%h %s", "--", "bot")
    if not commit:
        return "unknown"
    return commit[:80] + (" (bot/ modified)" if git("status", "--porcelain", "--", "bot") else "")
