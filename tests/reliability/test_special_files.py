"""Nothing hangs: a story or a cache file that is a FIFO, a device, a folder or a broken link is refused with
its name, within seconds, never waited on or skipped in silence; a reload that does not finish in time is
abandoned, the moderator told, and the next one runs."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import bot.core.corpus as corpus_module
import bot.core.service as service_module
from bot.__main__ import main
from bot.core.corpus import CorpusError, load_corpus
from bot.core.service import StoryService
from tests.conftest import ROOT
from tests.e2e.fakediscord import FakeDiscord

from .conftest import FOLLOW_UP, MANAGE_GUILD, TOKEN, captured_logs, quote_text, report, start_bot, write_synthetic

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")

PATIENCE = 10.0
"""A call that has not returned after this long is hung (each of these returns in well under a second)."""


def within(seconds: float, fn, *args, fifos: tuple[Path, ...] = (), **kwargs):
    """``fn(*args, **kwargs)`` in a thread; fail if it has not returned within ``seconds``. A hung reader is
    then released by opening its FIFO for writing, so the test run itself never hangs."""
    out: dict = {}

    def call() -> None:
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    started = time.perf_counter()
    thread.start()
    thread.join(seconds)
    took = time.perf_counter() - started
    if thread.is_alive():
        for fifo in fifos:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        thread.join(5)
        pytest.fail(f"{getattr(fn, '__name__', fn)} was still blocked after {seconds:.0f} s")
    if "error" in out:
        raise out["error"]
    return out.get("value"), took


def make_special(folder: Path, kind: str) -> Path:
    path = folder / ("loop.md" if kind == "symlink loop" else "story.md")
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "broken symlink":
        path.symlink_to(folder / "gone.md")
    elif kind == "folder named *.md":
        path.mkdir()
    elif kind == "symlink to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "symlink loop":
        path.symlink_to(folder / "loop2.md")
        (folder / "loop2.md").symlink_to(path)
    return path


KINDS = {"fifo": "is a named pipe (FIFO), not a file", "broken symlink": "which does not exist",
         "folder named *.md": "is a folder", "symlink to /dev/zero": "is a device, not a file",
         "symlink loop": "symbolic link that loops"}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_check_names_a_story_that_is_not_a_file(corpus_dir, tmp_path, kind, capsys, monkeypatch):
    """`storybot check`, the command moderators run before /reload: exit 1 naming the file, never "OK"."""
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))
    special = make_special(corpus_dir, kind)
    code, took = within(PATIENCE, main, ["check", "--corpus", str(corpus_dir)], fifos=(special,))
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert "OK" not in out
    line = next(line for line in err.splitlines() if special.name in line)
    assert KINDS[kind] in line, err
    assert "Traceback" not in err
    report(f"check with a {kind}", exit=code, seconds=round(took, 3), line=line.strip())


def test_a_story_replaced_by_a_fifo_after_the_listing_is_refused_not_waited_for(tmp_path, monkeypatch):
    """The race of the issue: the folder is listed, then a FIFO is moved over one of its stories before
    it is read (as `mv -f fifo corpus/x.md` 0.8 s into a `check` of 5,000 stories)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_synthetic(folder, 300)
    victim = folder / "synthetic-00150.md"
    fifo = tmp_path / "fifo"
    listed = corpus_module.story_names

    def list_then_swap(where):
        names = listed(where)
        os.mkfifo(fifo)
        os.replace(fifo, victim)  # what `mv -f` does
        return names

    monkeypatch.setattr(corpus_module, "story_names", list_then_swap)
    with pytest.raises(CorpusError) as refused:
        within(PATIENCE, load_corpus, folder, fifos=(victim,))
    assert [str(p) for p in refused.value.problems] == ["synthetic-00150.md: is a named pipe (FIFO), not a file"]


@pytest.mark.parametrize("which", ["manifest.json", "index_data.npy", "pointer"])
def test_a_fifo_in_the_cache_is_rebuilt_not_waited_for(corpus_dir, tmp_path, which, caplog):
    cache = tmp_path / "cache"
    StoryService.open(corpus_dir, cache_dir=cache)
    if which == "pointer":
        [target] = cache.glob("corpus-*.txt")
    else:
        [snapshot] = cache.glob("snapshot-*")
        target = snapshot / which
    target.unlink()
    os.mkfifo(target)
    caplog.set_level(logging.INFO, logger="bot.archive.cache")
    service, took = within(PATIENCE, StoryService.open, corpus_dir, cache_dir=cache, fifos=(target,))
    assert service.ask("Who is Mike Poole?").answered
    if which != "pointer":
        assert any("is unusable" in r.getMessage() and f"{which} is a named pipe (FIFO)" in r.getMessage()
                   for r in caplog.records)
    # and the next start uses the cache it wrote instead
    caplog.clear()
    within(PATIENCE, StoryService.open, corpus_dir, cache_dir=cache)
    assert any("from the index cache" in r.getMessage() for r in caplog.records)
    report(f"cache {which} replaced by a FIFO", seconds=round(took, 3), rebuilt=True)


@pytest.mark.asyncio
@pytest.mark.e2e
async def test_a_reload_that_hangs_is_abandoned_and_the_next_one_runs(corpus_dir, monkeypatch):
    """A reload stuck reading (a dead network share) is given up after RELOAD_TIMEOUT_SECONDS: the moderator is
    told, questions are answered from the old corpus, the next /reload runs at once and is what serves, and the
    stuck one, when it finally returns, changes nothing."""
    stuck = threading.Event()
    release = threading.Event()
    real = service_module.build_snapshot
    calls = []

    def build(folder, **kw):
        calls.append(time.monotonic())
        if len(calls) == 1:
            stuck.set()
            release.wait(60)
            (corpus_dir / "late.md").write_text(FOLLOW_UP.replace("id: follow-up", "id: late"), encoding="utf-8")
        return real(folder, **kw)

    with captured_logs() as logs:
        async with FakeDiscord() as fd:
            bot = await start_bot(fd, corpus_dir, reload_timeout_seconds=0.5)
            monkeypatch.setattr(service_module, "build_snapshot", build)
            admin = fd.add_member("admin", permissions=MANAGE_GUILD)
            alice = fd.add_member("alice")
            started = time.perf_counter()
            first = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=5)
            took = time.perf_counter() - started
            assert first.embeds[0]["title"] == "Reload abandoned: the corpus that was serving still is"
            assert "RELOAD_TIMEOUT_SECONDS" in first.embeds[0]["description"]
            assert "**Mike Poole**" in quote_text(
                await (await fd.slash("ask", {"question": "Who is Mike Poole?"}, user=alice)).wait_final())
            (corpus_dir / "follow-up.md").write_text(FOLLOW_UP, encoding="utf-8")
            second = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
            assert second.embeds[0]["title"] == "Corpus reloaded", second.embeds
            release.set()  # the stuck reload returns now, with a corpus that has late.md too
            for _ in range(100):
                if any("abandoned reload" in r.getMessage() for r in logs.records):
                    break
                await asyncio.sleep(0.05)
            docs = {d.id for d in bot.service.snapshot.corpus.documents}
            assert docs == {"iran-canada-ties", "follow-up"}  # the second reload's corpus, not the stuck one's
            await fd.stop_bot()
    assert any("abandoned reload" in r.getMessage() and "discarded" in r.getMessage() for r in logs.records)
    report("hung reload", timeout_s=0.5, moderator_told_after_s=round(took, 2), next_reload="ran at once",
           stuck_result="discarded")


def test_a_symlink_to_a_story_still_loads(corpus_dir, tmp_path):
    """Links to regular files are fine: only what is not a file is refused."""
    elsewhere = tmp_path / "elsewhere.md"
    shutil.copy(corpus_dir / "iran-canada-ties.md", elsewhere)
    (corpus_dir / "iran-canada-ties.md").unlink()
    (corpus_dir / "linked.md").symlink_to(elsewhere)
    [doc] = load_corpus(corpus_dir).documents
    assert doc.id == "iran-canada-ties"


@pytest.mark.slow
def test_sigterm_with_a_stuck_reload_still_exits(tmp_path):
    """`storybot run` (the real command line, in a child process) whose /reload is stuck for ever: the reload
    is abandoned after RELOAD_TIMEOUT_SECONDS, and SIGTERM then still closes the connection and exits 0 within
    seconds, saying a reload was left behind (asyncio's thread pool would have joined the stuck thread for
    ever)."""
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    env = {k: v for k, v in os.environ.items()
           if k.upper() not in {"GUILD_ID", "MODERATOR_ROLE_IDS", "CORPUS_DIR", "CACHE_DIR", "SHARD_COUNT",
                                "SHARD_IDS", "ASK_COOLDOWN_RATE", "ASK_COOLDOWN_SECONDS"}}
    env |= {"DISCORD_TOKEN": TOKEN, "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
            "SIGTERM_CHILD_STUCK": "1", "RELOAD_TIMEOUT_SECONDS": "1"}
    child = subprocess.Popen([sys.executable, "-m", "tests.reliability.sigterm_child", str(corpus)], cwd=tmp_path,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    errors: list[str] = []
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in child.stdout], daemon=True).start()
    err_reader = threading.Thread(target=lambda: errors.extend(child.stderr), daemon=True)
    err_reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 90
        # the reload was given up, and the moderator was told (a SIGTERM sooner would cut that reply off)
        while not (any("abandoned" in line for line in errors) and "REPLIED" in seen):
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                assert child.poll() is None, f"the child stopped: {seen}\n{''.join(errors)}"
                assert time.monotonic() < deadline, f"no abandoned reload within 90 s: {seen}\n{''.join(errors)}"
        child.send_signal(signal.SIGTERM)
        signalled = time.perf_counter()
        code = child.wait(timeout=40)
        exited = time.perf_counter() - signalled
    finally:
        if child.poll() is None:
            child.kill()
    err_reader.join(5)
    while not lines.empty():
        seen.append(lines.get())
    assert code == 0, "".join(errors)
    assert "LOG closed" in seen and seen[-1] == "EXIT 0" and not any(s.startswith("RELOAD-END") for s in seen)
    assert any("a reload was still running" in s for s in seen), seen
    stderr = "".join(errors)
    # nothing of ours failed (the record's database pool may log its own closing error at shutdown: a separate
    # problem, which happens without any reload too)
    assert f'File "{ROOT / "bot"}' not in stderr, stderr
    assert not [line for line in stderr.splitlines() if "ERROR" in line and "sqlalchemy.pool" not in line], stderr
    report("SIGTERM with a stuck reload", exit_code=code, exit_after_signal_s=round(exited, 1))
