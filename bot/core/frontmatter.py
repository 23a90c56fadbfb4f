"""A story file's front matter: the YAML header between two ``---`` lines, read safely and validated,
with every mistake explained as the fix people need (a tab, an unquoted colon, ``date:`` for ``published:``)."""

from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ..display import shown
from .dates import PartialDate

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


class _Rules:
    """What both loaders below add to safe YAML: a key given twice is refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[str, int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"`{shown(key.value, 40)}` is given twice (lines {seen[key.value] + 2} and "
                        f"{key.start_mark.line + 2}); keep one", key.start_mark)
                seen[key.value] = key.start_mark.line
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class _FrontMatterLoader(_Rules, yaml.SafeLoader):
    """Safe YAML that leaves dates as text (so `published: 2020-13-45` gets our error, not PyYAML's), knows
    only the plain tags (text, numbers, booleans, null, lists and mappings) and refuses a key given twice."""


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

_CSafeLoader = getattr(yaml, "CSafeLoader", None)  # PyYAML built with libyaml
_FastLoader: type | None = None
if _CSafeLoader is not None:
    class _FastLoader(_Rules, _CSafeLoader):  # type: ignore[no-redef]
        """The same rules on libyaml's parser (7x faster): PyYAML's own constructor and resolver, with ours."""

        yaml_implicit_resolvers = _FrontMatterLoader.yaml_implicit_resolvers
        yaml_constructors = _FrontMatterLoader.yaml_constructors


_NOT_FOR_LIBYAML = re.compile(r"[\t\ufeff]|(?:^|[\s\[\]{},])!|[|>][-+0-9]*#")
MAX_LIBYAML_NESTING = 100


def _libyaml_reads_as_pyyaml(header: str) -> bool:
    """Whether libyaml is sure to read ``header`` as PyYAML's own parser does, or to refuse it.

    Not where a differential fuzz (a million generated headers) found libyaml accepting what PyYAML refuses,
    or reading it otherwise: a tab (libyaml takes it for a space), a byte-order mark after the start (libyaml
    skips it), a bare ``!`` tag (PyYAML: null, libyaml: ''), a comment right after ``|`` or ``>``, a ``?``
    inside a flow collection (``[a?b]``); ``tests/core/test_frontmatter.py`` has one of each. Nor where the
    header could nest deeper than ``MAX_LIBYAML_NESTING``: PyYAML's composer recurses (two frames a level:
    ~490 levels from an empty stack) and says "too deep", libyaml's does not. Every collection has an indicator
    of its own (``[``, ``{``, ``:``, ``-`` or ``?``), so their count bounds the nesting.
    """
    flow = min((i for i in (header.find("["), header.find("{")) if i >= 0), default=-1)
    return (not _NOT_FOR_LIBYAML.search(header) and sum(map(header.count, "[{:-?")) <= MAX_LIBYAML_NESTING
            and not (flow >= 0 and "?" in header[flow:]))


_FIELD_LINE = re.compile(r"(title|published|id|url|publisher|caption): +(.*?) *")
_QUOTED = re.compile(r"\"([^\"\\]*)\"|'([^']*)'")
_NOT_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@`")
"""What a plain YAML value cannot start with (an indicator), or, for ``-``, ``?`` and ``:``, not always."""


def _simple_fields(header: str) -> dict[str, str] | None:
    """The header's fields when it is only lines ``field: text``, each field once, whose text YAML reads as
    itself: a plain value (printable, no indicator first, no ``: `` or `` #`` in it, nothing YAML would take
    for a number, a boolean, a null...) or one in quotes with no escape in it; else None (``_parse`` reads it
    as YAML). Nearly every story's header is such, and this reads it 3x faster than libyaml does (a YAML load
    runs Python for every key and value); tests/core/test_frontmatter.py compares it with PyYAML."""
    fields: dict[str, str] = {}
    for line in header.split("\n"):
        m = _FIELD_LINE.fullmatch(line)
        if m is None or m[1] in fields or not m[2].isprintable():
            return None
        value = m[2]
        quoted = _QUOTED.fullmatch(value)
        if quoted is not None:
            value = quoted[1] if quoted[1] is not None else quoted[2]
        elif (not value or value[0] in _NOT_FIRST or ": " in value or " #" in value or value.endswith(":")
              or _implicit_tag(value) is not None):
            return None
        fields[m[1]] = value
    return fields


def _implicit_tag(value: str) -> str | None:
    """The tag PyYAML's resolver gives a plain value other than text (a number, a boolean, a null...), if any:
    ``Resolver.resolve``'s own lookup, in the loaders' table."""
    resolvers = _FrontMatterLoader.yaml_implicit_resolvers
    for tag, pattern in resolvers.get(value[0], []) + resolvers.get(None, []):
        if pattern.match(value):
            return tag
    return None


def _parse(header: str) -> Any:
    """The header's YAML, as PyYAML's own parser reads it: as plain fields when it is only those
    (``_simple_fields``), else through libyaml (7x faster than PyYAML) when that is sure to give the same, and
    PyYAML's own parser when libyaml refuses it (its messages are the ones ``_yaml_problem`` explains) or might
    read it otherwise."""
    simple = _simple_fields(header)
    if simple is not None:
        return simple
    if _FastLoader is not None and _libyaml_reads_as_pyyaml(header):
        try:
            return yaml.load(header, Loader=_FastLoader)  # noqa: S506 (a SafeLoader)
        except Exception:  # noqa: BLE001  a mistake: PyYAML's own parser explains it, below
            pass
    return yaml.load(header, Loader=_FrontMatterLoader)  # noqa: S506 (a SafeLoader)


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


def read_front_matter(text: str) -> tuple[FrontMatter, str]:
    """The validated header of a story's text and the body after it; ValueError with a short, human reason."""
    header, body = _split_front_matter(text)
    try:
        data = _parse(header)
    except yaml.YAMLError as exc:
        raise ValueError(_yaml_problem(header, exc)) from None
    except RecursionError:  # PyYAML recurses once per nesting level
        raise ValueError("the front matter is nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError("the front matter must be a mapping of fields (title: ..., published: ...)")
    try:
        return FrontMatter.model_validate(data), body
    except ValidationError as exc:
        raise ValueError(_explain(exc)) from None


def valid_id(value: str) -> bool:
    return bool(_ID.match(value)) and len(value) <= 100


_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
"""Letters and symbols that show as nothing: Hangul fillers, the blank Braille pattern, the Mongolian vowel
separator."""
_UNSEEN = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me", "Zs", "Zl", "Zp"))


def visible(text: str) -> bool:
    """Whether ``text`` shows anything: not only spaces, zero-width and format characters, lone combining
    marks or blank-looking letters."""
    if text[:1].isascii() and text[:1].isalnum():  # nearly every paragraph: a letter or digit, seen at once
        return True
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
