"""The benchmark's reload measurements (bench/reloads.py, the storybot-change and storybot-reload tasks,
``--reloads-only``) on an archive small enough to make here."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest

from bench import reloads, synth
from bench.reloads import ADDED_PARAGRAPHS, SENTENCE, CorpusCopy
from bench.synth import generate


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The benchmark's archive of 200 passages (and the story ``add`` writes), its words drawn from 10,000 made-up
    ones, not 100,000: each Generator made in 0.1 s, not 1 s; what is copied, edited, added and put back does not
    depend on which words."""
    small = functools.partial(synth.Generator, vocab_size=10_000)
    monkeypatch.setattr(synth, "Generator", small)
    monkeypatch.setattr(reloads, "Generator", small)
    generate(tmp_path / "synth-200-s7", 200, seed=7, questions=20)
    return tmp_path / "synth-200-s7" / "corpus"


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_copy_is_changed_and_put_back_without_touching_the_archive(archive: Path, tmp_path: Path) -> None:
    before = _contents(archive)
    copy = CorpusCopy(archive, tmp_path / "copy")
    copy.pristine()
    assert _contents(copy.folder) == before
    names = sorted(before)
    assert all((copy.folder / n).stat().st_ino == (archive / n).stat().st_ino for n in names)  # hard links

    edit = copy.edit()
    assert edit.file == names[len(names) // 2] and edit.passages == 0
    text = (copy.folder / edit.file).read_text(encoding="utf-8")
    body = text.split("\n---\n", 1)[1].rstrip("\n").split("\n\n")
    assert body[len(body) // 2].endswith(" " + SENTENCE)
    assert text.count(SENTENCE) == 1

    add = copy.add()
    assert add.passages == ADDED_PARAGRAPHS
    now = sorted(p.name for p in copy.folder.iterdir())
    assert now.index(add.file) in (len(now) // 2 - 1, len(now) // 2)  # it sorts into the middle
    assert f"id: {add.story}\n" in (copy.folder / add.file).read_text(encoding="utf-8")
    assert _contents(archive) == before

    copy.pristine()
    assert _contents(copy.folder) == before
    assert _contents(archive) == before


@pytest.mark.slow
def test_reloads_only_measures_every_change_and_the_questions_during_a_full_reload(
        archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.run import main

    data, out, temp = archive.parent.parent, tmp_path / "out", tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # the workers' copies of the cache
    before = _contents(archive)
    assert main(["--sizes", "200", "--reloads-only", "--data", str(data), "--out", str(out), "--tag", "t",
                 "--questions", "20", "--ref-questions", "20", "--repeats", "1", "--rate", "100"]) == 0
    assert _contents(archive) == before
    assert _contents(data / "t-corpus-200-s7") == before  # the copy is put back too
    row = json.loads((out / "results.json").read_text())["rows"][0]
    rs = row["storybot"]["reloads"]
    assert rs["warm"]["passages"] == rs["edited"]["passages"] == 200
    assert rs["added"]["passages"] == 200 + ADDED_PARAGRAPHS and rs["added"]["stories"] == rs["warm"]["stories"] + 1
    assert rs["edited_reload"]["stories_edited"] == [rs["edited"]["story"]]
    for key in ("warm", "edited", "added", "edited_reload"):
        assert rs[key]["seconds"] > 0 and len(rs[key]["runs"]) == 1
    rl = row["storybot"]["reload"]
    asked = rl["until_written"]
    assert asked["questions"] >= 1 and asked["failed"] == 0 and asked["missed"] == 0
    assert asked["latency"]["max"] >= asked["latency"]["p50"] > 0
    assert rl["before"]["questions"] >= 50  # a second at 100 a second before the reload began
    assert rl["changed"] is False and rl["timeline"]
    assert row["rank-bm25"]["construct_s"] > 0 and row["rank-bm25"]["tokenize_s"] > 0
    md = (out / "results.md").read_text(encoding="utf-8")
    assert "| passages | warm (s) | one story edited (s)" in md
    assert "| 200 | " in md
    assert os.listdir(temp) == []  # every copy of a cache was removed
