"""The index cache is never served to a process whose libraries would build a different index: the key covers
the versions of what tokenizes, parses and scores (PyStemmer, lemminflect, PyYAML, pydantic, rank-bm25,
numpy), and the
Python version and its Unicode database."""

from __future__ import annotations

import importlib.metadata
import logging
import unicodedata

import pytest

from bot.core.service import StoryService

from .conftest import report


def served_from_cache(caplog) -> bool:
    return any("from the index cache" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("library", ["PyStemmer", "lemminflect", "PyYAML", "pydantic", "rank-bm25", "numpy"])
def test_another_library_version_means_a_rebuild(corpus_dir, tmp_path, caplog, monkeypatch, library):
    cache = tmp_path / "cache"
    StoryService.open(corpus_dir, cache_dir=cache)
    caplog.set_level(logging.INFO, logger="bot.archive.cache")
    StoryService.open(corpus_dir, cache_dir=cache)
    assert served_from_cache(caplog)  # the same versions: served

    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "999.0" if name.lower() == library.lower() else real(name))
    caplog.clear()
    service = StoryService.open(corpus_dir, cache_dir=cache)
    assert not served_from_cache(caplog)
    assert any("a library's version changed" in r.getMessage() for r in caplog.records)
    assert service.ask("Who is Mike Poole?").answered


def test_another_unicode_database_means_a_rebuild(corpus_dir, tmp_path, caplog, monkeypatch):
    cache = tmp_path / "cache"
    StoryService.open(corpus_dir, cache_dir=cache)
    monkeypatch.setattr(unicodedata, "unidata_version", "99.0.0")
    caplog.set_level(logging.INFO, logger="bot.archive.cache")
    StoryService.open(corpus_dir, cache_dir=cache)
    assert not served_from_cache(caplog)
    report("cache key", covers="PyStemmer, lemminflect, PyYAML, pydantic, pydantic-core, rank-bm25, numpy, Python, Unicode")
