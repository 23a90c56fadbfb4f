"""The command line, run as a user would, with the exact JSON shapes other tools read.

Each ``storybot(...)`` call starts an interpreter (about 1 s): the tests that start two or more are marked
``slow``, and ``./dev test -m "not slow"`` keeps one quick test of each command family that runs it end to end
in a process of its own (``ask``, ``sources``, ``console``). The other quick tests check what a command prints
through ``bot.__main__.main`` in this interpreter (``in_process``), with the same settings from the environment.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from bot.__main__ import main
from bot.console import run_console
from bot.core.service import StoryService
from bot.settings import Settings
from tests.conftest import CORPUS, ROOT


ENV = {"PATH": "", "CORPUS_DIR": str(CORPUS)}
"""The environment of every ``storybot`` call (plus CACHE_DIR, set by ``cache_dir``)."""


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory) -> Iterator[Path]:
    """The commands' cache, shared by this module's calls (warm after the first), never the checkout's."""
    path = tmp_path_factory.mktemp("cli-cache")
    ENV["CACHE_DIR"] = str(path)
    yield path
    del ENV["CACHE_DIR"]


def storybot(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env={**ENV, **env})


@pytest.fixture
def in_process(monkeypatch, tmp_path, capsys):
    """``in_process(*args, stdin=...)``: ``main(args)`` here, as ``storybot`` runs it: no setting in the
    environment but CORPUS_DIR and CACHE_DIR, no .env, ``stdin`` as bytes on standard input; returns
    (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in ENV.items():
        if name != "PATH":
            monkeypatch.setenv(name, value)

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8"))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_ask_json_shape():
    out = json.loads(storybot("ask", "Why did Canada close its embassy in Tehran?", "--json").stdout)
    assert set(out) == {"question", "answered", "passages", "nearest"} and out["answered"] is True
    assert out["nearest"] == []
    first = out["passages"][0]
    assert set(first) == {"id", "doc_id", "paragraph", "text", "score", "title", "url"}
    assert first["id"] == "iran-canada-ties#8" and first["paragraph"] == 8
    assert isinstance(first["score"], float)


@pytest.mark.slow
def test_ask_refuses_off_topic():
    out = json.loads(storybot("ask", "Who won the Stanley Cup?", "--json").stdout)
    assert out == {"question": "Who won the Stanley Cup?", "answered": False, "passages": [], "nearest": []}
    out = json.loads(storybot("ask", "What is the capital of France?", "--json").stdout)
    assert out["passages"] == out["nearest"] == []


@pytest.mark.slow
def test_ask_the_issues_examples():
    killed = json.loads(storybot("ask", "How many Canadians were killed?", "--json").stdout)
    assert killed["answered"] and killed["passages"][0]["paragraph"] == 4
    pilot = json.loads(storybot("ask", "Who was the pilot?", "--json").stdout)
    assert pilot["answered"] is False and pilot["passages"] == []
    shot = storybot("ask", "Why did they shoot down the plane?").stdout
    assert "paragraph 4" in shot and "mistakenly **shot down" in shot


@pytest.mark.slow
def test_ask_closest_has_nearest_passages_and_says_so():
    res = storybot("ask", "How old is Zarif?")
    assert res.stdout.startswith("The story may not answer this")
    out = json.loads(storybot("ask", "How old is Zarif?", "--json").stdout)
    assert out["answered"] is False and out["passages"] == []
    assert 1 <= len(out["nearest"]) <= 2 and all("Zarif" in p["text"] for p in out["nearest"])
    assert set(out["nearest"][0]) == {"id", "doc_id", "paragraph", "text", "score", "title", "url"}


def test_ask_many_from_stdin_one_object_a_line_in_order(in_process):
    questions = ["Who is Mike Poole?", "", "Who won the Stanley Cup?", "black boxes"]
    code, out, _ = in_process("ask", "-", "--json", stdin="\n".join(questions) + "\n")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [x["question"] for x in lines] == questions
    assert [x["answered"] for x in lines] == [True, False, False, True]


@pytest.mark.slow
def test_timeline_json_is_chronological_with_precision():
    events = json.loads(storybot("timeline", "--json").stdout)["events"]
    assert set(events[0]) == {"date", "precision", "text", "passage_id", "doc_id"}
    dates = [e["date"] for e in events]
    assert dates[0] == "2012" and "2019-10" in dates and dates[-1] == "2020-02-14"
    assert {e["precision"] for e in events} == {"year", "month", "day"}
    assert json.loads(storybot("timeline", "--json", "--year", "2017").stdout)["events"][0]["date"] == "2017"
    only = json.loads(storybot("timeline", "--json", "--contains", "Munich").stdout)["events"]
    assert {e["passage_id"] for e in only} == {"iran-canada-ties#9"}


def test_sources_json():
    out = json.loads(storybot("sources", "--json").stdout)
    assert out == {"documents": [{
        "id": "iran-canada-ties",
        "title": "Canada refused to discuss Iran's proposal to resume some diplomatic ties",
        "published": "2020-02",
        "url": "https://www.theglobeandmail.com/politics/article-canada-refused-to-discuss-irans-proposal-to-resume-some-diplomatic/",
        "passages": 20,
    }]}


@pytest.mark.slow
def test_check_names_the_broken_file_without_a_traceback(corpus_copy):
    assert storybot("check", "--corpus", str(corpus_copy)).returncode == 0
    (corpus_copy / "follow-up.md").write_text("---\ntitle: Follow-up\npublished: 2020-13-45\n---\nText.\n")
    res = storybot("check", "--corpus", str(corpus_copy))
    assert res.returncode == 1
    assert "follow-up.md: `published`" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_console_answers_like_the_bot():
    res = storybot("console", stdin="Who is Mike Poole?\n/timeline 2017\n/sources\n/nonsense\n/quit\n")
    assert res.returncode == 0
    assert "**Mike Poole**" in res.stdout and "paragraph 17" in res.stdout
    assert "in 2017" in res.stdout and "20 passages" in res.stdout and "/timeline [year" in res.stdout


def test_console_says_when_a_command_is_unknown_and_takes_several_years():
    stdout = io.StringIO()  # the console as `storybot console` runs it (test_console_answers_like_the_bot)
    assert run_console(StoryService.open(CORPUS), stdin=io.StringIO("/nonsense\n/timeline 2017 2018\n/help\n"),
                       stdout=stdout) == 0
    out = stdout.getvalue()
    assert "Unknown command /nonsense." in out
    assert "Events in 2017 and 2018:" in out
    assert "2017" in out.split("Events in 2017 and 2018:")[1]
    assert "up to 1,000 characters" in out  # the one question-length limit


@pytest.mark.slow
def test_read_only_commands_never_say_nothing_was_changed(corpus_copy):
    (corpus_copy / "broken.md").write_text("---\ntitle: Broken\npublished: 2020-13-45\n---\nText.\n")
    for args in (["ask", "black boxes"], ["timeline"], ["sources"], ["check"]):
        res = storybot(*args, "--corpus", str(corpus_copy))
        assert res.returncode == 1 and "broken.md" in res.stderr
        assert "nothing was changed" not in res.stderr
    res = storybot("console", "--corpus", str(corpus_copy), stdin="/reload\n")  # reading the good corpus first
    assert res.returncode == 1  # the console, too, needs a valid corpus to start


def test_too_long_questions_are_refused_with_the_limit(in_process):
    code, out, _ = in_process("ask", "embassy " * 200)
    assert "under 1,000 characters" in out


@pytest.mark.slow
def test_stats_json_lists_refused_questions_and_answers_voted_down(tmp_path):
    import asyncio

    from bot.record import Record, Reply, search_words

    async def fill():
        r = Record.open(tmp_path)
        for i, (kind, q) in enumerate([("answer", "Who is Mike Poole?"), ("refused", "Who won the Stanley Cup?"),
                                        ("refused", "stanley cup: who won"), ("closest", "Who won the cup?")]):
            shown = ("iran-canada-ties#17",) if kind != "refused" else ()
            await r.add_reply(Reply(ask_id=i + 1, kind=kind, question=q, passages=shown, member=r.member(42),
                                    corpus="abcd1234"))
        await r.vote(1, r.member(42), -1)
        await r.close()

    asyncio.run(fill())
    res = storybot("stats", "--json", DATA_DIR=str(tmp_path))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["asked"], out["answered"], out["refused"], out["closest"]) == (4, 1, 2, 1)
    top = out["unanswered"][0]
    assert top["count"] == 2 and top["words"] == search_words("Who won the Stanley Cup?")
    assert [(v["question"], v["down"], v["passages"]) for v in out["voted_down"]] == \
        [("Who is Mike Poole?", 1, ["iran-canada-ties#17"])]
    text = storybot("stats", "--days", "7", DATA_DIR=str(tmp_path)).stdout
    assert "**Questions asked** (in the last 7 days): 4" in text and "“Who won the Stanley Cup?”" not in text
    assert "“stanley cup: who won”" in text  # the latest of its group


@pytest.mark.slow
def test_ask_and_the_console_narrow_to_one_story(tmp_path, corpus_copy):
    (corpus_copy / "follow-up.md").write_text(
        "---\ntitle: Iran agrees to send the black boxes abroad\npublished: 2020-07-18\n---\n"
        "On July 18, 2020, Iran said the black boxes would be sent to France.\n")
    both = json.loads(storybot("ask", "black boxes", "--json", "--corpus", str(corpus_copy)).stdout)
    assert {p["doc_id"] for p in both["passages"]} == {"iran-canada-ties", "follow-up"}
    one = json.loads(storybot("ask", "black boxes", "--story", "follow-up", "--json",
                              "--corpus", str(corpus_copy)).stdout)
    assert {p["doc_id"] for p in one["passages"]} == {"follow-up"}
    res = storybot("console", "--corpus", str(corpus_copy), stdin="/ask --story follow-up black boxes\n")
    assert "sent to France" in res.stdout and "paragraph 16" not in res.stdout
