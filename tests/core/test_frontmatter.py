"""Front matter read through libyaml gives exactly what PyYAML's own parser gives: the same fields, the same
refusals and the same messages (libyaml is only faster)."""

from __future__ import annotations

import random
import unicodedata

import pytest
import yaml

from bot.core import frontmatter
from bot.core.frontmatter import read_front_matter

# Where libyaml, left to itself, reads a header otherwise than PyYAML: each must come out as PyYAML has it.
DIVERGENT = [
    "title: foo\tbar\npublished: 2020",      # libyaml: a tab inside a value is text; PyYAML: an error
    "title:\tx\npublished: 2020",
    '"d":\t',
    "title: x\n\ufeff",                      # a byte-order mark after the start
    "?\n\ufeffba",
    "title: !\npublished: 2020",              # a bare tag: PyYAML null, libyaml ''
    "title: |#\n  x\npublished: 2020",        # a comment without a space before it
    "title: [a?b]\npublished: 2020",          # `?` in a flow collection
    "title: {a?b: c}\npublished: 2020",
    "title: " + "[" * 600 + "]" * 600,       # deeper than PyYAML's recursion
]
PLAIN = [
    "title: A story\npublished: 2020-02",
    "title: 'Iran: the talks'\npublished: 2020-02-03\nid: story-1\nurl: https://example.com/a?b=c#d",
    'title: "Caf\\u00e9 \\"cr\\u00e8me\\""\npublished: 2020\ncaption: >\n  folded\n  text\n',
    "title: Why? Because! Q&A *with* you\npublished: 2020\npublisher: CBC # a comment",
    "title: x\npublished: 2020\ntitle: again",
    "title: !!binary SGVsbG8=\npublished: 2020",
    "title: Iran: the talks resume\npublished: 2020-02",
    "title: x\npublished: 2020-13-45\nauthor: Someone",
    "title: &a x\npublished: 2020\ncaption: *a\nid: 2020",
    "<<: {title: merged}\npublished: 2020",
    "title: [a, b]\npublished: {y: 2020}",
    "- title\n- published",
    "title: x\rpublished: 2020\r\nid: a",     # line breaks other than \n: the same in both
    "title: x\x85published: 2020\u2028id: a\u2029url: b",
    "title: !!int\npublished: 2020",          # PyYAML itself fails here (IndexError): the same failure
    "title: " + "[" * 200 + "]" * 200,       # could nest deeper than MAX_LIBYAML_NESTING: PyYAML reads it
    "",
]
PIECES = list("ab1:?-[]{},'\"#&*!|>%@` \n.~\\") + [": ", "- ", "? ", "\n  ", "\n- ", "&x ", "*x", "!!str ", "<<",
                                                  "---", "...", "\t", "\ufeff", "\r", "\x85", "\u2028", "title",
                                                  "published", "2020"]


def outcome(read, header: str):
    try:
        return ("ok", read(header))
    except RecursionError:
        return ("too deep",)
    except Exception as exc:  # noqa: BLE001  a YAML error, or PyYAML's own failures: compared as they are
        return (type(exc).__name__, str(exc))


def pure_pyyaml(header: str):
    return yaml.load(header, Loader=frontmatter._FrontMatterLoader)  # noqa: S506 (a SafeLoader)


def test_libyaml_is_there_and_reads_a_plain_header(monkeypatch):
    assert frontmatter._FastLoader is not None
    monkeypatch.setattr(frontmatter, "_FrontMatterLoader", None)  # the pure-Python loader is not used
    monkeypatch.setattr(frontmatter, "_simple_fields", lambda header: None)  # nor the plain fields' reading
    assert frontmatter._parse("title: A story\npublished: 2020-02") == {"title": "A story", "published": "2020-02"}


@pytest.mark.parametrize("header", DIVERGENT + PLAIN)
def test_the_same_yaml_as_pyyaml_reads_it(header):
    assert outcome(frontmatter._parse, header) == outcome(pure_pyyaml, header)


@pytest.mark.parametrize("header", DIVERGENT)
def test_each_divergent_header_does_diverge_in_libyaml(header, monkeypatch):
    """So that the cases above test something: libyaml, asked anyway, reads each one otherwise."""
    assert not frontmatter._libyaml_reads_as_pyyaml(header)
    monkeypatch.setattr(frontmatter, "_libyaml_reads_as_pyyaml", lambda header: True)
    assert outcome(frontmatter._parse, header) != outcome(pure_pyyaml, header)


def test_generated_headers_read_as_pyyaml_reads_them():
    rng = random.Random(7)
    for _ in range(3000):
        header = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 14)))
        assert outcome(frontmatter._parse, header) == outcome(pure_pyyaml, header), repr(header)


# Lines of fields, as story headers are, with the characters and words YAML reads otherwise mixed into the values.
FIELD_NAMES = ["title", "published", "id", "url", "publisher", "caption", "author", "Title"]
VALUE_PIECES = (list("aZ9 :#'\"-?!&*[]{},|>%@`~=.\\+_") + [": ", " #", "  ", "<<", "yes", "No", "null", "NaN",
                                                              ".inf", "0x1F", "0o7", "1_000", "1:30", "2020",
                                                              "2020-02-03", "3.5e+3", "é", "\xa0", "\u2028", "\t",
                                                              "\ufeff", "\x85", "🙂", "...", "---", "story-1"])


def _field_header(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(1, 4)):
        value = " ".join(rng.choice(("Iran", "talks", "a", "2020", "x9")) for _ in range(rng.randint(0, 3)))
        for _ in range(rng.choice((0, 1, 1, 2))):  # a character or word YAML may read otherwise, anywhere
            at = rng.randint(0, len(value))
            value = value[:at] + rng.choice(VALUE_PIECES) + value[at:]
        if rng.random() < 0.2:
            value = rng.choice("\"'") + value + rng.choice("\"'")
        lines.append(rng.choice(FIELD_NAMES) + rng.choice((": ", ": ", ":  ", ":", " : ")) + value)
    return "\n".join(lines)


def test_field_lines_read_as_pyyaml_reads_them_and_most_plain_ones_without_yaml():
    rng = random.Random(8)
    simple = 0
    for _ in range(20_000):
        header = _field_header(rng)
        assert outcome(frontmatter._parse, header) == outcome(pure_pyyaml, header), repr(header)
        simple += frontmatter._simple_fields(header) is not None
    assert simple > 1_500
    assert frontmatter._simple_fields(PLAIN[0]) == {"title": "A story", "published": "2020-02"}
    assert frontmatter._simple_fields("title: 'Iran: the talks'\nurl: https://example.com/a?b=c#d") is not None


@pytest.mark.parametrize("header, message", [
    ("title: x\npublished:\t2020-02", "the front matter has a tab at line 3; YAML needs spaces"),
    ("title: Iran: the talks resume\npublished: 2020-02", "the front matter is not valid YAML (line 2): the value"),
    ("title: x\npublished: 2020\ntitle: y", "the front matter: `title` is given twice (lines 2 and 4); keep one"),
    ("title: " + "[" * 600 + "]" * 600, "the front matter is nested too deeply"),
])
def test_messages_are_pyyamls(header, message):
    with pytest.raises(ValueError) as refused:
        read_front_matter(f"---\n{header}\n---\nText.\n")
    assert str(refused.value).startswith(message)


def test_visible_text_is_told_from_blank_text_whatever_its_first_character():
    def shows(text: str) -> bool:  # the rule, character by character
        return any(not c.isspace() and c not in frontmatter._INVISIBLE
                   and unicodedata.category(c) not in frontmatter._UNSEEN for c in text)

    firsts = [chr(c) for c in range(0x300)] + ["\u200b", "\u3164", "\u2800", "\ufeff", "\u0301", "\u00a0", "ａ", "١"]
    for first in firsts:
        for rest in ("", " ", "\u200b\u3164", "x", "\n\t"):
            assert frontmatter.visible(first + rest) == shows(first + rest), repr(first + rest)
