"""Secrets: the bot token never reaches a log line, a message or an error, and `.env` is never committed."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import shutil
import subprocess
import threading
from contextlib import contextmanager
from typing import Iterator

import pytest

from bot.exts import launcher
from bot.settings import SECRETS, Settings, SettingsError, load_settings
from tests.conftest import ROOT
from tests.e2e.fakediscord import FakeDiscord

from .conftest import MANAGE_GUILD, TOKEN, captured_logs, quote_text, report, start_bot


def secret_fragments(token: str) -> list[str]:
    """What must not appear: the token, its timestamp and HMAC parts (the first part only encodes the bot's
    public user id), the HMAC's middle, and the token base64-encoded at each of the three byte alignments
    (as a Basic auth header or a careless dump would show it), standard and URL-safe."""
    _, stamp, hmac = token.split(".")
    out = [token, stamp, hmac, hmac[4:-4]]
    for offset in range(3):
        encoded = base64.b64encode(token[offset:].encode()).decode()
        middle = encoded[4:-4]  # the part that does not depend on the neighbouring bytes
        out += [middle, middle.replace("+", "-").replace("/", "_")]
    return out


def leaks(text: str) -> list[str]:
    return [f for f in secret_fragments(TOKEN) if f in text]


INQUIRY = "---\ntitle: The inquiry\npublished: 2021-04\n---\n" + "\n\n".join(
    f"On March {d}, 2021, the inquiry heard witness {d}." for d in range(1, 25)) + "\n"


@pytest.mark.asyncio
@pytest.mark.e2e
async def test_the_token_is_in_no_log_line_of_a_whole_run(corpus_dir):
    """Root logger at DEBUG, every discord.* logger open (the launcher's WARNING floor on discord.http lifted):
    start, /ask, a mention, /timeline and a page click, /sources, /reload, shutdown."""
    (corpus_dir / "inquiry.md").write_text(INQUIRY, encoding="utf-8")
    with captured_logs(logging.DEBUG, everything=True) as logs:
        async with FakeDiscord(token=TOKEN) as fd:  # the stand-in refuses any other token, so it was used
            bot = await start_bot(fd, corpus_dir)
            alice = fd.add_member("alice")
            admin = fd.add_member("admin", permissions=MANAGE_GUILD)
            assert "**Mike Poole**" in quote_text(
                await (await fd.slash("ask", {"question": "Who is Mike Poole?"}, user=alice)).wait_final())
            await (await fd.mention(alice, "black boxes")).wait_reply()
            r = await fd.slash("timeline", {}, user=alice)
            first = await r.wait_final()
            page2 = await (await fd.click(r.message, first.message["components"][0]["components"][1]["custom_id"],
                                          user=alice)).wait_final()
            assert "Page 2 of" in page2.embeds[0]["footer"]["text"]
            await (await fd.slash("sources", {}, user=alice)).wait_final()
            (corpus_dir / "inquiry.md").unlink()
            done = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
            assert done.embeds[0]["title"] == "Corpus reloaded"
            await fd.stop_bot()
            assert bot.is_closed()
            sent = json.dumps([fd.messages, [q.json for q in fd.requests]], ensure_ascii=False)
    lines = logs.lines()
    text = "\n".join(lines)
    names = {r.name for r in logs.records}
    assert {"discord.http", "discord.gateway", "discord.client", "bot.exts.admin"} <= names  # really everything
    assert len(lines) > 50
    assert not leaks(text), leaks(text)
    assert not leaks(sent)  # nor in anything the bot sent
    report("token in logs", log_lines=len(lines), loggers=len(names), fragments_checked=len(secret_fragments(TOKEN)),
           found=0)


@contextmanager
def stand_in_thread(**options: object) -> Iterator[FakeDiscord]:
    """A FakeDiscord on its own event loop in a thread, for code that runs ``asyncio.run`` itself."""
    ready, state = threading.Event(), {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        fd = FakeDiscord(**options)  # type: ignore[arg-type]
        loop.run_until_complete(fd.start())
        state.update(fd=fd, loop=loop)
        ready.set()
        loop.run_forever()
        loop.run_until_complete(fd.close())
        loop.close()

    thread = threading.Thread(target=serve, name="fakediscord", daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield state["fd"]
    finally:
        state["loop"].call_soon_threadsafe(state["loop"].stop)
        thread.join(10)


@contextmanager
def logging_restored() -> Iterator[None]:
    """``launcher.main`` configures logging for the process; put it back afterwards."""
    root, http = logging.getLogger(), logging.getLogger("discord.http")
    handlers, level, http_level = list(root.handlers), root.level, http.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        http.setLevel(http_level)


def test_a_rejected_token_is_not_echoed(corpus_dir, tmp_path, capsys):
    """`storybot run` with a token Discord refuses (401 on login): one sentence, exit 2, and the token in
    neither the output nor the log, with LOG_LEVEL=DEBUG."""
    settings = Settings(_env_file=None, discord_token=TOKEN, log_level="DEBUG", cache_dir=tmp_path / "cache",
                        data_dir=tmp_path / "data")  # the record's key file: here, not in the checkout's .data
    args = argparse.Namespace(corpus=corpus_dir, guild=None)
    with logging_restored(), captured_logs(logging.DEBUG, everything=True) as logs, \
            stand_in_thread(token="MTAw.other.token-that-discord-expects"):
        code = launcher.main("run", settings, args)
    out, err = capsys.readouterr()
    assert code == 2 and "Discord rejected DISCORD_TOKEN" in err
    assert not leaks(out + err + "\n".join(logs.lines()))


def test_settings_never_show_the_token():
    settings = Settings(_env_file=None, discord_token=TOKEN)
    for shown in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert not leaks(shown), shown
    assert settings.token() == TOKEN
    with pytest.raises(SettingsError) as bad:
        load_settings(_env_file=None, discord_token=TOKEN, guild_id="not-a-number")
    assert not leaks(str(bad.value))
    with pytest.raises(SettingsError) as bad:
        load_settings(_env_file=None, discord_token=[TOKEN])
    assert not leaks(str(bad.value)), str(bad.value)


def test_dotenv_is_ignored_by_git():
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    if subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True).returncode:
        pytest.skip("not a git checkout")
    assert subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT).returncode == 0, ".env is not ignored"
    tracked = subprocess.run(["git", "ls-files", "--", ".env", "**/.env"], cwd=ROOT, capture_output=True,
                             text=True).stdout
    assert not tracked.strip(), f"a .env file is committed: {tracked}"
    assert (ROOT / ".env.example").is_file()


SETTINGS = sorted(name.upper() for name in Settings.model_fields)


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_a_token_pasted_into_any_setting_is_never_shown(where, corpus_dir, tmp_path, monkeypatch, capsys):
    """The token pasted into each setting in turn (the wrong variable, as an operator in a hurry would), for
    `sources`, `check` and `run`: every output line and every log record (at DEBUG) is searched for it."""
    from bot.__main__ import main

    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    outcomes = {}
    for name in SETTINGS:
        values = {"LOG_LEVEL": "DEBUG", "CACHE_DIR": str(tmp_path / "cache"), "CORPUS_DIR": str(corpus_dir),
                  name: TOKEN}
        if where == ".env":
            (work / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
        else:
            for k, v in values.items():
                monkeypatch.setenv(k, v)
        for command in (["sources"], ["check"], ["run"]):
            with logging_restored(), captured_logs(logging.DEBUG, everything=True) as logs:
                with stand_in_thread(token=TOKEN):  # `run` reaches a Discord that accepts the token
                    if command == ["run"] and name == "DISCORD_TOKEN":
                        continue  # a correct run: covered by test_the_token_is_in_no_log_line_of_a_whole_run
                    code = main(command)
            out, err = capsys.readouterr()
            shown = out + err + "\n".join(logs.lines())
            assert not leaks(shown), (name, command, leaks(shown), shown[-2000:])
            outcomes[(name, command[0])] = code
        for k in values:
            monkeypatch.delenv(k, raising=False)
    # a token where it does not belong stops the command with exit 2; in DISCORD_TOKEN it is simply used, and
    # the other secrets (DATABASE_URL, RECORD_KEY) may hold anything token-like: they are only never shown
    assert all(code == 2 for (name, _), code in outcomes.items() if name.lower() not in SECRETS), outcomes
    assert outcomes[("DISCORD_TOKEN", "sources")] == 0 and outcomes[("DISCORD_TOKEN", "check")] == 0
    report("token in every setting", where=where, settings=len(SETTINGS), runs=len(outcomes), found=0)


@pytest.mark.parametrize("name", ["GUILD_ID", "MODERATOR_ROLE_IDS", "LOG_LEVEL", "SHARD_COUNT", "SHARD_IDS",
                                  "ASK_COOLDOWN_RATE", "ASK_COOLDOWN_SECONDS", "RELOAD_TIMEOUT_SECONDS"])
def test_a_malformed_setting_shows_only_a_short_prefix(name):
    value = "my private note about the server " * 10
    with pytest.raises(SettingsError) as bad:
        load_settings(_env_file=None, **{name.lower(): value})
    message = str(bad.value)
    assert message.startswith(f"{name} is malformed")
    assert "my private n" in message or "MY PRIVATE N" in message or "not shown" in message
    assert "my private note" not in message.lower(), message
