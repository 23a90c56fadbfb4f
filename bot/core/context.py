"""The paragraphs around a quoted passage ("More context"), and the short references buttons carry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Mapping

from .corpus import Document


@dataclass(frozen=True)
class Context:
    document: Document
    paragraph: int
    """1-based number of the quoted paragraph."""
    quoted: str
    """The quoted passage, verbatim (a part of its paragraph when the paragraph was split)."""
    before: str | None
    """The paragraph before, verbatim; None at the start of the story."""
    after: str | None


def around(documents: Mapping[str, Document], passage_id: str, quoted: str | None = None) -> Context | None:
    """The quoted paragraph of ``passage_id`` with the one before and the one after; None if the story or the
    paragraph is no longer in the corpus."""
    doc_id, _, rest = passage_id.rpartition("#")
    number = rest.partition(".")[0]
    doc = documents.get(doc_id)
    if doc is None or not number.isdigit() or not 1 <= int(number) <= len(doc.paragraphs):
        return None
    n = int(number)
    paras = doc.paragraphs
    return Context(doc, n, quoted if quoted is not None else paras[n - 1],
                   paras[n - 2] if n > 1 else None, paras[n] if n < len(paras) else None)


def doc_key(doc_id: str) -> str:
    """A short, stable stand-in for a story id (ids may be 100 characters; a button's id holds 100 in all)."""
    return hashlib.sha256(doc_id.encode()).hexdigest()[:8]


def passage_ref(passage_id: str) -> str:
    """``iran-canada-ties#8.2`` -> ``3f9a01bc#8.2``."""
    doc_id, _, rest = passage_id.rpartition("#")
    return f"{doc_key(doc_id)}#{rest}"


def resolve_ref(ref: str, doc_ids: Iterable[str]) -> str | None:
    """The passage id a ``passage_ref`` stands for, among the stories loaded now."""
    key, _, rest = ref.partition("#")
    for doc_id in doc_ids:
        if doc_key(doc_id) == key:
            return f"{doc_id}#{rest}"
    return None
