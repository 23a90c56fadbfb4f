"""Documents -> Passages: one per paragraph; a very long paragraph is split at sentence ends.

``Passage`` itself is defined with the table that stores them (``bot/archive/table.py``)."""

from __future__ import annotations

from ..archive.table import Passage
from .corpus import Document
from .text import sentence_spans

__all__ = ["MAX_PASSAGE_CHARS", "Passage", "passages", "split_text"]

MAX_PASSAGE_CHARS = 900
"""A quote must fit an embed with its citation; longer paragraphs are split at sentence ends."""


def passages(doc: Document, max_chars: int = MAX_PASSAGE_CHARS) -> list[Passage]:
    out: list[Passage] = []
    for number, paragraph in enumerate(doc.paragraphs, start=1):
        pieces = split_text(paragraph, max_chars)
        if len(pieces) == 1:
            out.append(Passage(f"{doc.id}#{number}", doc.id, number, paragraph))
        else:
            out.extend(
                Passage(f"{doc.id}#{number}.{part}", doc.id, number, piece, part)
                for part, piece in enumerate(pieces, start=1)
            )
    return out


def split_text(text: str, max_chars: int) -> list[str]:
    """Cut ``text`` into verbatim pieces of at most ``max_chars``, at sentence ends where possible,
    then at spaces, then anywhere."""
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    current_start = current_end = None
    for s, e in sentence_spans(text):
        if current_start is not None and e - current_start <= max_chars:
            current_end = e
            continue
        if current_start is not None:
            pieces.append(text[current_start:current_end])
        if e - s <= max_chars:
            current_start, current_end = s, e
        else:
            pieces.extend(_split_long(text[s:e], max_chars))
            current_start = current_end = None
    if current_start is not None:
        pieces.append(text[current_start:current_end])
    return pieces


def _split_long(sentence: str, max_chars: int) -> list[str]:
    pieces = []
    rest = sentence
    while len(rest) > max_chars:
        cut = rest.rfind(" ", 0, max_chars + 1)
        if cut <= 0:
            cut = max_chars
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces

