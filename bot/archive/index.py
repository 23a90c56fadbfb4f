"""BM25 over passages: the only module that imports rank_bm25 (top-k selection is ``topk.py``).

rank-bm25 is the reference scorer. Its ``get_scores`` walks every passage in Python for each query word,
which is fine for one story and slow for an archive (about 165 ms a question at 100k passages). The index
keeps the same statistics in a sparse term-by-passage matrix (CSC: one column of passages per term) whose
entries are each (passage, term) pair's whole contribution to the score, computed with rank-bm25's own idf
and with exactly the floating-point operations of its ``get_scores``. A query adds up the columns of its
words in query order, as rank-bm25 does, so scores are bit-for-bit rank-bm25's, and the top passages are
the same (ties broken by passage order).

Very common terms (in an eighth or more of the passages) also keep a dense column: adding a dense array
is several times faster than scattering into one, and there are few such terms.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_left
from array import array
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Mapping, NamedTuple, Sequence

import numpy as np
import rank_bm25

from .spelling import Speller
from .topk import Hit, kth_largest, top

log = logging.getLogger(__name__)

Variant = Literal["okapi", "l", "plus"]

_REFERENCE = {"okapi": rank_bm25.BM25Okapi, "l": rank_bm25.BM25L, "plus": rank_bm25.BM25Plus}

DENSE_SHARE = 1 / 8
"""A term in at least this share of the passages also gets a dense column."""
MAX_DENSE_BYTES = 256 * 1024 * 1024
"""Never spend more than this on dense columns."""
_SAMPLE_STRIDE = 64
_CHUNK = 1 << 20


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


class IndexBuilder:
    """Collects passages one at a time (term ids and counts in flat arrays, not token lists), so that
    building the index of a large archive needs little more memory than the index itself."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        self._terms = array("i")  # the distinct term ids of each passage, passage after passage
        self._counts = array("i")  # how often each of them occurs in the passage
        self._distinct = array("i")  # how many distinct terms each passage has
        self._lengths = array("q")  # how many tokens each passage has

    def add(self, tokens: Sequence[str]) -> None:
        vocab = self.vocabulary
        self.add_ids([vocab.setdefault(t, len(vocab)) for t in tokens])  # ids in order of first use

    def add_ids(self, ids: Iterable[int]) -> None:
        """A passage given as the ids of its tokens in ``vocabulary``, where the caller put each new term as
        ``len(vocabulary)`` (as ``add`` does): the counting is Counter's, in C, and needs no list of them."""
        counts = Counter(ids)
        values = list(counts.values())
        self._terms.fromlist(list(counts))  # from lists: a third faster than extending from dict views
        self._counts.fromlist(values)
        self._distinct.append(len(values))
        self._lengths.append(sum(values))

    def __len__(self) -> int:
        return len(self._lengths)

    def rows(self) -> Rows:
        """What was collected, as arrays (term ids are the vocabulary's, in order of first use)."""
        return Rows(*(np.frombuffer(a, dtype=dtype) if len(a) else np.zeros(0, dtype) for a, dtype in
                      ((self._terms, np.int32), (self._counts, np.int32), (self._distinct, np.int32),
                       (self._lengths, np.int64))))

    def build(self, params: Params = Params()) -> Bm25Index:
        return self.build_with_entries(params)[0]

    def build_with_entries(self, params: Params = Params()) -> tuple[Bm25Index, Entries]:
        """The index, and the entries it was computed from (to be cached for ``bot/archive/splice.py``)."""
        return build_index(params, list(self.vocabulary), self.rows())


class Rows(NamedTuple):
    """The token counts of passages, passage after passage: each passage's distinct term ids in order of
    first use with how often each occurs, how many distinct terms each passage has and how many tokens."""
    terms: np.ndarray
    counts: np.ndarray
    distinct: np.ndarray
    lengths: np.ndarray

    def offsets(self) -> np.ndarray:
        """Where each passage's entries start in ``terms`` and ``counts`` (and where the last ends)."""
        out = np.zeros(len(self.distinct) + 1, dtype=np.int64)
        np.cumsum(self.distinct, out=out[1:])
        return out


class Entries(NamedTuple):
    """What an index's scores are computed from, beside its ``indices`` (the passage of each entry, term
    after term): enough to recompute every score when the passages change (``splice.py``)."""
    counts: np.ndarray
    """How often the entry's term occurs in its passage (int32, one per entry)."""
    ranks: np.ndarray
    """Where the term is first used in the passage, among its distinct terms (int32, one per entry)."""
    lengths: np.ndarray
    """How many tokens each passage has (int64, one per passage)."""


def build_index(params: Params, vocabulary: Sequence[str], rows: Rows) -> tuple[Bm25Index, Entries]:
    """The index of passages given as rows (term ids into ``vocabulary``), with its entries."""
    n = len(rows.lengths)
    if not n:
        raise ValueError("cannot index an empty corpus")
    offsets = rows.offsets()
    ranks = np.arange(len(rows.terms), dtype=np.int32) - np.repeat(offsets[:-1], rows.distinct).astype(np.int32)
    order = np.argsort(rows.terms, kind="stable")  # by term, then passage (passages were added in order)
    indices = np.repeat(np.arange(n, dtype=np.int32), rows.distinct)[order]
    indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows.terms, minlength=len(vocabulary)), out=indptr[1:])
    return from_entries(params, list(vocabulary), indptr, indices,
                        Entries(rows.counts[order], ranks[order], rows.lengths))


def from_entries(params: Params, vocabulary: list[str], indptr: np.ndarray, indices: np.ndarray,
                 entries: Entries) -> tuple[Bm25Index, Entries]:
    """The index whose entries are given column by column: term ``t``'s passages are
    ``indices[indptr[t]:indptr[t + 1]]``, ascending, with their ``entries``. Terms that no passage uses are
    dropped; the others keep their order, whatever it is (a spliced vocabulary is not in order of first use).

    Scores are a build from scratch's, bit for bit, however the entries were put together: every
    contribution is computed from the counts and lengths alone, and the one statistic whose floating-point
    value depends on an order, Okapi's average idf, is summed in the order rank-bm25 meets the words (their
    first use in the passages), not in the vocabulary's."""
    n = len(entries.lengths)
    if not n:
        raise ValueError("cannot index an empty corpus")
    indptr = np.asarray(indptr, dtype=np.int64)
    df = np.diff(indptr)
    if not df.all():  # drop empty columns: only the column pointers move
        used = np.flatnonzero(df)
        vocabulary = [vocabulary[i] for i in used.tolist()]
        df = df[used]
        indptr = np.zeros(len(df) + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
    # first use of a term: the first passage of its column, then its rank there (distinct within a passage)
    first = indptr[:-1]
    canonical = np.lexsort((entries.ranks[first], indices[first]))
    idf = np.empty(len(df))
    idf[canonical] = reference_idf(params, df[canonical], n)
    lengths = entries.lengths
    avgdl = int(lengths.sum()) / n  # as rank-bm25 computes it
    data = np.empty(len(indices))
    for a, b in _term_chunks(indptr):  # small temporaries, and the GIL changes hands in between
        s, e = indptr[a], indptr[b]
        data[s:e] = contributions(params, entries.counts[s:e].astype(np.float64), lengths[indices[s:e]], avgdl,
                                  np.repeat(idf[a:b], df[a:b]))
    index = Bm25Index.from_arrays(params, vocabulary, df=df, idf=idf, indptr=indptr, indices=indices, data=data,
                                  size=n)
    return index, entries


def _term_chunks(indptr: np.ndarray) -> list[tuple[int, int]]:
    """Runs of whole columns of about ``_CHUNK`` entries each (a column larger than that is a run of its own)."""
    cuts = np.unique(np.searchsorted(indptr, np.arange(0, int(indptr[-1]), _CHUNK), side="right") - 1)
    bounds = [*cuts.tolist(), len(indptr) - 1]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def reference_idf(params: Params, df: np.ndarray, n: int) -> np.ndarray:
    """rank-bm25's own ``_calc_idf`` on the document frequencies (given in order of first appearance, as
    rank-bm25 meets the words), so idf values, and Okapi's average-idf floor, are the reference's."""
    if not len(df):
        return np.zeros(0)
    cls = _REFERENCE[params.variant]
    ref = cls.__new__(cls)
    ref.corpus_size, ref.idf, ref.epsilon = n, {}, params.epsilon
    ref._calc_idf(dict(enumerate(df.tolist())))
    return np.fromiter(ref.idf.values(), dtype=np.float64, count=len(df))


def contributions(params: Params, tf: np.ndarray, dl: np.ndarray, avgdl: float, idf: np.ndarray) -> np.ndarray:
    """What each (passage, term) pair adds to the passage's score: rank-bm25's expression, operation for
    operation, so that the sums are bit-for-bit its own."""
    k1, b, delta = params.k1, params.b, params.delta
    norm = 1 - b + b * dl.astype(np.float64) / avgdl
    if params.variant == "okapi":
        # idf * (q_freq * (k1 + 1) / (q_freq + k1 * (1 - b + b * doc_len / avgdl)))
        return idf * (tf * (k1 + 1) / (tf + k1 * norm))
    if params.variant == "plus":
        # idf * (delta + (q_freq * (k1 + 1)) / (k1 * (1 - b + b * doc_len / avgdl) + q_freq))
        return idf * (delta + (tf * (k1 + 1)) / (k1 * norm + tf))
    # BM25L: idf * q_freq * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta), ctd = q_freq / (1 - b + ...)
    ctd = tf / norm
    return idf * tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)


class Bm25Index:
    """Ranks passages (given as token lists) for a query, as rank-bm25 with the same Params would."""

    def __init__(self, tokenized: Iterable[Sequence[str]], params: Params = Params()) -> None:
        builder = IndexBuilder()
        for tokens in tokenized:
            builder.add(tokens)
        built = builder.build(params)
        self.__dict__.update(built.__dict__)

    @classmethod
    def from_arrays(cls, params: Params, terms: Sequence[str] | Mapping[str, int], *, size: int,
                    df: np.ndarray, idf: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
                    data: np.ndarray, dense: Callable[[], Mapping[int, np.ndarray]] | None = None) -> Bm25Index:
        """An index of ``size`` passages from its arrays (as ``arrays()`` gives them); ``terms`` in
        term-id order, or the vocabulary itself; ``dense`` reads the dense columns as ``dense_columns()``
        gave them (they are computed when it is not given, or fails)."""
        self = cls.__new__(cls)
        self.params = params
        self.vocabulary = terms if isinstance(terms, dict) else {t: i for i, t in enumerate(terms)}
        self.df = np.asarray(df, dtype=np.int64)
        self.idf = np.asarray(idf, dtype=np.float64)
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int32)
        self.data = np.asarray(data, dtype=np.float64)
        self.size = n = int(size)
        if n <= 0:
            raise ValueError("cannot index an empty corpus")
        v = len(self.df)
        if not (len(self.idf) == v and len(self.indptr) == v + 1 and self.indptr[-1] == len(self.indices)
                == len(self.data) and len(self.vocabulary) <= v):
            raise ValueError("inconsistent index arrays")
        # rank-bm25 adds idf * delta for a query word a BM25Plus passage lacks; the others add nothing
        self._absent = self.idf * params.delta if params.variant == "plus" else None
        # the fast path needs every contribution > 0 (then "score > 0" means "contains a query word")
        self._positive = params.variant != "plus" and bool(len(self.data) == 0 or self.data.min() > 0)
        self._read_dense = dense
        self._dense: dict[int, np.ndarray] | None = None
        self._speller: Speller | None = None
        self._local = threading.local()
        return self

    def prepare(self, checkpoint: Callable[[], None] = lambda: None) -> Bm25Index:
        """Build what searching needs besides the arrays (the dense columns, the speller's tables): the
        service calls this off the event loop for the index that is about to serve (``checkpoint`` every few
        thousand terms); an index that is only a step of a rebuild never pays for them. Searching an
        unprepared index prepares it first."""
        self._dense_now()
        if self._speller is None:
            self._speller = Speller(self.vocabulary, checkpoint)
        return self

    def _dense_now(self) -> dict[int, np.ndarray]:
        if self._dense is None:
            dense = None
            if self._read_dense is not None:
                try:
                    dense = dict(self._read_dense())
                except Exception as exc:  # noqa: BLE001 - they can be computed instead
                    log.warning("could not read the cached dense columns (%s: %s); computing them",
                                type(exc).__name__, exc)
                if dense is not None and any(len(col) != self.size or not 0 <= t < len(self.df)
                                             for t, col in dense.items()):
                    log.warning("the cached dense columns do not fit the index; computing them")
                    dense = None
            self._read_dense = None
            self._dense = self._dense_columns() if dense is None else dense
        return self._dense

    def _dense_columns(self) -> dict[int, np.ndarray]:
        n = self.size
        if n < 1024 or not self._positive:
            return {}
        common = np.flatnonzero(self.df >= DENSE_SHARE * n)
        common = common[np.argsort(-self.df[common], kind="stable")][: MAX_DENSE_BYTES // (8 * n)]
        out = {}
        for t in common.tolist():
            lo, hi = self.indptr[t], self.indptr[t + 1]
            col = np.zeros(n)
            col[self.indices[lo:hi]] = self.data[lo:hi]
            out[t] = col
        return out

    def dense_columns(self) -> dict[int, np.ndarray]:
        """The dense columns of the most common terms, by term id."""
        return dict(self._dense_now())

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays that define the index (with ``list(vocabulary)`` and ``params``), for the cache."""
        return {"df": self.df, "idf": self.idf, "indptr": self.indptr, "indices": self.indices, "data": self.data}

    # --- statistics ----------------------------------------------------------------------------------------

    def document_frequency(self, term: str) -> int:
        """How many passages contain ``term``."""
        i = self.vocabulary.get(term)
        return int(self.df[i]) if i is not None else 0

    # --- queries -------------------------------------------------------------------------------------------

    def search(self, query: Sequence[str], k: int = 5, within: tuple[int, int] | None = None) -> list[Hit]:
        """The ``k`` best passages that contain at least one query term, best first; equal scores in
        passage order. ``within=(lo, hi)`` looks only at the passages at positions lo to hi - 1.

        Scores equal rank-bm25's ``get_scores`` for the same tokens, bit for bit; passages that share no
        term with the query are never returned.
        """
        vocab = self.vocabulary
        ids = [vocab[t] for t in query if t in vocab]
        if not ids or k <= 0:
            return []
        if within is not None:
            return self._search_within(ids, k, *within)
        if self._positive:
            return self._search_positive(ids, k)
        return self._search_general(ids, k)

    def _buffer(self) -> np.ndarray:
        acc = getattr(self._local, "acc", None)
        if acc is None:
            acc = self._local.acc = np.zeros(self.size)
        return acc

    def _search_positive(self, ids: list[int], k: int) -> list[Hit]:
        """Every contribution is > 0, so a passage's score is > 0 exactly when it contains a query term."""
        acc = self._buffer()  # all +0.0 between searches
        indptr, indices, data, dense = self.indptr, self.indices, self.data, self._dense_now()
        try:
            rarest = None
            for t in ids:  # in query order, repeats included: the order rank-bm25 adds them in
                col = dense.get(t)
                if col is not None:
                    np.add(acc, col, out=acc)
                else:
                    lo, hi = indptr[t], indptr[t + 1]
                    np.add.at(acc, indices[lo:hi], data[lo:hi])
                    if hi - lo >= k and (rarest is None or hi - lo < rarest[1] - rarest[0]):
                        rarest = (lo, hi)
            # A lower bound for the k-th best score: the k-th best of any k or more passages.
            bound = 0.0
            if rarest is not None:
                bound = kth_largest(acc[indices[rarest[0]:rarest[1]]], k)
            if dense and self.size >= k * _SAMPLE_STRIDE:
                bound = max(bound, kth_largest(acc[::_SAMPLE_STRIDE], k))
            chosen = np.flatnonzero(acc >= bound) if bound > 0 else np.flatnonzero(acc)
            scores = acc[chosen]
            hits = top(chosen, scores, k)
        finally:
            if any(t in dense for t in ids):
                acc.fill(0.0)
            else:
                for t in ids:
                    acc[indices[indptr[t]:indptr[t + 1]]] = 0.0
        return hits

    def _search_within(self, ids: list[int], k: int, lo: int, hi: int) -> list[Hit]:
        """The passages at positions lo to hi - 1 only (one story): the same additions, in the same order."""
        acc = np.zeros(max(hi - lo, 0))
        seen = np.zeros(len(acc), dtype=bool)
        for t in ids:
            start, end = int(self.indptr[t]), int(self.indptr[t + 1])
            column = self.indices[start:end]  # ascending passage positions
            a, b = np.searchsorted(column, (lo, hi))
            idx = column[a:b] - lo
            seen[idx] = True
            if self._absent is None:
                np.add.at(acc, idx, self.data[start + a : start + b])
            else:
                present = acc[idx] + self.data[start + a : start + b]
                acc += self._absent[t]
                acc[idx] = present
        chosen = np.flatnonzero(seen)
        return top(chosen + lo, acc[chosen], k)

    def _search_general(self, ids: list[int], k: int) -> list[Hit]:
        """Any sign of contribution, and BM25Plus's score for absent words: exact, dense, slower."""
        n = self.size
        acc = np.zeros(n)
        seen = np.zeros(n, dtype=bool)
        for t in ids:
            lo, hi = self.indptr[t], self.indptr[t + 1]
            idx = self.indices[lo:hi]
            seen[idx] = True
            if self._absent is None:
                np.add.at(acc, idx, self.data[lo:hi])
            else:  # rank-bm25 adds idf * delta to passages without the word, its contribution to the rest
                present = acc[idx] + self.data[lo:hi]
                acc += self._absent[t]
                acc[idx] = present
        chosen = np.flatnonzero(seen)
        return top(chosen, acc[chosen], k)

    def terms_in(self, position: int, query: Sequence[str]) -> set[str]:
        """Which of the query terms the passage at ``position`` contains."""
        out = set()
        for term in set(query):
            t = self.vocabulary.get(term)
            if t is None:
                continue
            # bisect rather than np.searchsorted: numpy would release the GIL, and while a reload runs in
            # another thread each release costs the event loop a switch interval to get it back
            lo, hi = int(self.indptr[t]), int(self.indptr[t + 1])
            j = bisect_left(self.indices, position, lo, hi)
            if j < hi and self.indices[j] == position:
                out.add(term)
        return out

    def correct(self, term: str) -> str | None:
        """The indexed term closest in spelling to ``term`` ("embasi" -> "embassi"), itself when indexed, or
        None (see ``spelling.py``)."""
        return term if term in self.vocabulary else self.prepare()._speller.correct(term)

    def corrector(self) -> Callable[[str], str | None]:
        """``correct`` for the words of one question, with the question's lookups bounded (``spelling.py``)."""
        return self.prepare()._speller.corrector(self.vocabulary)

    def corrections(self, terms: Sequence[str]) -> list[str | None]:
        """``corrector()`` applied to each term of one question, in order."""
        return list(map(self.corrector(), terms))

