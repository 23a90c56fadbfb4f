"""BM25 over passages: the only module that imports rank_bm25.

rank-bm25 is the reference scorer. Its ``get_scores`` walks every passage in Python for each query word,
which is fine for one story and slow for an archive, so the index keeps the same statistics (rank-bm25's
own idf formula, document lengths, k1, b, delta) in a sparse term-by-passage matrix of precomputed term
weights: a query then touches only the passages that contain its words, and ranks them exactly as
rank-bm25 would.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import rank_bm25
from scipy import sparse

Variant = Literal["okapi", "l", "plus"]

_REFERENCE = {"okapi": rank_bm25.BM25Okapi, "l": rank_bm25.BM25L, "plus": rank_bm25.BM25Plus}


@dataclass(frozen=True)
class Params:
    variant: Variant = "okapi"
    k1: float = 1.5
    b: float = 0.75
    delta: float = 0.5  # BM25L / BM25Plus only
    epsilon: float = 0.25  # BM25Okapi only

    def reference(self, tokenized: Sequence[Sequence[str]]) -> rank_bm25.BM25:
        """rank-bm25's own scorer with these parameters, for parity checks and baselines."""
        cls = _REFERENCE[self.variant]
        extra = {"epsilon": self.epsilon} if self.variant == "okapi" else {"delta": self.delta}
        return cls(list(tokenized), k1=self.k1, b=self.b, **extra)


@dataclass(frozen=True)
class Hit:
    index: int
    """Position of the passage in the sequence the index was built from."""
    score: float


class Bm25Index:
    """Ranks passages (given as token lists) for a query, as rank-bm25 with the same Params would."""

    def __init__(self, tokenized: Sequence[Sequence[str]], params: Params = Params()) -> None:
        if not tokenized:
            raise ValueError("cannot index an empty corpus")
        self.params = params
        self.size = n = len(tokenized)

        vocab: dict[str, int] = {}
        term_ids: list[int] = []
        lengths = np.fromiter((len(doc) for doc in tokenized), dtype=np.int64, count=n)
        for doc in tokenized:
            term_ids.extend([vocab.setdefault(t, len(vocab)) for t in doc])
        self.vocabulary = vocab
        rows = np.repeat(np.arange(n, dtype=np.int32), lengths)
        tf = sparse.csc_matrix(
            (np.ones(len(term_ids), dtype=np.float64), (rows, np.asarray(term_ids, dtype=np.int32))),
            shape=(n, max(len(vocab), 1)),
        )
        tf.sum_duplicates()
        self.df = df = np.diff(tf.indptr)
        avgdl = float(lengths.sum()) / n
        self.idf = self._idf(df, n)

        # term weight for each (passage, term) pair present, without idf
        p = params
        dl = lengths[tf.indices].astype(np.float64)
        f = tf.data
        if p.variant == "okapi":
            w = f * (p.k1 + 1) / (f + p.k1 * (1 - p.b + p.b * dl / avgdl))
            self._base = np.zeros(len(vocab))
        elif p.variant == "plus":
            w = f * (p.k1 + 1) / (p.k1 * (1 - p.b + p.b * dl / avgdl) + f)
            self._base = self.idf * p.delta  # BM25Plus gives every passage idf * delta per query term
        else:
            ctd = f / (1 - p.b + p.b * dl / avgdl)
            w = f * (p.k1 + 1) * (ctd + p.delta) / (p.k1 + ctd + p.delta)
            self._base = np.zeros(len(vocab))  # rank-bm25's BM25L multiplies by q_freq, so absent terms add 0
        tf.data = w
        self._weights = tf  # CSC: column t lists the passages containing term t and their weights
        self._by_shape: dict[tuple[str, int], list[str]] | None = None

    def _idf(self, df: np.ndarray, n: int) -> np.ndarray:
        # rank-bm25's own _calc_idf on the document frequencies, so idf values are the reference's
        ref = _REFERENCE[self.params.variant].__new__(_REFERENCE[self.params.variant])
        ref.corpus_size, ref.idf, ref.epsilon = n, {}, self.params.epsilon
        ref._calc_idf(dict(enumerate(df.tolist())))
        return np.fromiter((ref.idf[i] for i in range(len(df))), dtype=np.float64, count=len(df))

    # --- queries -----------------------------------------------------------------------------------------

    def __contains__(self, term: str) -> bool:
        return term in self.vocabulary

    def idf_of(self, term: str) -> float:
        """The term's idf; a term no passage contains gets the idf of a term in one passage."""
        i = self.vocabulary.get(term)
        return float(self.idf[i]) if i is not None else self.unseen_idf

    @property
    def unseen_idf(self) -> float:
        return float(self.idf.max()) if len(self.idf) else 1.0

    def document_frequency(self, term: str) -> int:
        """How many passages contain ``term``."""
        i = self.vocabulary.get(term)
        return int(self.df[i]) if i is not None else 0

    def search(self, query: Sequence[str], k: int = 5) -> list[Hit]:
        """The ``k`` best passages that contain at least one query term, best first.

        Scores equal rank-bm25's ``get_scores`` for the same tokens (up to float rounding); passages that
        share no term with the query are never returned.
        """
        counts = Counter(t for t in query if t in self.vocabulary)
        if not counts or k <= 0:
            return []
        w = self._weights
        idx_parts, score_parts = [], []
        base = 0.0
        for term, qf in counts.items():
            t = self.vocabulary[term]
            lo, hi = w.indptr[t], w.indptr[t + 1]
            idx_parts.append(w.indices[lo:hi])
            score_parts.append(w.data[lo:hi] * (self.idf[t] * qf))
            base += self._base[t] * qf
        if len(idx_parts) == 1:
            cand, scores = idx_parts[0], score_parts[0]
        else:
            cand, inverse = np.unique(np.concatenate(idx_parts), return_inverse=True)
            scores = np.bincount(inverse, weights=np.concatenate(score_parts), minlength=len(cand))
        if base:
            scores = scores + base
        if len(cand) > k:
            top = np.argpartition(-scores, k - 1)[:k]
        else:
            top = np.arange(len(cand))
        order = top[np.lexsort((cand[top], -scores[top]))]
        return [Hit(int(cand[i]), float(scores[i])) for i in order]

    def terms_in(self, position: int, query: Sequence[str]) -> set[str]:
        """Which of the query terms the passage at ``position`` contains."""
        out = set()
        w = self._weights
        for term in set(query):
            t = self.vocabulary.get(term)
            if t is None:
                continue
            col = w.indices[w.indptr[t] : w.indptr[t + 1]]
            j = np.searchsorted(col, position)
            if j < len(col) and col[j] == position:
                out.add(term)
        return out

    def correct(self, term: str) -> str | None:
        """The indexed term closest in spelling to an unknown ``term`` ("embasi" -> "embassi"), or None."""
        if term in self.vocabulary:
            return term
        if len(term) < 5 or not term.isalpha():
            return None
        if self._by_shape is None:
            shapes: dict[tuple[str, int], list[str]] = defaultdict(list)
            for known in self.vocabulary:
                if known.isalpha() and len(known) >= 4:
                    shapes[known[0], len(known)].append(known)
            self._by_shape = dict(shapes)
        pool = [w for d in (-1, 0, 1) for w in self._by_shape.get((term[0], len(term) + d), ())]
        match = difflib.get_close_matches(term, pool, n=1, cutoff=0.8)
        return match[0] if match else None
