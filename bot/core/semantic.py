"""The semantic stage: a small static embedding model (WordLlama, 256 dimensions, numpy only) whose weights
ship inside its PyPI wheel, so nothing is downloaded. It finds passages that say what a question asks in
other words ("black boxes" for "flight recorders") and tells a related question from an unrelated one.

It is optional: where the model cannot load, storybot answers with BM25 alone (``load_model`` returns None).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .lemmas import in_dictionary
from .text import tokens

log = logging.getLogger(__name__)

MAX_PASSAGES = 5_000
"""Embed corpora up to this size (0.1 ms a passage at build time, 1 KiB of memory each); larger archives
are served by BM25 alone."""


@lru_cache(maxsize=1)
def load_model():
    """WordLlama from its own package folder, offline; None (logged once) where it cannot load."""
    try:
        import wordllama

        folder = Path(wordllama.__file__).parent
        return wordllama.WordLlama.load(cache_dir=folder, disable_download=True)
    except Exception as exc:  # an absent or broken install: fall back to BM25 alone
        log.warning("semantic model unavailable, answering with BM25 alone: %s", exc)
        return None


def model_version() -> str:
    """What the embeddings depend on, for the cache key."""
    try:
        from importlib.metadata import version

        return f"wordllama {version('wordllama')}"
    except Exception:
        return "wordllama absent"


SYNONYM_SIMILARITY = 0.6
"""Two words at least this similar mean much the same ("killed" and "died": 0.71, "plane" and "flight":
0.60; unrelated words score near 0)."""
MAX_SYNONYMS = 2


class Embeddings:
    """Unit vectors of the loaded passages, in passage order, and of the words they use."""

    def __init__(self, vectors: np.ndarray, terms: list[str], word_vectors: np.ndarray) -> None:
        self.vectors = vectors
        self.terms = terms
        """Each index term of an English word the passages use, ..."""
        self.word_vectors = word_vectors
        """... and the unit vector of the first word that stands for it."""
        self._synonyms: dict[str, dict[str, float]] = {}

    @classmethod
    def build(cls, texts: Iterable[str], count: int) -> Embeddings | None:
        if count == 0 or count > MAX_PASSAGES:
            return None
        model = load_model()
        if model is None:
            return None
        texts = list(texts)
        words: dict[str, str] = {}
        for text in texts:
            for tok in tokens(text):
                words.setdefault(tok.term, text[tok.start : tok.end].lower())
        terms = [t for t, w in words.items() if w.isalpha() and in_dictionary(w)]  # English words only
        vectors = np.asarray(model.embed(texts, norm=True), dtype=np.float32)
        word_vectors = (np.asarray(model.embed([words[t] for t in terms], norm=True), dtype=np.float32)
                        if terms else np.zeros((0, vectors.shape[1]), dtype=np.float32))
        return cls(vectors, terms, word_vectors)

    def synonyms(self, word: str, term: str | None) -> dict[str, float]:
        """Index terms of words that mean much the same as ``word`` (not its own ``term``)."""
        if not self.terms:
            return {}
        known = self._synonyms.get(word)
        if known is None:
            sims = self.word_vectors @ _embed_word(word)
            known = self._synonyms[word] = {self.terms[i]: float(sims[i]) for i in _top(sims, MAX_SYNONYMS + 1)
                                            if sims[i] >= SYNONYM_SIMILARITY}
            if len(self._synonyms) > 65536:
                self._synonyms.clear()
        return {t: sim for t, sim in known.items() if t != term}

    def similarities(self, question: str, positions: Sequence[int]) -> np.ndarray:
        """Cosine similarity of the question with the passages at ``positions``."""
        return self.vectors[np.asarray(positions, dtype=np.int64)] @ _embed(question)

    def nearest(self, question: str, k: int, within: tuple[int, int] | None) -> list[int]:
        """Positions of the ``k`` passages closest in meaning (within ``(lo, hi)`` if given)."""
        lo, hi = within if within is not None else (0, len(self.vectors))
        if hi <= lo:
            return []
        sims = self.vectors[lo:hi] @ _embed(question)
        return [i + lo for i in _top(sims, k)]


def _top(values: np.ndarray, k: int) -> list[int]:
    """Positions of the ``k`` largest values, largest first (k is small: repeated argmax beats a partition,
    which numpy makes slow on the tightly clustered similarities of one corpus)."""
    values = values.copy()
    out = []
    for _ in range(min(k, len(values))):
        i = int(values.argmax())
        out.append(i)
        values[i] = -np.inf
    return out


@lru_cache(maxsize=65536)
def _embed_word(word: str) -> np.ndarray:
    return _embed.__wrapped__(word)


@lru_cache(maxsize=256)
def _embed(question: str) -> np.ndarray:
    vector = load_model().embed([question], norm=True)[0]
    return np.asarray(vector, dtype=np.float32)
