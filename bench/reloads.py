"""What a moderator changes before a ``/reload``, done to a copy of a benchmark archive.

The archives in bench/data are shared and never change. ``CorpusCopy`` keeps a copy of one next to it,
made of hard links (a second's work at 300k passages, where copying 37k files takes several), and puts it
back to the original's files (``pristine``) before and after each measurement. A change never writes into
a linked file: it writes a new file and renames it over the link, so the original's bytes are never touched.
Where hard links cannot be made, the copy is a real copy, told apart from the original by size and mtime.

Nothing here imports the bot, so the orchestrator and the tests can use it too.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .synth import Generator

SENTENCE = "In March 1999 a zyxqubit review of the archive added this sentence."
"""What the edit appends to a paragraph: a word no story has (a new index term) and a date before every story's
publication (a new timeline event: the timeline leaves out dates after a story's own), so that every part of a
snapshot changes."""
ADDED_PARAGRAPHS = 8
ADDED_SEED = 1_000_003
"""The added story's words are the archive's vocabulary, drawn by a random generator of this seed of its own
(the archive's seed would write the archive's first story again)."""


class Change(NamedTuple):
    kind: str
    """"edit" or "add"."""
    file: str
    story: str
    """The story's id (its file name without ``.md``)."""
    passages: int
    """How many passages the corpus gains (0 for an edit)."""
    words: str
    """Text the changed story now holds and did not before."""


def _names(folder: Path) -> list[str]:
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.name.endswith(".md") and not e.name.startswith("."))


class CorpusCopy:
    """A copy of the corpus folder ``original`` at ``folder``."""

    def __init__(self, original: Path, folder: Path) -> None:
        self.original, self.folder = Path(original), Path(folder)

    def pristine(self) -> None:
        """Make the copy's story files the original's, and nothing else (creating it if need be)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        want = set(_names(self.original))
        for name in set(_names(self.folder)) - want:
            (self.folder / name).unlink()
        for name in sorted(want):
            self._restore(name)

    def _restore(self, name: str) -> None:
        src, dst = self.original / name, self.folder / name
        a = src.stat()
        try:
            b = dst.stat()
            if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
                return
            if (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns) and b.st_nlink == 1:
                return  # a real copy (no hard links here) that was not changed since
        except FileNotFoundError:
            pass
        tmp = self.folder / f".{name}.restoring"
        tmp.unlink(missing_ok=True)
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copy2(src, tmp)
        os.replace(tmp, dst)

    def _write(self, name: str, text: str) -> None:
        tmp = self.folder / f".{name}.writing"  # a dot name is never a story, even if left behind
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.folder / name)  # replaces the link, never writes into the original's bytes

    def middle(self) -> str:
        names = _names(self.folder)
        return names[len(names) // 2]

    def edit(self) -> Change:
        """Append ``SENTENCE`` to the middle paragraph of the story in the middle of the archive."""
        name = self.middle()
        text = (self.folder / name).read_text(encoding="utf-8")
        head, sep, body = text.partition("\n---\n")  # the front matter ends at the second "---" line
        if not sep or not text.startswith("---\n"):
            raise ValueError(f"{name}: no front matter to find the body by")
        paragraphs = body.rstrip("\n").split("\n\n")
        at = len(paragraphs) // 2
        paragraphs[at] = paragraphs[at].rstrip() + " " + SENTENCE
        self._write(name, head + sep + "\n\n".join(paragraphs) + "\n")
        return Change("edit", name, name[:-3], 0, SENTENCE)

    def add(self, seed: int = 7) -> Change:
        """Add a new story, in the words of the archive of ``seed``, whose name sorts next to the middle
        story's (so that it lands in the middle of the archive)."""
        stem = self.middle()[:-3]
        name = f"{stem}-added.md"
        gen = Generator(seed)
        gen.rng = np.random.default_rng(ADDED_SEED)
        story = gen.story(0, ADDED_PARAGRAPHS)
        story = dataclasses.replace(story, id=name[:-3], url=None)
        self._write(name, story.markdown())
        return Change("add", name, name[:-3], ADDED_PARAGRAPHS, story.paragraphs[0])

    def apply(self, kind: str, seed: int = 7) -> Change | None:
        """``kind`` "none", "edit" or "add"."""
        return {"none": lambda: None, "edit": self.edit, "add": lambda: self.add(seed)}[kind]()
