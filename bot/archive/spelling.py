"""Spelling correction: a question word the stories don't contain -> the indexed word closest in spelling.

The answer is difflib's: ``difflib.get_close_matches(term, pool, n=1, cutoff=0.8)`` over the indexed words of
the same first letter and about the same length (the best ratio, equal ratios to the greater word). What
differs is the cost, which is bounded whatever the question:

- Candidates are ranked by an upper bound of their ratio (difflib's ``quick_ratio``: the letters the two
  words share, whatever their order), computed for all the words of a first letter and length at once from
  letter counts. In that order, a tighter bound (the longest common subsequence, bit-parallel: a microsecond)
  skips the candidates that cannot reach the cutoff or the best ratio found, and the exact ratio is computed
  only for the others, until no bound can beat the best: the result is difflib's, usually after a ratio or two.
- At most ``MAX_TRIED`` candidates and ``MAX_RATIOS`` exact ratios per word: an anagram-like word ("ysambes")
  has hundreds of candidates whose letters all match. When a limit is reached, the best ratio found among the
  candidates with the most letters in common is the answer (or None below the cutoff); ordinary typos never
  reach them (at most 54 candidates and 4 ratios for 4,000 typos of an archive's words).
- At most ``MAX_WORDS`` words per question are looked up, the first ones in question order: a question of
  dozens of unknown words is noise, not typos. The others are left as they are (unknown: they match nothing
  and count against the answer, as any word the stories lack).

The limits are counts, not clocks, so the same question always gets the same corrections; words longer than
``MAX_LENGTH`` are not corrected. The worst case, 4 words that each take every candidate and ratio allowed,
costs 1.2 to 1.5 ms at 300k passages (``./dev bench --spelling-only``).
"""

from __future__ import annotations

import difflib
import string
from collections import Counter, defaultdict
from typing import Callable, Container, Iterable, Sequence

import numpy as np

CUTOFF = 0.8
"""difflib's similarity ratio a correction needs."""
MIN_LENGTH = 5
"""Shorter words are never corrected (too many near neighbours)."""
MAX_TRIED = 64
"""Candidates looked at per word at most (each costs a microsecond or two)."""
MAX_RATIOS = 8
"""Exact ratios computed per word at most (each costs about 15 microseconds; a typo needs 1 to 4)."""
MAX_WORDS = 4
"""Words looked up per question at most."""
MAX_LENGTH = 60
"""Longer words are never corrected (nor offered as corrections): no typo is that long."""
_MEMO = 10_000

_LETTERS = {c: i for i, c in enumerate(string.ascii_lowercase)}
_OTHER = len(_LETTERS)
"""One column counts every letter that is not a-z: its minimum is still an upper bound of what they share."""


def _column(char: str) -> int:
    return _LETTERS.get(char, _OTHER)


def _letter_counts(words: list[str]) -> np.ndarray:
    """How often each letter occurs in each word: a row per letter a-z, and one for every other character
    (a row per letter is fast to reduce), a column per word."""
    n = len(words)
    codes = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32)
    rows = codes - np.uint32(ord("a"))  # below "a" wraps around, far above "z"
    rows = np.where(rows < len(_LETTERS), rows, _OTHER).astype(np.int64)
    cells = rows * n + np.repeat(np.arange(n), [len(w) for w in words])
    return np.bincount(cells, minlength=(_OTHER + 1) * n).reshape(_OTHER + 1, n).astype(np.uint8)


class Speller:
    """Corrects terms against a vocabulary of index terms (built once, off the event loop)."""

    def __init__(self, vocabulary: Iterable[str], checkpoint: Callable[[], None] = lambda: None) -> None:
        by_letter: dict[str, list[str]] = defaultdict(list)
        for i, known in enumerate(vocabulary):
            if known.isalpha() and MIN_LENGTH - 1 <= len(known) <= MAX_LENGTH + 1:
                by_letter[known[0]].append(known)
            if i % 4096 == 0:
                checkpoint()  # a reload gives way to questions here
        self._words = dict(by_letter)
        # per first letter, made the first time a word of that letter is looked up (a few milliseconds: most
        # reloads serve no typo of most letters): its words by length, then alphabetically (so corrections
        # never depend on the vocabulary's order), their letter counts and lengths, and where each length
        # starts, so that the words of lengths L-1..L+1 are one slice
        self._letters: dict[str, tuple[list[str], np.ndarray, np.ndarray, np.ndarray]] = {}
        self._memo: dict[str, str | None] = {}
        self.work = (0, 0)
        """How many candidates and exact ratios the last lookup took (for the benchmark)."""

    def _table(self, first: str) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray] | None:
        entry = self._letters.get(first)
        if entry is None and first in self._words:
            words = sorted(self._words[first])
            words.sort(key=len)  # stable: alphabetical within a length
            lengths = np.array([len(w) for w in words], dtype=np.int64)
            entry = self._letters[first] = (words, _letter_counts(words), lengths,
                                            np.searchsorted(lengths, np.arange(MAX_LENGTH + 3)))
        return entry

    def correct(self, term: str) -> str | None:
        """The indexed word closest to ``term``, an unknown word, or None."""
        if not MIN_LENGTH <= len(term) <= MAX_LENGTH or not term.isalpha():
            return None
        if term in self._memo:
            return self._memo[term]
        result = self._closest(term)
        if len(self._memo) >= _MEMO:
            self._memo.clear()
        self._memo[term] = result
        return result

    def forget(self) -> None:
        """Drop the remembered corrections (the benchmark times lookups, not the memo)."""
        self._memo.clear()

    def corrector(self, known: Container[str]) -> Callable[[str], str | None]:
        """``correct`` for the words of one question: a term in ``known`` (the index's vocabulary) is itself,
        and at most ``MAX_WORDS`` distinct unknown words are looked up (the first ones asked); later ones
        get None."""
        looked: dict[str, str | None] = {}

        def correct(term: str) -> str | None:
            if term in known:
                return term
            if not MIN_LENGTH <= len(term) <= MAX_LENGTH or not term.isalpha():
                return None
            if term not in looked:
                if len(looked) == MAX_WORDS:
                    return None
                looked[term] = self.correct(term)
            return looked[term]

        return correct

    def correct_all(self, terms: Sequence[str], known: Container[str]) -> list[str | None]:
        """``corrector(known)`` applied to each of a question's terms, in order."""
        return list(map(self.corrector(known), terms))

    def candidates(self, term: str) -> int:
        """How many indexed words could be ``term``'s correction before any exact ratio is computed."""
        found = self._bounds(term)
        return 0 if found is None else int((found[2] >= CUTOFF).sum())

    def _bounds(self, term: str) -> tuple[list[str], int, np.ndarray] | None:
        """The words of the same first letter and length +-1 (``words[lo:]``) and an upper bound of each
        one's ratio: difflib's ``quick_ratio`` (the letters they share, in any order), for all at once."""
        entry = self._table(term[0])
        if entry is None:
            return None
        words, counts, lengths, starts = entry
        lo, hi = int(starts[len(term) - 1]), int(starts[len(term) + 2])
        if lo == hi:
            return None
        wanted = np.zeros(_OTHER + 1, dtype=np.uint8)
        for char, n in Counter(term).items():
            wanted[_column(char)] += n
        rows = np.flatnonzero(wanted)  # the term's letters: no other letter can be shared
        shared = np.add.reduce(np.minimum(counts[rows, lo:hi], wanted[rows, None]), axis=0, dtype=np.int64)
        return words, lo, 2.0 * shared / (len(term) + lengths[lo:hi])  # difflib's _calculate_ratio

    def _closest(self, term: str) -> str | None:
        found = self._bounds(term)
        if found is None:
            return None
        words, lo, bound = found
        possible = np.flatnonzero(bound >= CUTOFF)
        if not len(possible):
            return None
        order = possible[np.argsort(-bound[possible], kind="stable")][:MAX_TRIED]  # most letters in common first
        masks: dict[str, int] = {}
        for at, char in enumerate(term):
            masks[char] = masks.get(char, 0) | 1 << at
        full, total = (1 << len(term)) - 1, len(term)
        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(term)  # as get_close_matches: the term is b, each candidate a
        best: tuple[float, str] | None = None
        ratios = tried = 0
        for i, limit in zip(order.tolist(), bound[order].tolist()):
            if best is not None and limit < best[0]:
                break  # no candidate left can beat (or tie) the best ratio
            tried += 1
            word = words[lo + i]
            # a tighter bound: the matching blocks are a common subsequence, so at most the longest one
            # (bit-parallel LCS, Hyyrö 2004: a microsecond where the ratio takes 15)
            v = full
            for char in word:
                u = v & masks.get(char, 0)
                v = ((v + u) | (v - u)) & full
            common = total - v.bit_count()
            if 2.0 * common / (len(word) + total) < (CUTOFF if best is None else max(CUTOFF, best[0])):
                continue
            if ratios == MAX_RATIOS:
                break
            ratios += 1
            matcher.set_seq1(word)
            ratio = matcher.ratio()
            if ratio >= CUTOFF and (best is None or (ratio, word) > best):
                best = (ratio, word)
        self.work = (tried, ratios)
        return best[1] if best is not None else None
