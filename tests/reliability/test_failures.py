"""Every failure a careless moderator or operator can cause ends in one sentence naming the file, setting or
host, with the documented exit code (2: configuration, 1: a bad corpus, 3: Discord cannot be reached), never
a traceback; `run` retries an unreachable Discord as discord.py does."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path

import discord
import pytest

from bot.__main__ import main
from bot.core.corpus import CorpusError
from bot.core.service import StoryService
from bot.exts import launcher
from bot.settings import Settings
from tests.e2e.fakediscord import FakeDiscord

from .conftest import MANAGE_GUILD, TOKEN, captured_logs, report, shortened_sleeps, start_bot
from .test_secrets import logging_restored

NON_UTF8_NAME = os.fsdecode(b"caf\xe9.md")
BAD_NAME_LINE = "caf\\xe9.md: the file name is not UTF-8"


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment for the command line: no settings from the machine, a cache of its own, and a
    working folder with no .env."""
    for name in list(os.environ):
        if name in {"DISCORD_TOKEN", "GUILD_ID", "MODERATOR_ROLE_IDS", "CORPUS_DIR", "CACHE_DIR", "LOG_LEVEL",
                    "SHARD_COUNT", "SHARD_IDS", "ASK_COOLDOWN_RATE", "ASK_COOLDOWN_SECONDS", "RELOAD_TIMEOUT_SECONDS"}:
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))
    return work


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


# --- a bad corpus: exit 1 ------------------------------------------------------------------------------------


def test_a_file_name_that_is_not_utf8_is_named(env, corpus_dir, tmp_path, capsys):
    (corpus_dir / NON_UTF8_NAME).write_bytes((corpus_dir / "iran-canada-ties.md").read_bytes())
    code, out, err = run_main(capsys, "check", "--corpus", str(corpus_dir))
    assert code == 1 and BAD_NAME_LINE in err, err
    with pytest.raises(CorpusError) as refused:  # the cached path (fingerprint first) says the same
        StoryService.open(corpus_dir, cache_dir=tmp_path / "cache")
    assert str(refused.value.problems[0]).startswith(BAD_NAME_LINE)
    report("non-UTF-8 file name", exit=code, line=err.strip().splitlines()[-1])


@pytest.mark.asyncio
@pytest.mark.e2e
async def test_reload_names_a_file_name_that_is_not_utf8(corpus_dir):
    async with FakeDiscord() as fd:
        await start_bot(fd, corpus_dir)
        admin = fd.add_member("admin", permissions=MANAGE_GUILD)
        (corpus_dir / NON_UTF8_NAME).write_bytes(b"---\ntitle: x\npublished: 2020\n---\ntext\n")
        refused = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
        assert refused.embeds[0]["title"].startswith("Reload refused"), refused.embeds
        assert "caf\\\\xe9.md" in refused.embeds[0]["description"] or "caf\\xe9.md" in refused.embeds[0]["description"]
        await fd.stop_bot()


def test_a_cache_pointer_that_is_not_text_is_ignored(corpus_dir, tmp_path):
    cache = tmp_path / "cache"
    StoryService.open(corpus_dir, cache_dir=cache)
    [pointer] = cache.glob("corpus-*.txt")
    pointer.write_bytes(b"\xff\xfe\x00garbage\x80\n")
    for _ in range(2):  # it starts, and keeps starting
        assert StoryService.open(corpus_dir, cache_dir=cache).ask("Who is Mike Poole?").answered


# --- configuration: exit 2 -----------------------------------------------------------------------------------


def test_a_dotenv_that_is_not_utf8_is_one_sentence(env, capsys):
    (env / ".env").write_bytes(b"LOG_LEVEL=INFO\nGUILD_ID=caf\xe9\n")
    code, out, err = run_main(capsys, "sources")
    assert code == 2
    assert err.strip() == "storybot: .env is not UTF-8 text (line 2, byte 0xe9); save it as UTF-8."


def test_a_token_with_a_line_break_is_one_sentence(env, capsys, monkeypatch, corpus_dir):
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN[:30] + "\n" + TOKEN[30:])
    with logging_restored():
        code, out, err = run_main(capsys, "run", "--corpus", str(corpus_dir))
    assert code == 2
    assert err.strip() == ("storybot: DISCORD_TOKEN has a line break, a space or a control character inside it: "
                           "copy the token again, as one line.")


@pytest.mark.parametrize("value, expected", [
    ("-1", "GUILD_ID is malformed (Input should be greater than 0; got '-1')."),
    ("0", "GUILD_ID is malformed (Input should be greater than 0; got '0')."),
    ("99999999999999999999", "GUILD_ID is malformed (Input should be less than 18446744073709551616; "
                             "got '999999999999…' (20 characters))."),
])
def test_a_guild_id_that_cannot_be_one_is_refused(env, capsys, monkeypatch, value, expected):
    monkeypatch.setenv("GUILD_ID", value)
    code, out, err = run_main(capsys, "sources")
    assert code == 2 and err.strip() == f"storybot: {expected}", err


@pytest.mark.parametrize("content, expected", [
    (None, "does not exist."),
    (b"just: [a, mapping]\n", "is not a question set: it needs `story:`"),
    (b"- a list\n- of things\n", "is not a question set"),
    (b"story: [unclosed\n", "is not valid YAML."),
    (b"story: x\xff\n", "is not UTF-8 text; save it as UTF-8."),
    (b"story: no-such-story\noff-topic: []\n", "is about the story 'no-such-story', which is not in the corpus"),
])
def test_eval_names_a_file_that_is_not_a_question_set(env, capsys, corpus_dir, content, expected):
    path = env / "questions.yaml"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run_main(capsys, "eval", str(path), "--corpus", str(corpus_dir))
    assert code == 2 and err.startswith(f"storybot: {path} ") and expected in err, err


# --- Discord: a host that cannot be reached, a guild the bot is not in ---------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sync_names_an_unreachable_discord(corpus_dir, tmp_path, monkeypatch, capsys):
    port = closed_port()
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{port}/api/v10")
    settings = Settings(_env_file=None, discord_token=TOKEN, cache_dir=tmp_path / "cache")
    with logging_restored():
        code = launcher.main("sync", settings, argparse.Namespace(corpus=corpus_dir, guild=None))
    out, err = capsys.readouterr()
    assert code == 3 and "Traceback" not in err
    last = err.rstrip().splitlines()[-1]  # after the log lines
    assert last.startswith(f"storybot: cannot reach Discord at 127.0.0.1:{port} (")
    assert last.endswith("check the network and try again.")


def test_run_names_an_unreachable_discord_and_keeps_retrying(corpus_dir, tmp_path, monkeypatch, capsys):
    """`storybot run` while Discord cannot be reached: a warning line naming the host at each attempt, with
    discord.py's exponential backoff between them (its delays as logged, waited a hundred times faster), until
    it is stopped (or Discord answers)."""
    waits = shortened_sleeps(monkeypatch, launcher)
    port = closed_port()
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{port}/api/v10")
    settings = Settings(_env_file=None, discord_token=TOKEN, cache_dir=tmp_path / "cache",
                        data_dir=tmp_path / "data")  # the record's key file: here, not in the checkout's .data
    made = []
    real = launcher.create_bot
    monkeypatch.setattr(launcher, "create_bot", lambda *a, **kw: made.append(real(*a, **kw)) or made[-1])

    def stop_after_three_attempts(logs) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if sum("retrying in" in r.getMessage() for r in logs.records) >= 3:
                break
            time.sleep(0.05)
        bot = made[0]
        asyncio.run_coroutine_threadsafe(bot.close(), bot.loop)

    with logging_restored(), captured_logs(logging.INFO) as logs:
        stopper = threading.Thread(target=stop_after_three_attempts, args=(logs,), daemon=True)
        stopper.start()
        started = time.perf_counter()
        code = launcher.main("run", settings, argparse.Namespace(corpus=corpus_dir, guild=None))
        took = time.perf_counter() - started
        stopper.join(5)
    retries = [r.getMessage() for r in logs.records if "retrying in" in r.getMessage()]
    assert code == 0 and len(retries) >= 3, retries
    assert waits, "no wait between the attempts"
    assert all(m.startswith(f"cannot reach Discord at 127.0.0.1:{port} (") for m in retries)
    assert not logs.errors(), [r.getMessage() for r in logs.errors()]
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    report("run with Discord unreachable", attempts=len(retries), seconds=round(took, 1), first=retries[0])


@pytest.mark.asyncio
@pytest.mark.e2e
async def test_a_guild_the_bot_is_not_in_is_one_log_line_and_the_bot_runs(corpus_dir):
    with captured_logs() as logs:
        async with FakeDiscord() as fd:
            await start_bot(fd, corpus_dir, guild_id=fd.guild_id + 12345)
            alice = fd.add_member("alice")
            reply = await (await fd.mention(alice, "Who is Mike Poole?")).wait_reply()
            assert "Mike Poole" in str(reply)
            await fd.stop_bot()
    [line] = [r for r in logs.records if "is not a server this bot is in" in r.getMessage()]
    assert line.levelno == logging.ERROR and not line.exc_info
    assert line.getMessage().startswith(f"GUILD_ID {fd.guild_id + 12345} is not a server this bot is in")
    report("GUILD_ID the bot is not in", line=line.getMessage())
