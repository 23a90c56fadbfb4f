"""Story files -> validated Documents. A corpus loads whole or not at all."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .dates import PartialDate

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 2 * 1024 * 1024
"""A story file larger than this is refused (a long news story is well under 100 KB)."""

CHECKPOINT_FILES = 2000

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n[ \t]*\n")


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text, so `published: 2020-13-45` gets our error, not PyYAML's."""


_FrontMatterLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Problem:
    """Why one file (or the folder) cannot be loaded."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


class CorpusError(Exception):
    """The corpus is invalid; ``problems`` names every file and what is wrong with it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(map(str, self.problems)))


class FrontMatter(BaseModel):
    """The YAML header of a story file."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    title: str
    published: PartialDate
    id: str | None = None
    url: str | None = None
    publisher: str | None = None
    caption: str | None = None

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        if not v:
            raise ValueError("must not be empty")
        return v

    @field_validator("published", mode="before")
    @classmethod
    def _published(cls, v: Any) -> PartialDate:
        return PartialDate.parse(v)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        if v is not None and not valid_id(v):
            raise ValueError(f"{v!r} is not a valid id (letters, digits, '-', '_' and inner dots only)")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not _URL.match(v):
            raise ValueError(f"{v!r} is not an http(s) address")
        return v

    @field_validator("title", "id", "url", "publisher", "caption", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        # YAML turns `id: 2020` into an int and `title: yes` into a bool; ids and titles are text.
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return str(v)
        return v


@dataclass(frozen=True)
class Document:
    """One story: its metadata and its paragraphs, verbatim."""

    id: str
    title: str
    published: PartialDate
    paragraphs: tuple[str, ...]
    url: str | None = None
    publisher: str | None = None
    caption: str | None = None
    file: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class Corpus:
    documents: tuple[Document, ...]
    fingerprint: str
    """A digest of every file's name and content: equal fingerprints, equal corpora."""

    def document(self, doc_id: str) -> Document:
        for doc in self.documents:
            if doc.id == doc_id:
                return doc
        raise KeyError(doc_id)


def valid_id(value: str) -> bool:
    return bool(_ID.match(value)) and len(value) <= 100


def story_files(folder: Path) -> list[Path]:
    """The story files of a corpus folder: visible ``*.md`` files, sorted by name."""
    return [folder / name for name in story_names(folder)]


def story_names(folder: str | Path) -> list[str]:
    """The names of the story files in ``folder``, sorted (scandir: thousands listed in milliseconds)."""
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.name.endswith(".md") and not e.name.startswith(".")
                      and e.is_file())


def load_corpus(folder: str | Path, *, max_file_bytes: int = MAX_FILE_BYTES,
                checkpoint: Callable[[], None] | None = None) -> Corpus:
    """Load and validate every story in ``folder``; raise CorpusError listing all problems.

    ``checkpoint``, if given, is called after every ``CHECKPOINT_FILES`` files (the service uses it to keep
    the garbage collector's work small while a large archive loads)."""
    folder = Path(folder)
    if not folder.exists():
        raise CorpusError([Problem(str(folder), "the corpus folder does not exist")])
    if not folder.is_dir():
        raise CorpusError([Problem(str(folder), "is not a folder")])
    try:
        files = story_files(folder)
    except OSError as exc:
        raise CorpusError([Problem(str(folder), f"cannot list the folder ({exc.strerror or exc})")]) from None
    if not files:
        raise CorpusError([Problem(str(folder), "no story files (*.md) in the corpus folder")])

    documents: list[Document] = []
    problems: list[Problem] = []
    for i, path in enumerate(files, start=1):
        try:
            documents.append(parse_story(path, max_file_bytes=max_file_bytes))
        except ValueError as exc:
            problems.append(Problem(path.name, str(exc)))
        if checkpoint is not None and i % CHECKPOINT_FILES == 0:
            checkpoint()

    seen: dict[str, str] = {}
    for doc in documents:
        if doc.id in seen:
            problems.append(Problem(doc.file, f"id {doc.id!r} is already used by {seen[doc.id]}"))
        else:
            seen[doc.id] = doc.file
    if problems:
        raise CorpusError(problems)

    digest = hashlib.sha256()
    for doc in documents:
        digest.update(f"{doc.file}\0{doc.sha256}\n".encode())
    return Corpus(tuple(documents), digest.hexdigest())


def parse_story(path: Path, *, max_file_bytes: int = MAX_FILE_BYTES) -> Document:
    """Read one story file; raise ValueError with a short, human reason."""
    try:
        with path.open("rb") as f:
            before = os.fstat(f.fileno())
            if before.st_size > max_file_bytes:
                raise ValueError(f"the file is {before.st_size:,} bytes; the limit is {max_file_bytes:,}")
            raw = f.read(max_file_bytes + 1)
            after = os.fstat(f.fileno())
    except OSError as exc:
        raise ValueError(f"cannot read the file ({exc.strerror or exc})") from None
    if len(raw) > max_file_bytes:  # it grew after fstat()
        raise ValueError(f"the file is over the {max_file_bytes:,}-byte limit")
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(raw) != after.st_size:
        raise ValueError("the file changed while it was being read; save it, then reload again")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    return parse_story_text(text, path.stem, file=path.name, sha256=hashlib.sha256(raw).hexdigest())


def parse_story_text(text: str, default_id: str, *, file: str = "", sha256: str = "") -> Document:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    header, body = _split_front_matter(text)
    try:
        data = yaml.load(header, Loader=_FrontMatterLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 2})" if where is not None else ""
        raise ValueError(f"the front matter is not valid YAML{at}") from None
    except RecursionError:  # PyYAML recurses once per nesting level
        raise ValueError("the front matter is nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError("the front matter must be a mapping of fields (title: ..., published: ...)")
    try:
        meta = FrontMatter.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_explain(exc)) from None

    doc_id = meta.id or default_id
    if not valid_id(doc_id):
        raise ValueError(f"the file name {default_id!r} is not a valid id; set `id:` in the front matter")
    paragraphs = tuple(
        " ".join(line.strip() for line in block.strip().split("\n"))
        for block in _BLANK_LINES.split(body)
        if block.strip()
    )
    if not paragraphs:
        raise ValueError("the story has no text after the front matter")
    return Document(
        id=doc_id,
        title=meta.title,
        published=meta.published,
        paragraphs=paragraphs,
        url=meta.url,
        publisher=meta.publisher,
        caption=meta.caption,
        file=file,
        sha256=sha256,
    )


def _split_front_matter(text: str) -> tuple[str, str]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise ValueError("the file must start with front matter: a line '---', the fields, then '---'")
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1 :])
    raise ValueError("the front matter is not closed: add a line '---' after the fields")


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "front matter"
        if err["type"] == "missing":
            parts.append(f"`{field}` is required")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"`{field}`: {msg}")
    return "; ".join(parts)
