"""Corpus validation refuses what would silently lose or mangle a story, and says what the common mistake
was: text that shows nothing is empty, a key given twice or a YAML tag is an error, ids differ in more than
letter case, no error line quotes more than 80 characters of a value; a tab, an unquoted colon, a
Windows-1252 file and `date:` get the line and the fix, and a `.MD` or `.markdown` file is a warning."""

from __future__ import annotations

import re

import pytest

from bot.__main__ import main
from bot.core.corpus import CorpusError, load_corpus

from .conftest import report

GOOD = "---\ntitle: A story\npublished: 2020-02\n---\nFirst paragraph.\n"


def problems(folder) -> list[str]:
    with pytest.raises(CorpusError) as refused:
        load_corpus(folder)
    return [str(p) for p in refused.value.problems]


@pytest.mark.parametrize("name, content, expected", [
    ("zero-width.md", "---\ntitle: x\npublished: 2020\n---\n\u200b\u200b\u200c\n\n\u2060\ufeff\n",
     "zero-width.md: the story has no text after the front matter"),
    ("blank-letters.md", "---\ntitle: x\npublished: 2020\n---\n\u3164\u3164 \u2800\n\n\u115f\u0301\n",
     "blank-letters.md: the story has no text after the front matter"),
    ("invisible-title.md", "---\ntitle: \"\u200b\u200d\"\npublished: 2020\n---\nText.\n",
     "invisible-title.md: `title`: has no visible characters"),
    ("twice.md", "---\ntitle: First\npublished: 2020\ntitle: Second\n---\nText.\n",
     "twice.md: the front matter: `title` is given twice (lines 2 and 4); keep one"),
    ("binary.md", "---\ntitle: !!binary SGVsbG8=\npublished: 2020\n---\nText.\n",
     "binary.md: the front matter: the YAML tag !!binary is not allowed here; write the value as plain text"),
    ("python.md", "---\ntitle: !!python/object/apply:os.system [ls]\npublished: 2020\n---\nText.\n",
     "python.md: the front matter: the YAML tag !!python/object/apply:os.system is not allowed here"),
    ("custom.md", "---\ntitle: !shout hello\npublished: 2020\n---\nText.\n",
     "custom.md: the front matter: the YAML tag !shout is not allowed here"),
    ("set.md", "---\ntitle: x\npublished: 2020\ncaption: !!set {a, b}\n---\nText.\n",
     "set.md: the front matter: the YAML tag !!set is not allowed here"),
])
def test_what_would_be_lost_or_mangled_is_refused(tmp_path, name, content, expected):
    (tmp_path / name).write_text(content, encoding="utf-8")
    [line] = problems(tmp_path)
    assert line.startswith(expected), line


def test_ids_must_differ_in_more_than_letter_case(tmp_path):
    (tmp_path / "Good.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "good.md").write_text(GOOD, encoding="utf-8")
    [line] = problems(tmp_path)
    assert line == ("good.md: id 'good' differs from the id 'Good' of Good.md only in letter case; ids must differ in "
                    "more (the files would collide on macOS and Windows)")


@pytest.mark.parametrize("field", ["id", "url", "published", "title", "caption"])
def test_an_error_line_quotes_at_most_80_characters_of_a_value(tmp_path, field):
    huge = "A" * 1_000_000 + ":"
    values = {"title": "x", "published": "2020", field: huge if field != "title" else ["x"] * 100_000}
    front = "\n".join(f"{k}: {v!r}" if isinstance(v, str) else f"{k}: {v}" for k, v in values.items())
    (tmp_path / "huge.md").write_text(f"---\n{front}\n---\nText.\n", encoding="utf-8")
    lines = problems(tmp_path) if field != "caption" else None
    if lines is None:  # a long caption is fine
        assert load_corpus(tmp_path).documents[0].caption == huge
        return
    [line] = lines
    longest = max((len(run) for run in re.findall(r"A+|(?:'x', )+", line)), default=0)
    assert longest <= 80 and len(line) < 300, line[:400]


# --- the common mistakes, and what to do about them (issue 11, item 8) -----------------------------------------


@pytest.mark.parametrize("content, expected", [
    ("---\ntitle: x\npublished:\t2020-02\n---\nText.\n",
     "the front matter has a tab at line 3; YAML needs spaces"),
    ("---\ntitle: x\n\tpublished: 2020-02\n---\nText.\n",
     "the front matter has a tab at line 3; YAML needs spaces"),
    ("---\ntitle: Iran: the talks resume\npublished: 2020-02\n---\nText.\n",
     "the front matter is not valid YAML (line 2): the value of `title` has a colon in it; put the value in "
     "quotes, e.g. title: \"...: ...\""),
    ("---\ntitle: x\ndate: 2020-02\n---\nText.\n",
     "`published` is required; unknown field `date`: did you mean `published`?"),
    ("---\ntitle: x\npublished: 2020-02\npublsher: CBC\n---\nText.\n",
     "unknown field `publsher`: did you mean `publisher`?"),
    ("---\ntitle: x\npublished: 2020-02\nauthor: Someone\n---\nText.\n",
     "unknown field `author`: the fields are `title`, `published`, `id`, `url`, `publisher`, `caption`"),
])
def test_common_front_matter_mistakes_say_what_to_do(tmp_path, content, expected):
    (tmp_path / "story.md").write_text(content, encoding="utf-8")
    [line] = problems(tmp_path)
    assert line.startswith(f"story.md: {expected}"), line


def test_a_windows_1252_file_gets_its_line_and_save_it_as_utf8(tmp_path):
    text = GOOD + "\nThe minister\u2019s statement.\n"
    (tmp_path / "story.md").write_bytes(text.encode("cp1252"))
    [line] = problems(tmp_path)
    assert line == ("story.md: is not UTF-8 text: line 7 has the byte 0x92 (Windows-1252's '’': the file was "
                    "probably saved as Windows-1252); save it as UTF-8")


def test_check_warns_about_story_files_that_would_be_ignored(corpus_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))
    (corpus_dir / "Follow-up.MD").write_text(GOOD, encoding="utf-8")
    (corpus_dir / "notes.markdown").write_text(GOOD, encoding="utf-8")
    (corpus_dir / "README.txt").write_text("not a story", encoding="utf-8")
    assert main(["check", "--corpus", str(corpus_dir)]) == 0  # a warning: the corpus itself is valid
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "warning: Follow-up.MD: ignored: story files must end in `.md` (lower case); rename it to Follow-up.md "
        "to load it",
        "warning: notes.markdown: ignored: story files must end in `.md` (lower case); rename it to notes.md to "
        "load it",
    ]
    assert out.startswith("OK: 1 stories")
    report("check warnings", warnings=len(err.splitlines()))
