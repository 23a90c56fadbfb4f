"""results.md and latency.png from the rows that bench/run.py collected."""

from __future__ import annotations

from pathlib import Path


def _ms(d: dict | None, key: str) -> str:
    if not d or key not in d:
        return "—"
    v = d[key]
    return f"{v:.3f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _s(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def _workers(d: dict) -> str:
    """The largest build worker's peak memory, where the build had worker processes."""
    w = d.get("peak_workers_mib") or 0
    return f" (+{w:.0f} a worker)" if w >= 50 else ""  # (below that: multiprocessing's resource tracker at most)


def table(rows: list[dict], machine: dict, args) -> str:
    lines = [
        "# storybot performance",
        "",
        f"Synthetic archives (seed {args.seed}): stories of 6-10 paragraphs of 40-120 words, Zipf-distributed "
        "vocabulary of 100,000 made-up words, English function words, names, numbers and dated phrases. "
        "Questions: 2-5 content words of a random passage. Each engine and size runs in fresh processes.",
        "",
        f"Machine: {machine.get('cpu')}, {machine.get('cores')} cores; Python {machine.get('python')}, "
        f"numpy {machine.get('numpy')}. Code: bot/ as of {machine.get('code', 'unknown')}.",
        "",
        "| passages | engine | start-up cold (s) | start-up warm, from cache (s) | peak memory cold / warm (MiB) "
        "| ask p50 / p99 (ms) | index search p50 / p99 (ms) | questions timed | same top 5 as rank-bm25 "
        "| loop lag during reload p99 / max (ms) | questions answered during reload (failed) | reload (s) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        size = f"{row['size']:,}"
        sb = row.get("storybot")
        if sb and "cold_s" in sb:  # (a size measured for spelling only has no such row)
            rl = sb.get("reload")
            par = row.get("parity")
            same = f"{par['identical']}/{par['compared']}" if par else "—"
            lag = f"{_ms(rl['lag'], 'p99')} / {_ms(rl['lag'], 'max')}" if rl else "—"
            during = f"{rl['questions']} ({rl['failed']})" if rl else "—"
            took = f"{rl['reload_s']:.1f}" if rl else "—"
            lines.append(
                f"| {size} | storybot | {_s(sb.get('cold_s'))} | {_s(sb.get('warm_s'))} "
                f"| {sb['peak_cold_mib']:.0f}{_workers(sb)} / {sb['peak_warm_mib']:.0f} "
                f"| {_ms(sb['ask'], 'p50')} / {_ms(sb['ask'], 'p99')} "
                f"| {_ms(sb['search'], 'p50')} / {_ms(sb['search'], 'p99')} | {sb['search']['n']} "
                f"| {same} | {lag} | {during} | {took} |")
        ref = row.get("rank-bm25")
        if ref and ref.get("search"):  # (a size measured for reloads only has its construction time alone)
            n = ref["search"]["n"]
            note = f"{n}" + (" (fewer: 0.3-0.6 s each)" if row["size"] >= 200_000 else "")
            lines.append(
                f"| {size} | rank-bm25 | {_s(ref.get('cold_s'))} | — | {ref['peak_cold_mib']:.0f} / — | — "
                f"| {_ms(ref['search'], 'p50')} / {_ms(ref['search'], 'p99')} | {note} | (reference) | — | — | — |")
    lines += reloads_table(rows)
    spelled = [row for row in rows if row.get("storybot", {}).get("spelling")]
    if spelled:
        lines += [
            "",
            "Spelling correction per question (`Bm25Index.corrections`, nothing remembered; each question's best "
            "of 3 runs), p50 / p99 / max in ms, and the most exact ratios and candidates one word took:",
            "",
            "| passages | index terms | bench questions | typos | anagrams | shuffled | hunted | at the caps "
            "| worst case | whole answer to the worst kind p50 / p99 (ms) |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        kinds = ("typos", "anagrams", "shuffled", "hunted", "caps")
        for row in spelled:
            sp = row["storybot"]["spelling"]
            cell = {k: (f"{sp[k]['p50']:.3f} / {sp[k]['p99']:.3f} / {sp[k]['max']:.3f}"
                        + (f" ({sp[k]['most_ratios_per_word']}, {sp[k]['most_candidates_per_word']})"
                           if "most_ratios_per_word" in sp[k] else "")) if k in sp else "—"
                    for k in ("questions", *kinds)}
            worst = max(sp[k]["max"] for k in kinds if k in sp)
            lines.append(f"| {row['size']:,} | {sp.get('terms', '—')} | {cell['questions']} | "
                         + " | ".join(cell[k] for k in kinds)
                         + f" | **{worst:.3f}** | {_ms(sp['ask_worst'], 'p50')} / {_ms(sp['ask_worst'], 'p99')} |")
    loads = [v for row in rows for engine in ("storybot", "rank-bm25") for key in ("load_average",)
             for v in row.get(engine, {}).get(key, [])]
    if loads:
        lines += ["", f"Load average (1 min) around the measurements: {min(loads):.1f} to {max(loads):.1f} "
                      f"on {machine.get('cores')} cores (above about 1, other work on the machine was "
                      "competing for the CPU: timings are then pessimistic)."]
    lines += [
        "",
        "- **start-up cold**: `StoryService.open` with an empty cache: read, validate, split, tokenize, index, "
        "timeline, and write the cache. **warm**: `StoryService.open` when the corpus is unchanged: hash every "
        "file, load the cache. For rank-bm25: load the same corpus, tokenize with the same tokenizer, "
        "`BM25Okapi(tokens)`. Python start-up and imports (about 0.3 s) are not included.",
        "- **peak memory**: the process's peak resident set (VmHWM), cold start and questions; warm start; "
        "*+N a worker*: the peak of the largest worker process the build started (they run side by side).",
        "- **ask**: `StoryService.ask(question)`, the bot's whole answer (tokenize, spelling, search for 9, "
        "coverage rule, highlights). **index search**: `Bm25Index.search(tokens, 5)` alone; for rank-bm25, "
        "`get_scores(tokens)` then `argsort` for the top 5 (what `get_top_n` does).",
        "- **same top 5**: questions whose top 5 passages and scores are bit-for-bit rank-bm25's (BM25Okapi, "
        "k1=1.5, b=0.75, epsilon=0.25, the index's parameters; equal scores in passage order).",
        "- **spelling**: the question words the index lacks, each looked up as `spelling.py` does (at most 4 a "
        "question, 64 candidates and 8 exact difflib ratios a word). *typos*: 300-character questions of story "
        "words with one typo each; *anagrams*: story words with their letters shuffled; *shuffled*: the same, "
        "first letter kept (so each word lands among its neighbours); *hunted*: the 200 words, of 10,000 "
        "shuffled or misspelt ones, that took the most work; *at the caps*: 4 words made (and added to the "
        "vocabulary) so that each takes all 64 candidates and 8 exact ratios the bounds allow, an upper bound "
        "of any question's cost.",
        "- **loop lag**: how late a 5 ms `asyncio.sleep` ticker wakes up while `StoryService.reload_async()` "
        "rebuilds the corpus with no cache (a full rebuild, the worst case a moderator can cause), with "
        "`StoryService.ask` called on the loop at the rate of the reloads table meanwhile (see below); "
        "*questions answered during reload* counts those scheduled while the reload ran.",
        "- **warm / one story edited / one story added** (reloads table): `StoryService.open(corpus, cache_dir=..., "
        "runtime=Runtime())` in a fresh process (the median of several, round after round: results.json has "
        "each), from a copy of the cache of the archive as generated, after "
        "nothing changed / a sentence (a new word and a date) was appended to the middle paragraph of the story "
        "in the middle of the archive / a new 8-paragraph story was added whose name sorts into the middle. "
        "The start-up ends when the corpus serves; the cache that `Runtime()` writes behind it is not counted "
        "(results.json has it, `cache_write_s`). *by /reload*: the same edit, then `reload_async()` of a service "
        "that was serving the archive before it. Every change is checked to be served (in its story, the index "
        "and a search) before it counts. Targets: edited − warm at most +1 s at 100k passages, +2 s at 300k. "
        "*peak memory*: the process's peak resident set (VmHWM) by the time the changed corpus serves (by "
        "/reload: with the corpus it replaces).",
        "- **rank-bm25 `BM25Okapi(tokens)`**: its construction alone, on the tokens of the same passages "
        "(reading and tokenizing the corpus, which its start-up above includes, excluded).",
        "- **/ask during a full reload**: `StoryService.ask` called open-loop on the event loop, each question "
        "at its scheduled time, while `reload_async()` rebuilds the corpus with an empty cache and `Runtime()` "
        "(the bot's policy) writes its cache; latency from the scheduled time to the answer, so a stalled loop "
        "counts against it (it includes the loop's timer granularity, about 1 ms). The questions are those "
        "scheduled from the reload's start until its cache was written; *missed* = answered more than 3 s "
        "after their time (Discord's interaction deadline). `reload.png` shows their latency as the reload goes.",
    ]
    return "\n".join(lines) + "\n"


def reloads_table(rows: list[dict]) -> list[str]:
    """What reloads cost (start-up after one change beside warm and cold) and what members feel meanwhile."""
    measured = [row for row in rows if row.get("storybot", {}).get("reloads") or row.get("storybot", {}).get("reload")]
    if not measured:
        return []
    rate = next((r["storybot"]["reload"].get("rate") for r in measured if r["storybot"].get("reload")), None)
    out = [
        "",
        "What reloads cost: start-up (s) after one story is edited or added, beside warm and cold; "
        + (f"`/ask` at {rate:g} a second during a full reload:" if rate else "questions during a full reload:"),
        "",
        "| passages | warm (s) | one story edited (s) | edited − warm (s) | one story added (s) | added − warm (s) "
        "| edited, by /reload (s) | cold (s) | peak memory warm / edited / by /reload (MiB) "
        "| rank-bm25 `BM25Okapi(tokens)` (s) "
        "| /ask during a full reload p50 / p99 / max (ms) | missed (> 3 s) / asked | full reload + cache write (s) "
        "| load average |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in measured:
        sb = row["storybot"]
        rs, rl = sb.get("reloads"), sb.get("reload")
        ref = row.get("rank-bm25", {})
        cells = ["—"] * 8
        if rs:
            warm = rs["warm"]["seconds"]
            cells = [_s(warm), _s(rs["edited"]["seconds"]), f"{rs['edited']['seconds'] - warm:+.2f}",
                     _s(rs["added"]["seconds"]), f"{rs['added']['seconds'] - warm:+.2f}",
                     _s(rs["edited_reload"]["seconds"]), _s(rs.get("cold_s")),
                     " / ".join(f"{rs[k]['peak_mib']:.0f}{_workers(rs[k])}"
                                for k in ("warm", "edited", "edited_reload"))]
        full = ["—"] * 3
        w = rl.get("until_written") if rl else None
        if w:
            lat = w["latency"]
            full = [f"{_ms(lat, 'p50')} / {_ms(lat, 'p99')} / {_ms(lat, 'max')}",
                    f"{w['missed']} / {w['questions']}" + (f" ({w['failed']} failed)" if w["failed"] else ""),
                    f"{rl['reload_s']:.1f} + {rl['cache_write_s']:.1f}"]
        loads = [v for part in (rs, rl) if part for v in part.get("load_average", [])]
        load = f"{min(loads):.1f}–{max(loads):.1f}" if loads else "—"
        out.append(f"| {row['size']:,} | " + " | ".join(cells) + f" | {_s(ref.get('construct_s'))} | "
                   + " | ".join(full) + f" | {load} |")
    return out


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    series = [
        ("rank-bm25", "search", "rank-bm25 get_scores + top 5", "tab:red"),
        ("storybot", "ask", "storybot ask (whole answer)", "tab:green"),
        ("storybot", "search", "storybot index search", "tab:blue"),
    ]
    for engine, kind, label, color in series:
        pts = [(r["size"], r[engine][kind]) for r in rows if engine in r and r[engine].get(kind)]
        if not pts:
            continue
        xs = [x for x, _ in pts]
        ax.plot(xs, [d["p50"] for _, d in pts], "o-", color=color, label=f"{label}, p50")
        ax.plot(xs, [d["p99"] for _, d in pts], "s--", color=color, alpha=0.6, label=f"{label}, p99")
    for y, label in ((2, "target at 100k: 2 ms"), (5, "target at 300k: 5 ms")):
        ax.axhline(y, color="gray", lw=0.8, ls=":")
        ax.annotate(label, (0.01, y), xycoords=("axes fraction", "data"), fontsize=7, color="gray",
                    va="bottom")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("passages in the archive")
    ax.set_ylabel("latency per question (ms)")
    ax.set_title("Search latency against archive size")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # (a run of reloads only has no latency to plot)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def reload_plot(rows: list[dict], path: Path) -> bool:
    """The latency of questions asked during a full reload, as it goes (one panel per size); False when no
    size has that measurement."""
    runs = [(r["size"], r["storybot"]["reload"]) for r in rows
            if r.get("storybot", {}).get("reload", {}).get("timeline")]
    if not runs:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(runs), 1, figsize=(7, 1.2 + 2.2 * len(runs)), dpi=120, sharey=True, squeeze=False)
    for ax, (size, rl) in zip(axes[:, 0], runs):
        t = [b[0] for b in rl["timeline"]]
        ax.plot(t, [b[3] for b in rl["timeline"]], "-", color="tab:red", lw=1, label="max")
        ax.plot(t, [b[2] for b in rl["timeline"]], "-", color="tab:blue", lw=1, label="median")
        ax.axvline(0, color="gray", lw=0.8, ls="--")
        ax.axvline(rl["reload_s"], color="gray", lw=0.8, ls="--")
        ax.axhline(3000, color="gray", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_title(f"{size:,} passages: reload {rl['reload_s']:.0f} s, then its cache written in "
                     f"{rl['cache_write_s']:.1f} s", fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
        ax.tick_params(labelsize=7)
        ax.set_ylabel("latency (ms)", fontsize=7)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("seconds since the reload began (dashed: began, swapped the new corpus in; "
                           "dotted: Discord's 3 s deadline)", fontsize=7)
    rate, step = runs[0][1].get("rate", 0), runs[0][1].get("timeline_step_s", 0.25)
    fig.suptitle(f"/ask at {rate:g} a second during a full reload: latency from each question's scheduled "
                 f"time, per {step:g} s", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
