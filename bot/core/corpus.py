"""Story files -> validated Documents. A corpus loads whole or not at all."""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .dates import PartialDate
from ..display import shown
from ..files import NotAFile, open_regular

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 2 * 1024 * 1024
"""A story file larger than this is refused (a long news story is well under 100 KB)."""

CHECKPOINT_FILES = 2000

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n[ \t]*\n")


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text (so `published: 2020-13-45` gets our error, not PyYAML's), knows
    only the plain tags (text, numbers, booleans, null, lists and mappings) and refuses a key given twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[str, int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"`{shown(key.value, 40)}` is given twice (lines {seen[key.value] + 2} and "
                        f"{key.start_mark.line + 2}); keep one", key.start_mark)
                seen[key.value] = key.start_mark.line
        return super().construct_mapping(node, deep=deep)


_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge")}
_FrontMatterLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_FrontMatterLoader.yaml_constructors = {
    tag: fn for tag, fn in yaml.SafeLoader.yaml_constructors.items() if tag in _PLAIN_TAGS
}


def _refuse_tag(loader: yaml.SafeLoader, node: yaml.Node) -> None:
    tag = shown(node.tag.replace("tag:yaml.org,2002:", "!!"), 40)
    raise yaml.constructor.ConstructorError(
        None, None, f"the YAML tag {tag} is not allowed here; write the value as plain text", node.start_mark)


_FrontMatterLoader.add_constructor(None, _refuse_tag)  # type: ignore[arg-type]


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

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    title: str
    published: PartialDate
    id: str | None = None
    url: str | None = None
    publisher: str | None = None
    caption: str | None = None

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        if not visible(v):
            raise ValueError("must not be empty" if not v else "has no visible characters")
        return v

    @field_validator("published", mode="before")
    @classmethod
    def _published(cls, v: Any) -> PartialDate:
        return PartialDate.parse(v)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        if v is not None and not valid_id(v):
            raise ValueError(f"'{shown(v)}' is not a valid id (letters, digits, '-', '_' and inner dots only)")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not _URL.match(v):
            raise ValueError(f"'{shown(v)}' is not an http(s) address")
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


def valid_id(value: str) -> bool:
    return bool(_ID.match(value)) and len(value) <= 100


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

    ``checkpoint``, if given, is called after every ``CHECKPOINT_FILES`` files (the service uses it to keep
    the garbage collector's work small while a large archive loads)."""
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

    documents: list[Document] = []
    problems: list[Problem] = []
    for i, path in enumerate(files, start=1):
        if not _utf8(path.name):
            problems.append(Problem(shown(path.name), "the file name is not UTF-8; rename it (letters, digits, "
                                                      "'-' and '_' are safest)"))
            continue
        try:
            documents.append(parse_story(path, max_file_bytes=max_file_bytes))
        except ValueError as exc:
            problems.append(Problem(shown(path.name), str(exc)))
        if checkpoint is not None and i % CHECKPOINT_FILES == 0:
            checkpoint()

    seen: dict[str, str] = {}
    for doc in documents:
        key = doc.id.casefold()
        if key in seen:
            other = seen[key]
            same = next(d.id for d in documents if d.file == other)
            if same == doc.id:
                problems.append(Problem(shown(doc.file), f"id '{doc.id}' is already used by {shown(other)}"))
            else:
                problems.append(Problem(shown(doc.file), f"id '{doc.id}' differs from the id '{same}' of "
                                                         f"{shown(other)} only in letter case; ids must differ in "
                                                         "more (the files would collide on macOS and Windows)"))
        else:
            seen[key] = doc.file
    if problems:
        raise CorpusError(problems)

    return Corpus(tuple(documents), fingerprint((doc.file, doc.sha256) for doc in documents))


def fingerprint(files: Iterable[tuple[str, str]]) -> str:
    """The corpus fingerprint: a digest of every story file's name and sha256, in order. The one
    definition: a loaded corpus and a folder hashed for the cache (``snapshot.py``) both use it."""
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


def parse_story(path: Path, *, max_file_bytes: int = MAX_FILE_BYTES) -> Document:
    """Read one story file; raise ValueError with a short, human reason."""
    try:
        with open_regular(path) as f:  # never blocks; a FIFO, a device, a folder or a broken link is refused
            before = os.fstat(f.fileno())
            if before.st_size > max_file_bytes:
                raise ValueError(f"the file is {before.st_size:,} bytes; the limit is {max_file_bytes:,}")
            raw = f.read(max_file_bytes + 1)
            after = os.fstat(f.fileno())
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
    header, body = _split_front_matter(text)
    try:
        data = yaml.load(header, Loader=_FrontMatterLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise ValueError(_yaml_problem(header, exc)) from None
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
        raise ValueError(f"the file name '{shown(default_id)}' is not a valid id; set `id:` in the front matter")
    paragraphs = tuple(
        " ".join(line.strip() for line in block.strip().split("\n"))
        for block in _BLANK_LINES.split(body)
        if visible(block)
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


_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
"""Letters and symbols that show as nothing: Hangul fillers, the blank Braille pattern, the Mongolian vowel
separator."""
_UNSEEN = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me", "Zs", "Zl", "Zp"))


def visible(text: str) -> bool:
    """Whether ``text`` shows anything: not only spaces, zero-width and format characters, lone combining
    marks or blank-looking letters."""
    return any(not c.isspace() and c not in _INVISIBLE and unicodedata.category(c) not in _UNSEEN for c in text)


def _yaml_problem(header: str, exc: yaml.YAMLError) -> str:
    """PyYAML's error as the mistake people make: a tab, a colon in an unquoted value, a key twice, a tag."""
    mark = getattr(exc, "problem_mark", None)
    problem = str(getattr(exc, "problem", "") or "")
    line_no = mark.line + 2 if mark is not None else None  # the file's line: after the opening '---'
    at = f" (line {line_no})" if line_no is not None else ""
    lines = header.split("\n")
    if isinstance(exc, yaml.constructor.ConstructorError) and problem:
        return f"the front matter: {problem}"
    tabs = [i for i, line in enumerate(lines) if "\t" in line]
    if tabs and ("'\\t'" in problem or (mark is not None and mark.line in tabs)):
        line = mark.line if mark is not None and mark.line in tabs else tabs[0]
        return (f"the front matter has a tab at line {line + 2}; YAML needs spaces: indent with spaces, and "
                "put a space, not a tab, after each `key:`")
    if "mapping values are not allowed" in problem and mark is not None and mark.line < len(lines):
        line = lines[mark.line]
        if line[:1].isspace():
            return (f"the front matter is not valid YAML{at}: the line is indented; each field starts at the "
                    "beginning of its line")
        key = line.split(":", 1)[0].strip()
        return (f"the front matter is not valid YAML{at}: the value of `{shown(key, 40)}` has a colon in it; "
                f"put the value in quotes, e.g. {shown(key, 40)}: \"...: ...\"")
    return f"the front matter is not valid YAML{at}"


_FIELDS = ("title", "published", "id", "url", "publisher", "caption")
_ALIASES = {"date": "published", "published_at": "published", "publish_date": "published", "pubdate": "published",
            "published_on": "published", "dated": "published", "year": "published", "headline": "title",
            "name": "title", "link": "url", "href": "url", "source": "publisher", "outlet": "publisher",
            "slug": "id", "photo_caption": "caption"}


def _suggest(key: str) -> str:
    """`did you mean ...?` for an unknown front-matter key."""
    folded = key.strip().lower().replace("-", "_").replace(" ", "_")
    guess = _ALIASES.get(folded) or next(iter(difflib.get_close_matches(folded, _FIELDS, n=1, cutoff=0.6)), None)
    if guess:
        return f"did you mean `{guess}`?"
    return "the fields are " + ", ".join(f"`{f}`" for f in _FIELDS)

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
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown field `{shown(field, 40)}`: {_suggest(field)}")
        elif err["type"] == "missing":
            parts.append(f"`{field}` is required")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"`{shown(field, 40)}`: {shown(msg, 200)}")
    return "; ".join(parts)
