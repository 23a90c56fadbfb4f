"""Faults, one a test: the gateway drops or goes silent, Discord's REST API answers 429 or 500, the corpus folder
vanishes or cannot be read, a story file changes while a reload reads it, and SIGTERM arrives mid-reload.

The bot runs against the loopback stand-in (tests/e2e/fakediscord/), which injects each fault the way
Discord shows it to discord.py; the last test runs ``storybot run`` as a child process (sigterm_child.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import discord
import discord.webhook.async_
import pytest

from bot.core.corpus import CorpusError
from bot.core.service import StoryService
from tests.conftest import ROOT
from tests.e2e.fakediscord import FakeDiscord, InteractionRecord

from .conftest import (FOLLOW_UP, MANAGE_GUILD, TOKEN, ask_stream, captured_logs, describe, plain, quote_text, report,
                       shortened_sleeps, start_bot, write_synthetic)

CALLBACK = r"/interactions/\d+/[^/]+/callback"
QUESTIONS = ["Who is Mike Poole?", "Why did Canada close its embassy in Tehran?", "black boxes",
             "When did Zarif meet Champagne in Munich?", "Who won the Stanley Cup?"]


def followups(fd: FakeDiscord) -> str:
    return rf"/webhooks/{fd.app_id}/[^/]+"


async def all_answered(asks: list[InteractionRecord]) -> list[float]:
    """Every interaction acknowledged once, inside the window, with an answer embed; their latencies."""
    finals = await asyncio.gather(*(r.wait_final(timeout=10) for r in asks))
    for r, final in zip(asks, finals):
        assert r.acked and not r.expired and r.latency < 3.0, r
        assert final.embeds and not final.content, (r, final.content)
    return [r.latency for r in asks]


# --- the gateway ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.e2e
@pytest.mark.slow
async def test_gateway_drops_are_resumed_and_no_question_is_lost(corpus_dir):
    """A TCP abort, a resumable close frame and a RECONNECT request, with questions arriving throughout: the
    bot resumes its session each time, the stand-in replays what it missed, and every question is answered."""
    with captured_logs() as logs:
        async with FakeDiscord() as fd:
            await start_bot(fd, corpus_dir)
            members = [fd.add_member(f"m{i}") for i in range(10)]
            asks: list[InteractionRecord] = []
            while_down: list[int] = []

            async def faults() -> None:
                for fault in (fd.drop_gateway, lambda: fd.drop_gateway(code=4000), fd.request_reconnect):
                    await asyncio.sleep(0.8)
                    await fault()
                    for i in range(3):  # sent while the bot is away: the stand-in buffers them for the resume
                        asks.append(await fd.slash("ask", {"question": QUESTIONS[i]}, user=members[i]))
                    first = len(asks) - 3
                    await fd.wait_ready(timeout=10)
                    while_down.append(len(asks) - first)

            await asyncio.gather(ask_stream(fd, members, QUESTIONS, 80, 25.0, asks), faults())
            latencies = await all_answered(asks)
            assert len(fd.identifies) == 1 and len(fd.resumes) == 3  # resumed each time, never a new session
            assert all(c.kind in ("identify", "resume") for c in fd.connections)
            await fd.stop_bot()
    assert not logs.errors(), describe(logs.errors())
    report("gateway drops", drops=3, resumes=len(fd.resumes), interactions=len(asks), answered=len(latencies),
           dispatched_while_reconnecting=sum(while_down), max_ms=round(max(latencies) * 1000, 1))


@pytest.mark.asyncio
@pytest.mark.e2e
async def test_a_silent_gateway_is_noticed_and_resumed(corpus_dir):
    """A zombie connection (open, but nothing arrives, not even heartbeat ACKs): discord.py gives up on it after
    its heartbeat timeout (1 s here, 60 s by default), reconnects and resumes; a question asked meanwhile is
    replayed and answered."""
    with captured_logs() as logs:
        async with FakeDiscord(heartbeat_interval=0.2) as fd:
            await start_bot(fd, corpus_dir, options={"heartbeat_timeout": 1.0})
            alice = fd.add_member("alice")
            fd.ack_heartbeats = False
            silent_at = time.monotonic()
            # the stand-in keeps the socket open and says nothing; the question is buffered for the replay
            await fd._wait_until(lambda: any(c.closed_at for c in fd.connections), 10, "the bot to give up")
            noticed = time.monotonic() - silent_at
            fd.ack_heartbeats = True
            r = await fd.slash("ask", {"question": "Who is Mike Poole?"}, user=alice)
            await fd.wait_ready(timeout=10)
            final = await r.wait_final()
            assert "**Mike Poole**" in quote_text(final) and r.latency < 3.0
            assert fd.connections[-1].kind == "resume" and len(fd.identifies) == 1
            await fd.stop_bot()
    assert not logs.errors(), describe(logs.errors())
    report("silent gateway", noticed_after_s=round(noticed, 2), resumed=True)


@pytest.mark.asyncio
@pytest.mark.e2e
@pytest.mark.slow
async def test_an_invalidated_session_is_identified_again(corpus_dir):
    """INVALID_SESSION (not resumable): the bot identifies afresh (after discord.py's 5-second pause) and
    answers again."""
    with captured_logs() as logs:
        async with FakeDiscord() as fd:
            await start_bot(fd, corpus_dir)
            alice = fd.add_member("alice")
            await fd.invalidate_session(resumable=False)
            started = time.perf_counter()
            await fd.wait_ready(timeout=15)
            back = time.perf_counter() - started
            final = await (await fd.slash("ask", {"question": "Who is Mike Poole?"}, user=alice)).wait_final()
            assert "**Mike Poole**" in quote_text(final)
            assert len(fd.identifies) == 2
            await fd.stop_bot()
    assert not logs.errors(), describe(logs.errors())
    report("invalid session", identified_again_after_s=round(back, 2))


# --- the REST API ----------------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.e2e
@pytest.mark.slow
async def test_429s_are_waited_out_and_the_answers_still_arrive(corpus_dir):
    """429 with retry_after on the interaction callback (per-route and global), on a mention's reply and on
    /reload's followup: discord.py waits as told and sends again; every answer arrives, none is lost."""
    with captured_logs() as logs:
        async with FakeDiscord() as fd:
            await start_bot(fd, corpus_dir)
            alice = fd.add_member("alice")
            admin = fd.add_member("admin", permissions=MANAGE_GUILD)
            waited = []
            for is_global in (False, True):
                fault = fd.fail_next("POST", CALLBACK, status=429, retry_after=0.6, is_global=is_global)
                r = await fd.slash("ask", {"question": "Who is Mike Poole?"}, user=alice)
                final = await r.wait_final()
                assert fault.exhausted and [a.status for a in r.attempts] == [429, 200]
                assert 0.6 <= r.latency < 3.0 and "**Mike Poole**" in quote_text(final)
                waited.append(r.latency)

            fault = fd.fail_next("POST", rf"/channels/{fd.channel_id}/messages", status=429, retry_after=0.5)
            m = await fd.mention(alice, "who is Mike Poole?")
            reply = await m.wait_reply(timeout=5)
            assert fault.exhausted and "**Mike Poole**" in reply["embeds"][0]["description"]

            (corpus_dir / "follow-up.md").write_text(FOLLOW_UP, encoding="utf-8")
            fault = fd.fail_next("POST", followups(fd), status=429, retry_after=0.5)
            done = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
            assert fault.exhausted and done.embeds[0]["title"] == "Corpus reloaded"
            await fd.stop_bot()
    assert not logs.errors(), describe(logs.errors())
    assert len([r for r in logs.records if "rate limited" in r.getMessage()]) >= 3
    report("429", callbacks_retried=2, callback_latency_ms=[round(w * 1000) for w in waited],
           mention_reply_retried=True, reload_followup_retried=True, lost=0)


@pytest.fixture
def backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """discord.py's retry back-off for interaction responses, a hundred times shorter; returns the delays it
    asked for.

    Interaction callbacks and followups go through the webhook adapter, not ``discord.http.HTTPClient``: after
    a 5xx ``AsyncWebhookAdapter.request`` waits ``asyncio.sleep(1 + attempt * 2)`` (``HTTPClient.request`` has
    the same loop) through ``discord.webhook.async_``'s own reference to asyncio. Only that module sees the
    short sleep, so the bot's and the stand-in's timing stay real."""
    return shortened_sleeps(monkeypatch, discord.webhook.async_)


@pytest.mark.asyncio
@pytest.mark.e2e
async def test_a_500_on_the_reload_followup_is_retried(corpus_dir, backoff):
    """One 500 on /reload's followup (the reply after the defer): discord.py tries again after its back-off of
    a second (shortened by the ``backoff`` fixture) and the moderator sees the report."""
    with captured_logs() as logs:
        async with FakeDiscord() as fd:
            await start_bot(fd, corpus_dir)
            admin = fd.add_member("admin", permissions=MANAGE_GUILD)
            (corpus_dir / "follow-up.md").write_text(FOLLOW_UP, encoding="utf-8")
            fault = fd.fail_next("POST", followups(fd), status=500)
            done = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
            assert fault.exhausted and done.ephemeral and done.embeds[0]["title"] == "Corpus reloaded"
            assert [r.status for r in fd.requests_to("POST", followups(fd))] == [500, 200]
            assert backoff == [1]
            await fd.stop_bot()
    assert not logs.errors(), describe(logs.errors())


@pytest.mark.asyncio
@pytest.mark.e2e
async def test_a_followup_that_keeps_failing_is_logged_and_the_bot_keeps_serving(corpus_dir, backoff):
    """500 on every one of discord.py's five tries of /reload's followup (its back-off of 1 + 3 + 5 + 7 + 9 s,
    shortened by the ``backoff`` fixture): the failure is logged with its traceback, the moderator gets the
    apology once Discord recovers, the reload itself took effect, and members' questions are answered
    throughout."""
    with captured_logs() as logs:
        async with FakeDiscord() as fd:
            await start_bot(fd, corpus_dir)
            admin = fd.add_member("admin", permissions=MANAGE_GUILD)
            members = [fd.add_member(f"m{i}") for i in range(5)]
            (corpus_dir / "follow-up.md").write_text(FOLLOW_UP, encoding="utf-8")
            fault = fd.fail_next("POST", followups(fd), status=500, count=5)
            started = time.perf_counter()
            r = await fd.slash("reload", {}, user=admin)
            asks: list[InteractionRecord] = []

            async def meanwhile() -> None:  # 5 questions a second until the moderator hears back
                while not r.followup_bodies or r.loading:
                    await ask_stream(fd, members, QUESTIONS, 5, 5.0, asks)

            await asyncio.wait_for(meanwhile(), 60)
            final = await r.wait_final(timeout=5)
            took = time.perf_counter() - started
            assert fault.exhausted and final.ephemeral
            assert backoff == [1, 3, 5, 7, 9]  # discord.py waited (a hundredth of) its back-off before each retry
            assert final.content.startswith("Sorry, something went wrong")
            latencies = await all_answered(asks)
            after = await (await fd.slash("ask", {"question": "Will the recorders be sent to France?"},
                                          user=admin)).wait_final()
            assert "France" in quote_text(after)  # the reload itself went through
            again = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
            assert "nothing changed" in again.embeds[0]["title"]
            await fd.stop_bot()
    [failure] = logs.errors()
    assert failure.name == "bot.exts.client" and "/reload failed" in failure.getMessage()
    assert isinstance(failure.exc_info[1], discord.DiscordServerError)
    report("500 on followup", attempts=5, logged="command /reload failed + DiscordServerError traceback",
           apology_after_s=round(took, 1), asks_meanwhile=len(asks), answered=len(latencies),
           max_ms=round(max(latencies) * 1000, 1))


# --- the corpus folder -------------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.e2e
@pytest.mark.parametrize("cached", [False, True], ids=["no-cache", "cache"])
async def test_a_missing_or_unreadable_corpus_is_refused_and_the_old_one_serves(corpus_dir, tmp_path,
                                                                                monkeypatch, cached):
    """The folder removed, replaced by a file, unlistable, or a story unreadable (tests run as root, so
    permission errors are injected): each reload is refused with the reason and the old corpus answers."""
    service = StoryService.open(corpus_dir, cache_dir=tmp_path / "cache" if cached else None)
    aside = tmp_path / "aside"
    story = "iran-canada-ties.md"
    real_scandir, real_open, real_read_bytes = os.scandir, os.open, pathlib.Path.read_bytes
    real_path_open = pathlib.Path.open

    def denied(path: object) -> PermissionError:
        return PermissionError(13, "Permission denied", str(path))

    def scandir(path=".", *a, **k):  # type: ignore[no-untyped-def]
        if Path(path) == corpus_dir:
            raise denied(path)
        return real_scandir(path, *a, **k)

    def os_open(path, *a, **k):  # type: ignore[no-untyped-def]
        if os.path.basename(os.fsdecode(path)) == story:
            raise denied(path)
        return real_open(path, *a, **k)

    def read_bytes(self):  # type: ignore[no-untyped-def]
        if self.name == story:
            raise denied(self)
        return real_read_bytes(self)

    def path_open(self, *a, **k):  # type: ignore[no-untyped-def]
        if self.name == story:
            raise denied(self)
        return real_path_open(self, *a, **k)

    def remove() -> None:
        shutil.move(corpus_dir, aside)

    def restore() -> None:
        if corpus_dir.is_file():
            corpus_dir.unlink()
        if aside.exists():
            shutil.move(aside, corpus_dir)
        monkeypatch.undo()

    def replace_by_file() -> None:
        remove()
        corpus_dir.write_text("not a folder", encoding="utf-8")

    def unlistable() -> None:
        monkeypatch.setattr(os, "scandir", scandir)

    def unreadable_story() -> None:
        (corpus_dir / "follow-up.md").write_text(FOLLOW_UP, encoding="utf-8")  # so a cache cannot answer
        monkeypatch.setattr(os, "open", os_open)
        monkeypatch.setattr(pathlib.Path, "read_bytes", read_bytes)
        monkeypatch.setattr(pathlib.Path, "open", path_open)

    cases = [(remove, "the corpus folder does not exist"), (replace_by_file, "is not a folder"),
             (unlistable, "cannot list the folder (Permission denied)"),
             (unreadable_story, f"{story}`: cannot read the file (Permission denied)")]
    with captured_logs() as logs:
        async with FakeDiscord() as fd:
            await start_bot(fd, corpus_dir, service=service)
            admin = fd.add_member("admin", permissions=MANAGE_GUILD)
            before = quote_text(await (await fd.slash("ask", {"question": "Who is Mike Poole?"},
                                                      user=admin)).wait_final())
            for damage, reason in cases:
                damage()
                try:
                    refused = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
                    now = quote_text(await (await fd.slash("ask", {"question": "Who is Mike Poole?"},
                                                           user=admin)).wait_final())
                finally:
                    restore()
                assert refused.ephemeral and refused.embeds[0]["title"].startswith("Reload refused"), refused
                assert reason in plain(refused.embeds[0]["description"])
                assert now == before  # the old corpus keeps answering, word for word
            ok = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
            assert ok.embeds[0]["title"].startswith("Corpus reloaded")
            await fd.stop_bot()
    assert not logs.errors(), describe(logs.errors())
    assert len([r for r in logs.at(logging.WARNING, "bot.exts.admin") if "refused" in r.getMessage()]) == len(cases)
    report(f"corpus faults ({'cache' if cached else 'no cache'})", refused=len(cases), old_corpus_served=True)


# --- a file changing while it is read ----------------------------------------------------------------------------


def _version(tag: str, paragraphs: int) -> str:
    body = "\n\n".join(f"Paragraph {i} of the {tag} version: the {tag} inquiry heard witness {i} on the {tag} "
                       f"evidence, on Jan. {i % 28 + 1}, 2021." for i in range(paragraphs))
    return f"---\ntitle: The {tag} version\npublished: 2021-04\nid: hammered\n---\n{body}\n"


VERSIONS = {"alpha": _version("alpha", 40), "bravo": _version("bravo", 55)}
PARAGRAPHS = {tag: tuple(text.split("---\n", 2)[2].strip().split("\n\n")) for tag, text in VERSIONS.items()}


class Hammer(threading.Thread):
    """Rewrites one story file with alternating valid versions as fast as it can, until stopped.

    ``atomic``: write aside, then rename over the file (what careful editors and ``git checkout`` do).
    ``in-place``: truncate and write in 512-byte pieces (what a naive editor or an upload does).
    """

    def __init__(self, path: Path, how: str) -> None:
        super().__init__(daemon=True, name=f"hammer-{how}")
        self.path, self.how = path, how
        self.writes = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        tmp = self.path.with_name(".hammered.tmp")
        while not self.stopped.is_set():
            time.sleep(0.0005)  # a write every half millisecond or so: many per reload
            data = VERSIONS["bravo" if self.writes % 2 == 0 else "alpha"].encode()
            if self.how == "atomic":
                tmp.write_bytes(data)
                os.replace(tmp, self.path)
            else:
                with open(self.path, "wb") as f:
                    for k in range(0, len(data), 512):
                        f.write(data[k : k + 512])
                        f.flush()
            self.writes += 1


def version_of(snapshot) -> str:
    """Which version of the hammered story a snapshot holds ('torn' if neither), after checking that the
    snapshot is consistent in itself: passages, index, timeline and sources all from the same text."""
    doc = snapshot.documents["hammered"]
    mine = [p for p in snapshot.passages if p.doc_id == "hammered"]
    assert tuple(p.text for p in mine) == doc.paragraphs  # short paragraphs: one passage each
    assert all(e.passage_id.startswith("hammered#") and e.text in doc.paragraphs[e.paragraph - 1]
               for e in snapshot.events if e.doc_id == "hammered")
    for tag, paragraphs in PARAGRAPHS.items():
        if doc.paragraphs == paragraphs:
            return tag
    # a torn read: what was on disk at that instant, a prefix of one version
    assert any(paragraphs[: len(doc.paragraphs) - 1] == doc.paragraphs[:-1] for paragraphs in PARAGRAPHS.values())
    return "torn"


def check_answer(service: StoryService, question: str, allowed: set[str]) -> None:
    """An answer quotes passages exactly as they stand in one whole snapshot."""
    answer = service.ask(question)
    for q in answer.quotes:
        assert q.passage.text in q.document.paragraphs[q.passage.paragraph - 1]
        if q.document.id == "hammered":
            tag = next((t for t, ps in PARAGRAPHS.items() if q.document.paragraphs == ps), "torn")
            assert tag in allowed


RELOADS = 150


@pytest.mark.asyncio
@pytest.mark.slow
@pytest.mark.parametrize("how,cached", [("atomic", False), ("atomic", True), ("in-place", False)],
                         ids=["atomic", "atomic-cache", "in-place"])
async def test_a_story_rewritten_during_reloads(corpus_dir, tmp_path, how, cached):
    """Reload again and again while another thread rewrites a story. Each reload serves the old corpus or a
    new one consistent in itself; with atomic writes the story is always one version as a whole, and with
    in-place writes a half-written file is refused or served as the part that was on disk (see the report)."""
    path = corpus_dir / "hammered.md"
    path.write_text(VERSIONS["alpha"], encoding="utf-8")
    service = StoryService.open(corpus_dir, cache_dir=tmp_path / "cache" if cached else None)
    allowed = {"alpha", "bravo"} | ({"torn"} if how == "in-place" else set())
    seen = {"alpha": 0, "bravo": 0, "torn": 0}
    refused = asks = 0
    hammer = Hammer(path, how)
    hammer.start()
    try:
        for _ in range(RELOADS):
            old = service.generation
            reload = asyncio.create_task(service.reload_async())
            while not reload.done():  # questions asked meanwhile get whole answers from one snapshot
                check_answer(service, "What did the alpha inquiry hear?", allowed)
                check_answer(service, "bravo evidence witness", allowed)
                asks += 2
                await asyncio.sleep(0.001)
            try:
                await reload
            except CorpusError as exc:
                refused += 1
                assert service.generation == old and all(p.file == "hammered.md" for p in exc.problems)
                continue
            tag = version_of(service.snapshot)
            assert tag in allowed
            seen[tag] += 1
    finally:
        hammer.stopped.set()
        hammer.join()
    reloads = sum(seen.values()) + refused
    assert reloads == RELOADS and seen["alpha"] + seen["bravo"] > 0 and hammer.writes > RELOADS
    if how == "atomic":
        assert refused == 0 and seen["torn"] == 0
    report(f"rewritten during reloads ({how}{', cache' if cached else ''})", reloads=reloads, writes=hammer.writes,
           alpha=seen["alpha"], bravo=seen["bravo"], torn_served=seen["torn"], refused=refused, asks_meanwhile=asks)


# --- SIGTERM -------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_during_a_reload_exits_cleanly(tmp_path):
    """``storybot run`` (the real command line, in a child process, against a stand-in inside it) gets SIGTERM
    while a /reload of a 150-story corpus is running: it closes the Discord connection, logs "closed", lets
    the reload thread finish (Python joins it before exiting), and exits 0 with no traceback."""
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    write_synthetic(corpus, 150)
    env = {k: v for k, v in os.environ.items()
           if k.upper() not in {"GUILD_ID", "MODERATOR_ROLE_IDS", "CORPUS_DIR", "CACHE_DIR", "SHARD_COUNT",
                                "SHARD_IDS", "ASK_COOLDOWN_RATE", "ASK_COOLDOWN_SECONDS"}}
    env |= {"DISCORD_TOKEN": TOKEN, "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, "-m", "tests.reliability.sigterm_child", str(corpus)], cwd=tmp_path,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    errors: list[str] = []  # stderr, read as it comes so that the child never blocks on a full pipe
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in child.stdout], daemon=True).start()
    err_reader = threading.Thread(target=lambda: errors.extend(child.stderr), daemon=True)
    err_reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while "RELOAD-START" not in seen:
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                assert child.poll() is None, f"the child stopped before its reload: {seen}\n{''.join(errors)}"
                assert time.monotonic() < deadline, f"no reload within 90 s: {seen}\n{''.join(errors)}"
        child.send_signal(signal.SIGTERM)
        signalled = time.perf_counter()
        code = child.wait(timeout=60)
        exited = time.perf_counter() - signalled
    finally:
        if child.poll() is None:
            child.kill()
    err_reader.join(5)
    stderr = "".join(errors)
    time.sleep(0.05)
    while not lines.empty():
        seen.append(lines.get())
    assert code == 0, stderr
    order = [line.split(" after")[0] for line in seen if not line.startswith(("READY", "REPLIED"))]
    assert order == ["RELOAD-START", "LOG SIGTERM received: closing", "LOG closed", "RELOAD-END ok", "EXIT 0"], seen
    assert "Traceback" not in stderr and " ERROR " not in stderr and "Task was destroyed" not in stderr, stderr
    reload_seconds = float(next(line for line in seen if line.startswith("RELOAD-END")).split()[-1].rstrip("s"))
    report("SIGTERM mid-reload", exit_code=code, exit_after_signal_s=round(exited, 2),
           reload_s=round(reload_seconds, 2), closed_logged=True)
