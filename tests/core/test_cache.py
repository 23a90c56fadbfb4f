"""The snapshot cache: a hit answers exactly as a fresh build; any change to the corpus, and any damage to
the cache, means a rebuild (with a log line saying why); a stale or damaged cache is never served."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.archive import cache
from bot.archive.index import Params
from bot.core.parts import folder_fingerprint
from bot.core.service import StoryService, build_snapshot
from tests.conftest import CORPUS, write_story

QUESTIONS = [
    "Why did Canada close its embassy in Tehran?",
    "Who is Mike Poole?",
    "What happened to Flight PS752?",
    "Who won the Stanley Cup?",
    "What did the quarrelsome aardvark eat?",
    "embasy tehran",
    "",
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    write_story(dest, "aardvark.md", "The quarrelsome aardvark ate termites on Jan. 17.\n\n"
                "Zoo keepers said in 2019 it prefers ants.", title="Aardvark news", published="2020-03-02",
                url="https://zoo.example/aardvark")
    return dest


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def same(a: StoryService, b: StoryService) -> None:
    sa, sb = a.snapshot, b.snapshot
    assert sa.corpus == sb.corpus
    assert list(sa.passages) == list(sb.passages)
    assert len(sa.passages) == len(sb.passages)
    assert sa.passages[-1] == sb.passages[-1] and sa.passages[0:2] == sb.passages[0:2]
    assert sa.events == sb.events
    assert sa.documents == sb.documents
    assert a.sources() == b.sources()
    assert a.timeline() == b.timeline() and a.timeline(year=2020) == b.timeline(year=2020)
    for q in QUESTIONS:
        assert a.ask(q) == b.ask(q), q


def messages(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "bot.archive.cache")


def test_a_cache_hit_answers_exactly_as_a_fresh_build(corpus, cache_dir, caplog):
    caplog.set_level(logging.INFO, logger="bot.archive.cache")
    fresh = StoryService.open(corpus)
    first = StoryService.open(corpus, cache_dir=cache_dir)
    assert "no index cache" in messages(caplog) and "wrote the index cache" in messages(caplog)
    caplog.clear()
    second = StoryService.open(corpus, cache_dir=cache_dir)
    assert "from the index cache" in messages(caplog)
    same(fresh, first)
    same(fresh, second)
    assert second.ask("aardvark termites").quotes[0].passage.id == "aardvark#1"


def test_the_cache_lives_where_it_is_told_and_holds_no_pickle(corpus, cache_dir):
    StoryService.open(corpus, cache_dir=cache_dir)
    [snap] = cache_dir.glob("snapshot-*")
    assert (snap / "manifest.json").exists()
    assert not list(corpus.glob("*.npy")) and sorted(p.name for p in corpus.iterdir()) == [
        "aardvark.md", "iran-canada-ties.md"]
    import numpy as np

    for f in snap.glob("*.npy"):
        np.load(f, allow_pickle=False)  # would raise on an object (pickled) array


@pytest.mark.parametrize("change", ["edit", "add", "remove", "rename", "touch-same-bytes"])
def test_any_change_to_the_corpus_invalidates_the_cache(corpus, cache_dir, caplog, change):
    StoryService.open(corpus, cache_dir=cache_dir)
    story = corpus / "aardvark.md"
    if change == "edit":
        story.write_text(story.read_text().replace("termites", "beetles"), encoding="utf-8")
    elif change == "add":
        write_story(corpus, "zebra.md", "A zebra crossed the road.", title="Zebra")
    elif change == "remove":
        story.unlink()
    elif change == "rename":
        story.rename(corpus / "aardvark2.md")
    else:
        story.write_bytes(story.read_bytes())  # new mtime, same content: still a hit
    caplog.clear()
    caplog.set_level(logging.INFO, logger="bot.archive.cache")
    served = StoryService.open(corpus, cache_dir=cache_dir)
    log = messages(caplog)
    same(served, StoryService.open(corpus))  # whatever happened, the answers are the fresh build's
    if change == "touch-same-bytes":
        assert "from the index cache" in log
        return
    assert "from the index cache" not in log
    expected = {"edit": "edited aardvark.md", "add": "added zebra.md", "remove": "removed aardvark.md",
                "rename": "added aardvark2.md; removed aardvark.md"}[change]
    assert f"the corpus changed since the last cache ({expected})" in log
    if change == "edit":
        assert served.ask("beetles").answered and not served.ask("termites").answered


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete-array", "manifest", "empty-manifest"])
def test_a_damaged_cache_is_rebuilt_with_a_log_line_and_never_served(corpus, cache_dir, caplog, damage):
    StoryService.open(corpus, cache_dir=cache_dir)
    [snap] = cache_dir.glob("snapshot-*")
    target = snap / "index_data.npy"
    if damage == "flip":
        raw = bytearray(target.read_bytes())
        raw[-3] ^= 0x40
        target.write_bytes(bytes(raw))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:-17])
    elif damage == "delete-array":
        (snap / "paragraphs.npy").unlink()
    elif damage == "manifest":
        (snap / "manifest.json").write_text("{not json", encoding="utf-8")
    else:
        (snap / "manifest.json").write_text("", encoding="utf-8")
    caplog.set_level(logging.INFO, logger="bot.archive.cache")
    served = StoryService.open(corpus, cache_dir=cache_dir)
    warnings = [r for r in caplog.records if r.name == "bot.archive.cache" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unusable" in warnings[0].getMessage() and "rebuilding" in warnings[0].getMessage()
    same(served, StoryService.open(corpus))
    caplog.clear()
    StoryService.open(corpus, cache_dir=cache_dir)  # the rebuilt cache is whole again
    assert "from the index cache" in messages(caplog)


def test_a_damaged_text_array_is_caught_by_its_checksum(corpus, cache_dir, caplog):
    StoryService.open(corpus, cache_dir=cache_dir)
    [snap] = cache_dir.glob("snapshot-*")
    target = snap / "paragraphs.npy"
    raw = bytearray(target.read_bytes())
    at = raw.index(b"Aardvark"[1:])  # same length, different words: only the checksum can tell
    raw[at : at + 3] = b"XYZ"
    target.write_bytes(bytes(raw))
    caplog.set_level(logging.WARNING, logger="bot.archive.cache")
    served = StoryService.open(corpus, cache_dir=cache_dir)
    assert "checksum" in messages(caplog)
    same(served, StoryService.open(corpus))


def test_index_settings_and_the_size_cap_are_part_of_the_key(corpus, cache_dir, caplog):
    build_snapshot(corpus, cache_dir=cache_dir)
    caplog.set_level(logging.INFO, logger="bot.archive.cache")
    other = build_snapshot(corpus, cache_dir=cache_dir, params=Params(k1=1.2))
    assert "the code, the cache format, the index settings or a library's version changed" in messages(caplog)
    assert other.index.params == Params(k1=1.2)
    caplog.clear()
    build_snapshot(corpus, cache_dir=cache_dir, max_file_bytes=100_000)
    assert "from the index cache" not in messages(caplog)


def test_reload_uses_the_cache_and_sees_changes(corpus, cache_dir, caplog):
    service = StoryService.open(corpus, cache_dir=cache_dir)
    caplog.set_level(logging.INFO, logger="bot.archive.cache")
    report = service.reload()
    assert not report.changed and "from the index cache" in messages(caplog)
    (corpus / "aardvark.md").unlink()
    report = service.reload()
    assert report.stories_removed == ("aardvark",) and not service.ask("aardvark").answered


def test_an_invalid_corpus_is_refused_even_with_a_cache(corpus, cache_dir):
    from bot.core.corpus import CorpusError

    StoryService.open(corpus, cache_dir=cache_dir)
    (corpus / "broken.md").write_text("no front matter\n", encoding="utf-8")
    with pytest.raises(CorpusError):
        StoryService.open(corpus, cache_dir=cache_dir)


def test_an_unwritable_cache_folder_only_costs_time(corpus, tmp_path, caplog):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    caplog.set_level(logging.WARNING, logger="bot.archive.cache")
    service = StoryService.open(corpus, cache_dir=blocked / "cache")
    assert service.ask("Who is Mike Poole?").answered
    assert "could not write the index cache" in messages(caplog)


def test_old_caches_are_pruned(corpus, cache_dir):
    for i in range(cache.KEEP + 2):
        write_story(corpus, f"extra{i}.md", f"Extra story number {i}.", title=f"Extra {i}")
        StoryService.open(corpus, cache_dir=cache_dir)
    assert len(list(cache_dir.glob("snapshot-*"))) == cache.KEEP


def test_the_folder_hashed_for_the_cache_has_the_loaded_corpus_fingerprint(corpus):
    from bot.core.corpus import MAX_FILE_BYTES, load_corpus

    fp = folder_fingerprint(corpus, max_file_bytes=MAX_FILE_BYTES)  # one definition: corpus.fingerprint
    assert fp is not None and fp.digest == load_corpus(corpus).fingerprint
    assert folder_fingerprint(corpus / "missing", max_file_bytes=MAX_FILE_BYTES) is None
    assert folder_fingerprint(corpus, max_file_bytes=100) is None  # a file over the cap: no cache, the load says why


@pytest.mark.parametrize("chunk", [1, 2, 3, 8192])
def test_text_columns_are_read_in_chunks_that_split_only_between_lines(monkeypatch, chunk):
    monkeypatch.setattr(cache, "_CHUNK_LINES", chunk)
    for text in ["", "a", "a\nb", "\n", "a\n", "é\nü\n\n—x", "\n".join(map(str, range(100)))]:
        a = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        assert cache._lines(a, lambda: None) == (text.split("\n") if text else [])
