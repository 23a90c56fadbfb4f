"""Story files -> validated Documents. A corpus loads whole or not at all.

What a story file's YAML header may say, and how a mistake in it is explained, is ``frontmatter.py``."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..display import shown
from ..files import NotAFile, folder_fd, open_regular_fd, read_fd
from .dates import PartialDate
from .frontmatter import read_front_matter, valid_id, visible

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 2 * 1024 * 1024
"""A story file larger than this is refused (a long news story is well under 100 KB)."""

CHECKPOINT_STORIES = 16
"""Stories read, built or loaded between two calls of a ``checkpoint`` (the runtime's: cheap, and where a
reload gives way to questions and the garbage collector is settled now and then)."""

_BLANK_LINES = re.compile(r"\n[ \t]*\n")


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


def story_files(folder: Path) -> list[Path]:
    """The story files of a corpus folder: visible ``*.md`` names, sorted."""
    return [folder / name for name in story_names(folder)]


def story_names(folder: str | Path) -> list[str]:
    """The visible names in ``folder`` that end in ``.md``, sorted (scandir: thousands listed in milliseconds).
    Whatever each one is (a file, a folder, a FIFO, a broken link) is decided when it is opened: a name
    that looks like a story and is not one is an error, never a silent skip."""
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.name.endswith(".md") and not e.name.startswith("."))


MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")
"""Names people give Markdown files; only a lower-case ``.md`` is a story."""


def ignored_stories(folder: str | Path) -> list[str]:
    """Warnings for the files that look like stories but are not read (``Story.MD``, ``story.markdown``):
    only ``*.md`` files are stories."""
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if not e.name.startswith("."))
    except OSError:
        return []
    out = []
    for name in names:
        lower = name.lower()
        if name.endswith(".md") or not lower.endswith(MARKDOWN_SUFFIXES):
            continue
        stem = name[: name.rfind(".")]
        out.append(f"{shown(name)}: ignored: story files must end in `.md` (lower case); "
                   f"rename it to {shown(stem)}.md to load it")
    return out


def load_corpus(folder: str | Path, *, max_file_bytes: int = MAX_FILE_BYTES,
                checkpoint: Callable[[], None] | None = None) -> Corpus:
    """Load and validate every story in ``folder``; raise CorpusError listing all problems.

    ``checkpoint``, if given, is called every ``CHECKPOINT_STORIES`` files."""
    folder = Path(folder)
    where = shown(str(folder), 200)
    if not folder.exists():
        raise CorpusError([Problem(where, "the corpus folder does not exist")])
    if not folder.is_dir():
        raise CorpusError([Problem(where, "is not a folder")])
    try:
        files = story_files(folder)
    except OSError as exc:
        raise CorpusError([Problem(where, f"cannot list the folder ({exc.strerror or exc})")]) from None
    if not files:
        raise CorpusError([Problem(where, "no story files (*.md) in the corpus folder")])

    documents, problems = read_stories(folder, [f.name for f in files], max_file_bytes=max_file_bytes,
                                       checkpoint=checkpoint)
    problems.extend(id_problems([(doc.id, doc.file) for doc in documents]))
    if problems:
        raise CorpusError(problems)
    return Corpus(tuple(documents), fingerprint((doc.file, doc.sha256) for doc in documents))


def read_stories(folder: Path, names: Iterable[str], *, max_file_bytes: int = MAX_FILE_BYTES,
                 checkpoint: Callable[[], None] | None = None) -> tuple[list[Document], list[Problem]]:
    """The stories of the files ``names`` in ``folder`` that parse, and what is wrong with the others."""
    documents: list[Document] = []
    problems: list[Problem] = []
    with folder_fd(folder) as dir_fd:
        for i, name in enumerate(names, start=1):
            if not _utf8(name):
                problems.append(Problem(shown(name), "the file name is not UTF-8; rename it (letters, digits, "
                                                     "'-' and '_' are safest)"))
                continue
            try:
                documents.append(parse_story(Path(name) if dir_fd is not None else folder / name,
                                             max_file_bytes=max_file_bytes, dir_fd=dir_fd))
            except ValueError as exc:
                problems.append(Problem(shown(name), str(exc)))
            if checkpoint is not None and i % CHECKPOINT_STORIES == 0:
                checkpoint()
    return documents, problems


def id_problems(stories: Sequence[tuple[str, str]]) -> list[Problem]:
    """Ids used twice (or differing only in letter case), among the ``(id, file)`` of a corpus's stories."""
    problems = []
    seen: dict[str, tuple[str, str]] = {}
    for doc_id, file in stories:
        key = doc_id.casefold()
        if key not in seen:
            seen[key] = (doc_id, file)
            continue
        same, other = seen[key]
        if same == doc_id:
            problems.append(Problem(shown(file), f"id '{doc_id}' is already used by {shown(other)}"))
        else:
            problems.append(Problem(shown(file), f"id '{doc_id}' differs from the id '{same}' of "
                                                 f"{shown(other)} only in letter case; ids must differ in "
                                                 "more (the files would collide on macOS and Windows)"))
    return problems


def fingerprint(files: Iterable[tuple[str, str]]) -> str:
    """The corpus fingerprint: a digest of every story file's name and sha256, in order. The one
    definition: a loaded corpus and a folder hashed for the cache (``parts.py``) both use it."""
    digest = hashlib.sha256()
    for name, sha in files:
        digest.update(f"{name}\0{sha}\n".encode())
    return digest.hexdigest()


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.listdir decoded its bytes with surrogate escapes
        return False
    return True


def parse_story(path: Path, *, max_file_bytes: int = MAX_FILE_BYTES, dir_fd: int | None = None) -> Document:
    """Read one story file (``path`` relative to the folder ``dir_fd`` when given); raise ValueError with a
    short, human reason."""
    try:
        # never blocks; a FIFO, a device, a folder or a broken link is refused
        fd, before = open_regular_fd(path, dir_fd=dir_fd)
        try:
            if before.st_size > max_file_bytes:
                raise ValueError(f"the file is {before.st_size:,} bytes; the limit is {max_file_bytes:,}")
            raw = read_fd(fd, max_file_bytes + 1, before.st_size)
            after = os.fstat(fd)
        finally:
            os.close(fd)
    except NotAFile as exc:
        raise ValueError(exc.strerror) from None
    except OSError as exc:
        raise ValueError(f"cannot read the file ({exc.strerror or exc})") from None
    if len(raw) > max_file_bytes:  # it grew after fstat()
        raise ValueError(f"the file is over the {max_file_bytes:,}-byte limit")
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(raw) != after.st_size:
        raise ValueError("the file changed while it was being read; save it, then reload again")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(_not_utf8(raw, exc.start)) from None
    return parse_story_text(text, path.stem, file=path.name, sha256=hashlib.sha256(raw).hexdigest())


def _paragraph(block: str) -> str:
    """A block of lines as one paragraph: its lines stripped, joined with a space (most blocks are one line)."""
    text = block.strip()
    return text if "\n" not in text else " ".join(line.strip() for line in text.split("\n"))


def _not_utf8(raw: bytes, at: int) -> str:
    line = raw.count(b"\n", 0, at) + 1
    byte = raw[at]
    try:
        guess = bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        guess = None
    hint = f" (Windows-1252's {shown(guess)!r}: the file was probably saved as Windows-1252)" if guess else ""
    return f"is not UTF-8 text: line {line} has the byte 0x{byte:02x}{hint}; save it as UTF-8"


def parse_story_text(text: str, default_id: str, *, file: str = "", sha256: str = "") -> Document:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    meta, body = read_front_matter(text)

    doc_id = meta.id or default_id
    if not valid_id(doc_id):
        raise ValueError(f"the file name '{shown(default_id)}' is not a valid id; set `id:` in the front matter")
    paragraphs = tuple(_paragraph(block) for block in _BLANK_LINES.split(body) if visible(block))
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


