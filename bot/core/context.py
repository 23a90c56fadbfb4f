"""The paragraphs around a quoted passage ("More context"), and the short references buttons carry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

from .corpus import Document
from .passages import Passage


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
    changed: bool = False
    """The quoted passage reads differently now than when it was quoted (the corpus was reloaded since)."""


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


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:4]


def passage_ref(passage_id: str, text: str | None = None) -> str:
    """``iran-canada-ties#8.2`` -> ``3f9a01bc#8.2``, and ``~`` a short hash of the quoted text when given (so
    that a later click can tell that the paragraph was edited since)."""
    doc_id, _, rest = passage_id.rpartition("#")
    return f"{doc_key(doc_id)}#{rest}" + (f"~{text_key(text)}" if text is not None else "")


def resolve_ref(ref: str, doc_ids: Iterable[str]) -> tuple[str, str | None] | None:
    """(passage id, text hash or None) that a ``passage_ref`` stands for, among the stories loaded now."""
    ref, _, text = ref.partition("~")
    key, _, rest = ref.partition("#")
    for doc_id in doc_ids:
        if doc_key(doc_id) == key:
            return f"{doc_id}#{rest}", text or None
    return None


def context_of(ref: str, documents: Mapping[str, Document], passages: Sequence[Passage]) -> Context | None:
    """The context of the passage a ``passage_ref`` names, as the corpus reads now; None if it is gone."""
    resolved = resolve_ref(ref, documents)
    if resolved is None:
        return None
    passage_id, key = resolved
    try:
        if hasattr(passages, "position"):  # a PassageTable: found without a walk over the archive
            text = passages[passages.position(passage_id)].text  # type: ignore[attr-defined]
        else:
            text = next(p.text for p in passages if p.id == passage_id)
    except (KeyError, StopIteration):
        return None
    found = around(documents, passage_id, quoted=text)
    return replace(found, changed=key is not None and text_key(text) != key) if found else None
