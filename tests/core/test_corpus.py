"""Corpus loading: all or nothing, every error names the file and the problem."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.core.corpus import CorpusError, load_corpus, read_stories
from bot.core.dates import PartialDate
from bot.files import read_fd, read_regular
from tests.conftest import CORPUS, write_story


def problems(folder: Path, **kw) -> list[str]:
    with pytest.raises(CorpusError) as info:
        load_corpus(folder, **kw)
    return [str(p) for p in info.value.problems]


def test_shipped_corpus_loads_with_its_metadata():
    corpus = load_corpus(CORPUS)
    [doc] = corpus.documents
    assert doc.id == "iran-canada-ties"
    assert doc.title.startswith("Canada refused to discuss Iran")
    assert doc.published == PartialDate(2020, 2) and doc.published.precision == "month"
    assert doc.url.startswith("https://www.theglobeandmail.com/politics/")
    assert doc.publisher == "The Globe and Mail"
    assert len(doc.paragraphs) == 20
    # page furniture is gone and the caption is kept out of the paragraphs
    text = "\n".join(doc.paragraphs)
    assert "Skip to main content" not in text and "newsletters" not in text
    assert "FABRICE COFFRINI" in doc.caption and "FABRICE" not in text
    assert doc.paragraphs[0].startswith("Iran proposed resuming some diplomatic ties")


def test_id_defaults_to_file_name_and_non_md_files_are_ignored(tmp_path):
    write_story(tmp_path, "follow-up.md")
    (tmp_path / "notes.txt").write_text("not a story")
    (tmp_path / "README").write_text("---\nbroken")
    [doc] = load_corpus(tmp_path).documents
    assert doc.id == "follow-up"
    assert doc.paragraphs == ("First paragraph.", "Second paragraph.")


@pytest.mark.parametrize(
    "content, expected",
    [
        ("no front matter here\n\ntext", "must start with front matter"),
        ("---\ntitle: x\npublished: 2020\n\nbody never closed", "not closed"),
        ("---\n- a\n- list\n---\nbody", "must be a mapping"),
        ("---\ntitle: [unclosed\n---\nbody", "not valid YAML"),
        ("---\npublished: 2020-02\n---\nbody", "`title` is required"),
        ("---\ntitle: x\n---\nbody", "`published` is required"),
        ("---\ntitle: x\npublished: 2020-13-45\n---\nbody", "published"),
        ("---\ntitle: x\npublished: 2019-02-29\n---\nbody", "does not exist"),
        ("---\ntitle: x\npublished: last week\n---\nbody", "YYYY, YYYY-MM or YYYY-MM-DD"),
        ("---\ntitle: x\npublished: 2020\n---\n\n   \n", "no text"),
        ("---\ntitle: x\npublished: 2020\nid: ../x\n---\nbody", "not a valid id"),
        ("---\ntitle: x\npublished: 2020\nurl: javascript:alert(1)\n---\nbody", "http(s)"),
        ("---\ntitle: ''\npublished: 2020\n---\nbody", "must not be empty"),
    ],
)
def test_a_broken_file_is_refused_with_its_name_and_reason(tmp_path, content, expected):
    write_story(tmp_path, "good.md")
    (tmp_path / "bad.md").write_text(content, encoding="utf-8")
    [problem] = problems(tmp_path)
    assert problem.startswith("bad.md: ")
    assert expected in problem


def test_not_utf8(tmp_path):
    (tmp_path / "latin.md").write_bytes("---\ntitle: Café\npublished: 2020\n---\nCafé".encode("latin-1"))
    [problem] = problems(tmp_path)
    assert problem.startswith("latin.md: ") and "not UTF-8" in problem


def test_size_cap(tmp_path):
    write_story(tmp_path, "huge.md", body="word " * 1000)
    [problem] = problems(tmp_path, max_file_bytes=1000)
    assert problem.startswith("huge.md: ") and "limit is 1,000" in problem


def test_duplicate_ids_name_both_files(tmp_path):
    write_story(tmp_path, "a.md", id="same")
    write_story(tmp_path, "b.md", id="same")
    [problem] = problems(tmp_path)
    assert problem == "b.md: id 'same' is already used by a.md"


def test_all_problems_are_reported_together_and_nothing_loads(tmp_path):
    write_story(tmp_path, "ok.md")
    (tmp_path / "one.md").write_text("nope")
    (tmp_path / "two.md").write_text("---\ntitle: x\n---\nbody")
    found = problems(tmp_path)
    assert [p.split(":")[0] for p in found] == ["one.md", "two.md"]


@pytest.mark.parametrize("setup, expected", [
    (lambda d: None, "no story files"),
    (lambda d: d.rmdir(), "does not exist"),
])
def test_empty_or_missing_folder(tmp_path, setup, expected):
    folder = tmp_path / "corpus"
    folder.mkdir()
    setup(folder)
    [problem] = problems(folder)
    assert expected in problem


def test_fingerprint_follows_content(tmp_path):
    path = write_story(tmp_path, "a.md")
    first = load_corpus(tmp_path).fingerprint
    assert load_corpus(tmp_path).fingerprint == first
    path.write_text(path.read_text() + "\nMore.\n")
    assert load_corpus(tmp_path).fingerprint != first


def test_crlf_bom_and_soft_wrapped_paragraphs(tmp_path):
    (tmp_path / "win.md").write_bytes(
        "\ufeff---\r\ntitle: x\r\npublished: 2020-02-14\r\n---\r\nOne line\r\nwrapped.\r\n\r\nTwo.\r\n".encode()
    )
    [doc] = load_corpus(tmp_path).documents
    assert doc.paragraphs == ("One line wrapped.", "Two.")
    assert doc.published.precision == "day"


def test_a_story_is_read_whole_whatever_size_it_was_expected_to_be(tmp_path):
    """``read_fd`` asks first for the size ``fstat`` gave; a file that grew since is read on to its end (or the
    limit), as a file object's ``read(limit)`` reads it."""
    path = tmp_path / "grown.md"
    path.write_bytes(bytes(range(256)) * 1000)
    for limit, size in [(10**6, 10), (1000, 10), (256_000, 0), (256_001, 256_000), (5, 256_000), (10**6, 10**6)]:
        fd = os.open(path, os.O_RDONLY)
        try:
            with open(path, "rb") as f:
                assert read_fd(fd, limit, size) == f.read(limit), (limit, size)
        finally:
            os.close(fd)
    assert read_regular(path, 1000) == path.read_bytes()[:1001] and read_regular(path, 10**6) == path.read_bytes()
    (tmp_path / "empty.md").write_bytes(b"")
    fd = os.open(tmp_path / "empty.md", os.O_RDONLY)
    assert read_fd(fd, 10, 0) == b""
    os.close(fd)


def test_stories_of_a_folder_that_is_gone_each_say_so(tmp_path):
    documents, found = read_stories(tmp_path / "gone", ["a.md", "b.md"])
    assert documents == [] and [str(p) for p in found] == ["a.md: does not exist", "b.md: does not exist"]
