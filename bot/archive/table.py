"""The passage table: the passages of an archive as integer columns over its paragraph strings.

``Passage`` is the one type that crosses between the archive and the story core: the core cuts stories into
passages (``bot/core/passages.py``), the table stores them and gives them back.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Iterator, Sequence, overload

import numpy as np


@dataclass(frozen=True)
class Passage:
    id: str
    """``<doc id>#<paragraph>``, or ``<doc id>#<paragraph>.<part>`` for the parts of a split paragraph."""
    doc_id: str
    paragraph: int
    """1-based paragraph number in the story."""
    text: str
    """The exact words of the story."""
    part: int = 0


class PassageTable(Sequence[Passage]):
    """The passages of a corpus, stored as columns; a Passage is made when one is asked for.

    An archive has hundreds of thousands of passages: as columns they cost a few integers each (the text is
    the story's own paragraph string, or a slice of it), load from the cache in milliseconds and give the
    garbage collector nothing to walk.
    """

    def __init__(self, doc_ids: Sequence[str], paragraphs: Sequence[str], *, doc: np.ndarray, para: np.ndarray,
                 number: np.ndarray, part: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        self.doc_ids = list(doc_ids)
        """The document ids, in corpus order."""
        self.paragraphs = list(paragraphs)
        """Every paragraph of every document, in corpus order."""
        self.columns = {name: np.asarray(col, dtype=np.int32) for name, col in
                        (("doc", doc), ("para", para), ("number", number), ("part", part),
                         ("start", start), ("end", end))}
        n = len(self.columns["doc"])
        if any(len(col) != n for col in self.columns.values()):
            raise ValueError("passage columns differ in length")
        self._doc_index: dict[str, int] | None = None
        self._cols = []
        for col in self.columns.values():  # plain arrays: indexing them is several times faster than numpy's
            a = array("i")
            a.frombytes(col.tobytes())
            self._cols.append(a)

    def __len__(self) -> int:
        return len(self._cols[0])

    @overload
    def __getitem__(self, i: int) -> Passage: ...
    @overload
    def __getitem__(self, i: slice) -> list[Passage]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._make(j) for j in range(len(self))[i]]
        return self._make(range(len(self))[i])

    def __iter__(self) -> Iterator[Passage]:
        return map(self._make, range(len(self)))

    def _make(self, i: int) -> Passage:
        d, para, number, part, start, end = (col[i] for col in self._cols)
        doc_id = self.doc_ids[d]
        paragraph = self.paragraphs[para]
        text = paragraph if start == 0 and end == len(paragraph) else paragraph[start:end]
        pid = f"{doc_id}#{number}.{part}" if part else f"{doc_id}#{number}"
        return Passage(pid, doc_id, number, text, part)

    def of_document(self, doc_id: str) -> list[Passage]:
        """The passages of one story (none if it is not in the table)."""
        return self[slice(*self.range_of(doc_id))]

    def position(self, passage_id: str) -> int:
        """Where the passage with this id is in the table; KeyError if nowhere."""
        doc_id, _, rest = passage_id.rpartition("#")
        number, _, part = rest.partition(".")
        want = (int(number), int(part or 0)) if number.isdigit() and (not part or part.isdigit()) else None
        lo, hi = self.range_of(doc_id)
        numbers, parts = self._cols[2], self._cols[3]
        for i in range(lo, hi):
            if (numbers[i], parts[i]) == want:
                return i
        raise KeyError(passage_id)

    def range_of(self, doc_id: str) -> tuple[int, int]:
        """Positions ``(lo, hi)`` of the story's passages: lo to hi - 1 ((0, 0) if it is not loaded)."""
        if self._doc_index is None:
            self._doc_index = {d: i for i, d in enumerate(self.doc_ids)}
        d = self._doc_index.get(doc_id)
        if d is None:
            return 0, 0
        docs = self.columns["doc"]  # in document order
        return int(np.searchsorted(docs, d, "left")), int(np.searchsorted(docs, d, "right"))

    def counts(self) -> dict[str, int]:
        """How many passages each document has."""
        per_doc = np.bincount(self.columns["doc"], minlength=len(self.doc_ids)).tolist()
        return dict(zip(self.doc_ids, per_doc))


class PassageTableBuilder:
    """Collects the passages of one document after another into the columns of a PassageTable."""

    def __init__(self) -> None:
        self.doc_ids: list[str] = []
        self.paragraphs: list[str] = []
        self.cols = [array("i") for _ in range(6)]  # doc, para, number, part, start, end

    def add(self, doc_id: str, paragraphs: Sequence[str], ps: Sequence[Passage]) -> None:
        """One story: its id, its paragraphs, and its passages (each paragraph, or pieces of it, in order)."""
        d = len(self.doc_ids)
        self.doc_ids.append(doc_id)
        first = len(self.paragraphs)
        self.paragraphs.extend(paragraphs)
        cursor = (0, 0)
        for p in ps:
            text = paragraphs[p.paragraph - 1]
            if p.text is text or p.text == text:
                start, end = 0, len(text)
            else:  # a piece of a split paragraph: find it after the previous piece
                at = cursor[1] if cursor[0] == p.paragraph else 0
                start = text.find(p.text, at)
                if start < 0:
                    raise ValueError(f"passage {p.id} is not part of its paragraph")
                end = start + len(p.text)
            cursor = (p.paragraph, end)
            for col, value in zip(self.cols, (d, first + p.paragraph - 1, p.paragraph, p.part, start, end)):
                col.append(value)

    def build(self) -> PassageTable:
        doc, para, number, part, start, end = (np.frombuffer(c, dtype=np.int32) if len(c) else
                                               np.zeros(0, np.int32) for c in self.cols)
        return PassageTable(self.doc_ids, self.paragraphs, doc=doc, para=para, number=number, part=part,
                            start=start, end=end)
