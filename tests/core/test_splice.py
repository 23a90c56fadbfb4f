"""A reload after a story is edited, added or removed re-reads only that story and reuses the rest of the last
cache: the snapshot it serves is the one a build from scratch makes, bit for bit, and scores as rank-bm25 does."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.synth import Generator
from bot.archive.index import Bm25Index, Params
from bot.core.corpus import CorpusError
from bot.archive.runtime import Runtime
from bot.core.service import StoryService
from bot.core.snapshot import Snapshot, build_snapshot
from bot.core.text import tokenize

STORIES = 120


@pytest.fixture(autouse=True)
def bm25_alone(monkeypatch):
    """These tests compare indexes, timelines and stories; embedding every corpus they build for the semantic
    stage would triple their time and prove nothing here."""
    monkeypatch.setattr("bot.core.semantic.MAX_PASSAGES", 0)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("archive")
    for story in Generator(seed=11).stories(STORIES * 8):
        (folder / f"{story.id}.md").write_text(story.markdown(), encoding="utf-8")
    return folder


@pytest.fixture
def corpus(archive: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(archive, tmp_path / "corpus"))


def same(ours: Snapshot, scratch: Snapshot) -> None:
    assert ours.corpus == scratch.corpus
    a, b = ours.passages, scratch.passages
    assert a.doc_ids == b.doc_ids and a.paragraphs == b.paragraphs
    for name, col in a.columns.items():
        assert col.tolist() == b.columns[name].tolist(), name
    same_index(ours.index, scratch.index)
    assert ours.events == scratch.events


def same_index(ours: Bm25Index, scratch: Bm25Index) -> None:
    """The same index, bit for bit, up to the order of its terms (a spliced vocabulary keeps the last one's
    order): every term's passages, contributions, document frequency, idf and dense column."""
    assert ours.size == scratch.size and len(ours.vocabulary) == len(scratch.vocabulary)
    ids = np.array([ours.vocabulary[t] for t in scratch.vocabulary])  # KeyError: a term is missing
    mine, theirs = ours.arrays(), scratch.arrays()
    for name in ("df", "idf"):
        assert mine[name].dtype == theirs[name].dtype and mine[name][ids].tobytes() == theirs[name].tobytes(), name
    columns = np.concatenate([np.arange(ours.indptr[i], ours.indptr[i + 1]) for i in ids.tolist()])
    for name in ("indices", "data"):
        assert mine[name].dtype == theirs[name].dtype, name
        assert mine[name][columns].tobytes() == theirs[name].tobytes(), name
    terms = list(scratch.vocabulary)
    dense = {terms[t]: col.tobytes() for t, col in scratch.dense_columns().items()}
    ours_terms = list(ours.vocabulary)
    assert {ours_terms[t]: col.tobytes() for t, col in ours.dense_columns().items()} == dense


def rebuilt(corpus: Path, cache: Path, caplog, params: Params = Params()) -> Snapshot:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.archive.cache"):
        snap = build_snapshot(corpus, cache_dir=cache, params=params)
    assert "rebuilt it reusing the unchanged stories of" in caplog.text, caplog.text
    return snap


def middle(corpus: Path, at: float = 0.5) -> Path:
    files = sorted(corpus.glob("*.md"))
    return files[int(at * (len(files) - 1))]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("params", [Params(), Params(variant="l"), Params(variant="plus")],
                         ids=["okapi", "bm25l", "bm25plus"])
def test_an_edited_story_is_spliced_into_the_index_a_build_from_scratch_makes(corpus, tmp_path, caplog, params):
    cache = tmp_path / "cache"
    build_snapshot(corpus, cache_dir=cache, params=params)
    story = middle(corpus)
    paragraphs = story.read_text(encoding="utf-8").split("\n\n")
    edit(story, paragraphs[-1], paragraphs[-1] + " The zzyzxquorum convened on Jan. 5, 1999.")
    ours = rebuilt(corpus, cache, caplog, params)
    scratch = build_snapshot(corpus, params=params)
    same(ours, scratch)
    assert ours.index.document_frequency("zzyzxquorum") == 1
    assert any("zzyzxquorum" in e.text for e in ours.events)
    ref = params.reference([tokenize(p.text) for p in scratch.passages])
    for p in list(scratch.passages)[::40]:
        query = tokenize(p.text)[:5]
        scores = ref.get_scores(query)
        for hit in ours.index.search(query, 10):
            assert hit.score == scores[hit.index]
    # and the spliced snapshot was cached: the next start loads it as it is
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.archive.cache"):
        again = build_snapshot(corpus, cache_dir=cache, params=params)
    assert "byte for byte" in caplog.text
    same(again, scratch)


@pytest.mark.parametrize("change", ["add-middle", "add-first", "remove", "edit-first", "edit-last",
                                    "edit-two", "rename", "edit-two-gathered"])
def test_added_removed_and_renamed_stories_splice_too(corpus, tmp_path, caplog, monkeypatch, change):
    if change.endswith("-gathered"):  # many short stretches (an archive's halves, interleaved) are gathered
        monkeypatch.setattr("bot.archive.splice.SLICED_PIECES", 0)
        change = change.removesuffix("-gathered")
    cache = tmp_path / "cache"
    build_snapshot(corpus, cache_dir=cache)
    files = sorted(corpus.glob("*.md"))
    if change.startswith("add"):
        story = next(iter(Generator(seed=99).stories(10)))
        name = f"{middle(corpus).stem}-followup.md" if change == "add-middle" else "0000-first.md"
        (corpus / name).write_text(story.markdown().replace(f"id: {story.id}", "id: brand-new-story"),
                                   encoding="utf-8")
    elif change == "remove":
        middle(corpus, 0.3).unlink()
    elif change == "rename":
        path = middle(corpus)
        path.rename(corpus / f"zzz-{path.name}")
    else:
        targets = {"edit-first": [files[0]], "edit-last": [files[-1]], "edit-two": [files[3], files[-4]]}[change]
        for path in targets:
            text = path.read_text(encoding="utf-8")
            path.write_text(text.rstrip("\n") + "\n\nA new closing paragraph about the harbour.\n", encoding="utf-8")
    same(rebuilt(corpus, cache, caplog), build_snapshot(corpus))


def test_an_event_a_later_story_repeats_comes_back_when_the_first_story_drops_it(tmp_path, caplog):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    said = "The inquiry opened on March 3, 2020, in Ottawa."
    for name, body in (("a-first", f"Officials spoke.\n\n{said}"), ("b-later", f"A recap.\n\n{said}"),
                       ("c-other", "Nothing dated here.")):
        (corpus / f"{name}.md").write_text(f"---\ntitle: {name}\npublished: 2020-03-04\n---\n\n{body}\n",
                                           encoding="utf-8")
    cache = tmp_path / "cache"
    first = build_snapshot(corpus, cache_dir=cache)
    assert [e.doc_id for e in first.events if e.text == said] == ["a-first"]
    edit(corpus / "a-first.md", said, "The inquiry was announced.")
    ours = rebuilt(corpus, cache, caplog)
    assert [e.doc_id for e in ours.events if e.text == said] == ["b-later"]
    same(ours, build_snapshot(corpus))


def test_a_broken_edit_is_reported_as_a_full_load_reports_it_and_the_cache_is_kept(corpus, tmp_path, caplog):
    cache = tmp_path / "cache"
    build_snapshot(corpus, cache_dir=cache)
    before = sorted(p.name for p in cache.iterdir())
    story = middle(corpus)
    story.write_bytes(b"---\ntitle: [unclosed\n---\n\nText.\n")
    with pytest.raises(CorpusError) as spliced:
        build_snapshot(corpus, cache_dir=cache)
    with pytest.raises(CorpusError) as scratch:
        build_snapshot(corpus)
    assert spliced.value.problems == scratch.value.problems
    assert [p.file for p in spliced.value.problems] == [story.name]
    assert sorted(p.name for p in cache.iterdir()) == before


def test_an_edit_that_reuses_another_storys_id_is_refused(corpus, tmp_path):
    cache = tmp_path / "cache"
    build_snapshot(corpus, cache_dir=cache)
    first, story = sorted(corpus.glob("*.md"))[0], middle(corpus)
    text = story.read_text(encoding="utf-8")
    story.write_text(text.replace(f"id: {story.stem}\n", f"id: {first.stem.upper()}\n", 1), encoding="utf-8")
    with pytest.raises(CorpusError) as spliced:
        build_snapshot(corpus, cache_dir=cache)
    with pytest.raises(CorpusError) as scratch:
        build_snapshot(corpus)
    assert spliced.value.problems == scratch.value.problems
    assert "only in letter case" in str(spliced.value)


def test_when_most_stories_changed_the_corpus_is_built_afresh(corpus, tmp_path, caplog):
    cache = tmp_path / "cache"
    build_snapshot(corpus, cache_dir=cache)
    for path in sorted(corpus.glob("*.md"))[: STORIES * 2 // 3]:
        path.write_text(path.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.archive.cache"):
        ours = build_snapshot(corpus, cache_dir=cache)
    assert "reusing" not in caplog.text and "building it" in caplog.text
    same(ours, build_snapshot(corpus))
    assert np.array_equal(ours.index.df, build_snapshot(corpus).index.df)


def test_a_corpus_built_by_two_worker_processes_is_the_one_built_in_this_process(corpus, tmp_path, monkeypatch,
                                                                                  caplog):
    import bot.core.rebuild as snapshot

    monkeypatch.setattr(snapshot, "WORKER_STORIES", 10)
    with caplog.at_level(logging.INFO, logger="bot.core.rebuild"):
        ours = build_snapshot(corpus, cache_dir=tmp_path / "cache", workers=2)
    assert "in 2 worker processes" in caplog.text and "failed" not in caplog.text
    same(ours, build_snapshot(corpus))
    assert not list((tmp_path / "cache").glob("part-*"))  # the parts were read, then removed
    same(build_snapshot(corpus, cache_dir=tmp_path / "cache"), ours)  # and the whole was cached


def test_problems_found_by_worker_processes_are_reported_as_a_full_load_reports_them(corpus, tmp_path,
                                                                                     monkeypatch):
    import bot.core.rebuild as snapshot

    monkeypatch.setattr(snapshot, "WORKER_STORIES", 10)
    files = sorted(corpus.glob("*.md"))
    files[2].write_bytes(b"\xff\xfe not text")
    text = files[-3].read_text(encoding="utf-8")
    files[-3].write_text(text.replace(f"id: {files[-3].stem}\n", f"id: {files[1].stem}\n"), encoding="utf-8")
    with pytest.raises(CorpusError) as workers:
        build_snapshot(corpus, cache_dir=tmp_path / "cache", workers=2)
    with pytest.raises(CorpusError) as scratch:
        build_snapshot(corpus)
    assert workers.value.problems == scratch.value.problems
    assert [p.file for p in workers.value.problems] == [files[2].name, files[-3].name]
    assert not list((tmp_path / "cache").glob("part-*"))


def test_a_damaged_last_cache_is_not_reused_and_the_corpus_is_built_afresh(corpus, tmp_path, caplog):
    cache = tmp_path / "cache"
    build_snapshot(corpus, cache_dir=cache)
    (next(cache.glob("snapshot-*")) / "entry_counts.npy").write_bytes(b"not an array")
    edit(middle(corpus), "\n\n", "\n\nA new first paragraph.\n\n")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.archive.cache"):
        ours = build_snapshot(corpus, cache_dir=cache)
    assert "could not reuse the index cache" in caplog.text and "building it" in caplog.text
    same(ours, build_snapshot(corpus))


def test_a_reload_has_worker_processes_splice_and_cache_the_corpus_and_only_loads_it(corpus, tmp_path, monkeypatch,
                                                                                   caplog):
    """While a corpus serves, a full rebuild's parts are spliced and cached by a worker too: the bot's process,
    answering questions meanwhile, only loads the result."""
    import bot.core.rebuild as rebuild

    monkeypatch.setattr(rebuild, "WORKER_STORIES", 10)
    service = StoryService.open(corpus, cache_dir=tmp_path / "first",
                                runtime=Runtime(switch=None, settle=False, write_behind=False, workers=2))
    service.cache_dir = tmp_path / "fresh"  # nothing to reuse: the reload builds it all
    caplog.clear()
    with caplog.at_level(logging.INFO):
        service.reload()
    assert "in 2 worker processes" in caplog.text and "loaded" in caplog.text and "from the index cache" in caplog.text
    same(service.snapshot, build_snapshot(corpus))
    assert not list(service.cache_dir.glob("part-*")) and len(list(service.cache_dir.glob("snapshot-*"))) == 1
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.archive.cache"):
        same(build_snapshot(corpus, cache_dir=service.cache_dir), service.snapshot)
    assert "byte for byte" in caplog.text
