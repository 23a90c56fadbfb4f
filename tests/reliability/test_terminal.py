"""Terminal output is inert and JSON output is one line per question: control characters from a story or a
file name are shown as escapes by `ask`, `sources`, `check`, `timeline` and the console (no cleared screen, no
fake hyperlink, no overwritten line), and `ask - --json` reads bytes, prints UTF-8 and one line out for every
line in, whatever comes."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest

from bot.__main__ import main
from bot.console import run_console
from bot.core.service import StoryService
from tests.conftest import ROOT

from .conftest import report

CLEAR = "\x1b[2J\x1b[H"
LINK = "\x1b]8;;https://evil.test/\x07official statement\x1b]8;;\x07"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]")
"""What must never reach a terminal (tab and newline are fine)."""

STORY = ("---\ntitle: \"Ottawa\\e[2J responds\"\npublished: 2020-03-02\n---\n"
         f"Canada's foreign minister{CLEAR} said the embassy in Tehran would stay closed.\n\n"
         f"On March 2, 2020, the minister read an {LINK} about the embassy.\r\x1b[1A\x1b[2KOverwritten.\n\n"
         "Reversed \u202etxet\u202c here: the embassy again.\n")


@pytest.fixture
def hostile_corpus(corpus_dir, monkeypatch, tmp_path):
    (corpus_dir / "ottawa.md").write_text(STORY, encoding="utf-8")
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))
    return corpus_dir


@pytest.mark.parametrize("argv", [
    ["ask", "What did the minister say about the embassy?"],
    ["ask", "official statement"],
    ["sources"],
    ["timeline", "--year", "2020"],
])
def test_commands_print_no_control_characters(hostile_corpus, capsys, argv):
    assert main([*argv, "--corpus", str(hostile_corpus)]) == 0
    out, err = capsys.readouterr()
    assert "\\x1b" in out  # the text is still there, shown
    assert not RAW.findall(out + err), [c for c in RAW.findall(out + err)]


def test_check_prints_no_control_characters_from_a_file_name(hostile_corpus, capsys):
    (hostile_corpus / "evil\x1b]0;pwned\x07\x1b[2J.md").write_text("no front matter\n", encoding="utf-8")
    assert main(["check", "--corpus", str(hostile_corpus)]) == 1
    out, err = capsys.readouterr()
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J.md: the file must start with front matter" in err
    assert not RAW.findall(out + err)


def test_the_console_prints_no_control_characters(hostile_corpus):
    service = StoryService.open(hostile_corpus)
    stdout = io.StringIO()
    run_console(service, stdin=io.StringIO("embassy\x1b[2J minister\n/sources\n/timeline 2020\n"), stdout=stdout)
    text = stdout.getvalue()
    assert "\\x1b[2J" in text and not RAW.findall(text)


LINES_IN = [
    b"Who is Mike Poole?",
    b"bad bytes \xff\xfe\xc3( in a question",
    "line\u2028separator and paragraph\u2029separator and next line\u0085inside one line".encode(),
    b"form\x0cfeed, vertical\x0btab, file\x1cseparator and a\rcarriage return",
    b"",
    b"\xef\xbb\xbfWhy did Canada close its embassy in Tehran?",
    b"x" * 5000,
    b"\x1b[2J clear the screen",
]


@pytest.mark.parametrize("encoding", ["utf-8:strict", "ascii:strict", ""])
def test_ask_json_from_stdin_gives_one_object_a_line_whatever_the_bytes(corpus_dir, tmp_path, encoding):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONIOENCODING"}
    env.update(CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    if encoding:
        env["PYTHONIOENCODING"] = encoding
    done = subprocess.run([sys.executable, "-m", "bot", "ask", "-", "--json", "--corpus", str(corpus_dir)],
                          input=b"\n".join(LINES_IN) + b"\n", capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    text = done.stdout.decode("utf-8")  # strict: the output is UTF-8
    assert not any(c in text for c in "\u2028\u2029\u0085")
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) - 1 == len(LINES_IN), lines
    answers = [json.loads(line) for line in lines[:-1]]
    assert answers[0]["answered"] and answers[5]["answered"]
    assert answers[1]["question"] == "bad bytes \ufffd\ufffd\ufffd( in a question"
    assert answers[2]["question"] == LINES_IN[2].decode()
    assert not answers[4]["answered"] and not answers[6]["answered"]
    report("ask - --json", encoding=encoding or "default", lines_in=len(LINES_IN), lines_out=len(answers))


def test_stats_prints_no_control_characters_from_a_members_question(tmp_path, capsys, monkeypatch):
    """Members' questions reach the moderator's terminal through `storybot stats`: inert there too."""
    import asyncio

    from bot.record import Record, Reply

    async def fill():
        r = Record.open(tmp_path)
        await r.add_reply(Reply(ask_id=1, kind="refused", question=f"who won{CLEAR} the cup{LINK}", passages=(),
                                member=r.member(7), corpus="abcd1234"))
        await r.close()

    asyncio.run(fill())
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert main(["stats"]) == 0
    out, err = capsys.readouterr()
    assert "who won\\x1b[2J" in out and not RAW.findall(out + err)
