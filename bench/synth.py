"""A synthetic news archive in the corpus format, deterministic for a seed.

Stories of about 8 paragraphs of 40-120 words; content words drawn from a Zipf-distributed vocabulary of
made-up words (so common words sit in most passages, as "government" or "said" would), mixed with English
function words, capitalised names, numbers and dated phrases ("on Jan. 17", "in 2012", "last October") that
the timeline picks up. Questions are made of content words from the archive's own passages.

Nothing here imports matplotlib or the bot's index, so tests can use it too.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GENERATOR_VERSION = 1
"""Bump when the generated text changes, so that stale data folders are not reused."""

VOCABULARY = 100_000
ZIPF_S = 1.05
FUNCTION_SHARE = 0.42
"""Share of words that are English function words (the tokenizer drops them, as it would in real news)."""

_FUNCTION = ("the the the of of and and to to in in a a that for on with as was is by at from it his her "
             "their its has have had were be been but not which who after more than also this they said").split()
_ONSETS = "b c d f g h j k l m n p r s t v w z br cr dr fr gr pl pr st tr ch sh th".split()
_VOWELS = "a e i o u a e i o u ai ea ou io".split()
_CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "rk"]
_MONTHS = ["Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec."]
_MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December"]


@dataclass(frozen=True)
class Story:
    id: str
    title: str
    published: str
    url: str | None
    paragraphs: tuple[str, ...]

    def markdown(self) -> str:
        head = [f"title: {self.title}", f"published: {self.published}", f"id: {self.id}"]
        if self.url:
            head.append(f"url: {self.url}")
        return "---\n" + "\n".join(head) + "\n---\n" + "\n\n".join(self.paragraphs) + "\n"


def vocabulary(size: int = VOCABULARY, seed: int = 0) -> list[str]:
    """``size`` distinct made-up lowercase words; frequent ranks get shorter words."""
    rng = np.random.default_rng([seed, 1])
    words: list[str] = []
    seen: set[str] = set()
    syllables = [o + v + c for o in _ONSETS for v in _VOWELS for c in _CODAS]
    while len(words) < size:
        rank = len(words)
        n_syl = 1 + int(rank > 1000) + int(rank > 30000) + int(rng.random() < 0.15)
        word = "".join(syllables[i] for i in rng.integers(0, len(syllables), n_syl))
        if len(word) < 3 or word in seen:
            continue
        seen.add(word)
        words.append(word)
    return words


class Generator:
    """Writes stories; every random choice comes from one seeded numpy Generator."""

    def __init__(self, seed: int = 7, vocab_size: int = VOCABULARY) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.words = vocabulary(vocab_size, seed)
        ranks = np.arange(1, vocab_size + 1, dtype=np.float64)
        weights = ranks ** -ZIPF_S
        self.cdf = np.cumsum(weights / weights.sum())

    def _content(self, n: int) -> list[str]:
        idx = np.searchsorted(self.cdf, self.rng.random(n), side="right")
        np.minimum(idx, len(self.words) - 1, out=idx)
        return [self.words[i] for i in idx.tolist()]

    def _date_phrase(self, year: int, month: int) -> str:
        r = self.rng
        kind = int(r.integers(0, 7))
        m = int(r.integers(0, 12))
        if kind == 0:
            return f"on {_MONTHS[m]} {int(r.integers(1, 29))}"
        if kind == 1:
            return f"in {int(r.integers(year - 15, year + 1))}"
        if kind == 2:
            return f"last {_MONTH_NAMES[m]}"
        if kind == 3:
            return f"early {int(r.integers(year - 10, year + 1))}"
        if kind == 4:
            return f"on {_MONTHS[m]} {int(r.integers(1, 29))}, {int(r.integers(year - 5, year + 1))}"
        if kind == 5:
            return f"in {_MONTH_NAMES[m]} {int(r.integers(year - 8, year + 1))}"
        return "last year"

    def paragraph(self, year: int, month: int) -> str:
        r = self.rng
        n_words = int(r.integers(40, 121))
        n_content = int(round(n_words * (1 - FUNCTION_SHARE)))
        content = self._content(n_content)
        function = [_FUNCTION[i] for i in r.integers(0, len(_FUNCTION), n_words - n_content).tolist()]
        order = r.permutation(n_words).tolist()
        pool = content + function
        words = [pool[i] for i in order]
        for i in np.flatnonzero(r.random(n_words) < 0.04).tolist():  # names and numbers
            words[i] = words[i].capitalize() if r.random() < 0.7 else str(int(r.integers(2, 5000)))
        if r.random() < 0.35:
            at = int(r.integers(0, n_words))
            words[at:at] = self._date_phrase(year, month).split()
        # sentences of 8-25 words
        out, i = [], 0
        while i < len(words):
            n = int(r.integers(8, 26))
            sentence = words[i : i + n]
            sentence[0] = sentence[0][:1].upper() + sentence[0][1:]
            out.append(" ".join(sentence) + ".")
            i += n
        return " ".join(out)

    def story(self, number: int, n_paragraphs: int) -> Story:
        r = self.rng
        year, month, day = int(r.integers(2000, 2025)), int(r.integers(1, 13)), int(r.integers(1, 29))
        title = " ".join(self._content(int(r.integers(5, 11))))
        sid = f"story-{number:06d}"
        return Story(
            id=sid,
            title=title[:1].upper() + title[1:],
            published=f"{year:04d}-{month:02d}-{day:02d}",
            url=f"https://news.example.com/{year}/{sid}" if r.random() < 0.5 else None,
            paragraphs=tuple(self.paragraph(year, month) for _ in range(n_paragraphs)),
        )

    def stories(self, passages: int):
        """Stories of 6-10 (about 8) paragraphs until ``passages`` paragraphs are written."""
        written = number = 0
        while written < passages:
            n = min(int(self.rng.integers(6, 11)), passages - written)
            yield self.story(number, n)
            written += n
            number += 1


def questions_from(paragraphs: list[str], count: int, seed: int) -> list[str]:
    """``count`` questions, each 2-5 content words of one random paragraph, in a question frame."""
    rng = np.random.default_rng([seed, 2])
    frames = ["What about {}?", "Why {}?", "Tell me about {}", "{}?", "When did {} happen?", "Who {}?"]
    function = set(_FUNCTION)
    out = []
    while len(out) < count:
        text = paragraphs[int(rng.integers(0, len(paragraphs)))]
        words = [w.strip(".,").lower() for w in text.split()]
        words = [w for w in words if w.isalpha() and w not in function and len(w) > 2]
        if len(words) < 2:
            continue
        k = int(rng.integers(2, 6))
        picked = [words[i] for i in sorted(rng.choice(len(words), size=min(k, len(words)), replace=False))]
        out.append(frames[int(rng.integers(0, len(frames)))].format(" ".join(picked)))
    return out


def generate(folder: Path, passages: int, *, seed: int = 7, questions: int = 500) -> dict:
    """Write a corpus of ``passages`` paragraphs into ``folder``/corpus and its questions into
    ``folder``/questions.json; reuse the folder if it was already generated with these settings (or with more
    questions: the first ``questions`` of a longer list are the same, and readers take the first they need)."""
    folder = Path(folder)
    manifest = folder / "manifest.json"
    want = {"version": GENERATOR_VERSION, "passages": passages, "seed": seed, "questions": questions}
    if manifest.exists():
        try:
            have = json.loads(manifest.read_text())
            same = {k: have.get(k) for k in want if k != "questions"} == {k: v for k, v in want.items()
                                                                           if k != "questions"}
            if same and int(have.get("questions", -1)) >= questions:
                return have
        except (OSError, ValueError):
            pass
    if folder.exists():
        shutil.rmtree(folder)
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    gen = Generator(seed)
    sample: list[str] = []
    keep_every = max(1, math.ceil(passages / 20_000))  # questions come from a sample of paragraphs
    n_stories = n_paragraphs = 0
    for story in gen.stories(passages):
        (corpus / f"{story.id}.md").write_text(story.markdown(), encoding="utf-8")
        for p in story.paragraphs:
            if n_paragraphs % keep_every == 0:
                sample.append(p)
            n_paragraphs += 1
        n_stories += 1
    qs = questions_from(sample, questions, seed)
    (folder / "questions.json").write_text(json.dumps(qs, indent=0), encoding="utf-8")
    info = {**want, "stories": n_stories, "paragraphs": n_paragraphs}
    manifest.write_text(json.dumps(info))
    return info

