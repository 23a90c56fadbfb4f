"""Shared helpers of the fault and load suite: the bot against the loopback stand-in, log capture, figures.

Every figure a test measures is printed (run with ``-s -n 0`` to see them: pytest-xdist's workers' output is not
shown) and also appended, one JSON object a line, to the file named by ``RELIABILITY_FIGURES`` when that variable
is set (CI can keep it as an artifact).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import shutil
import statistics
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import discord
import pytest
from hypothesis import HealthCheck, settings

from bot.core.service import StoryService
from bot.exts.client import create_bot
from bot.settings import Settings
from tests.conftest import CORPUS, shortened_sleeps  # noqa: F401  (the fault tests import it from here)
from tests.e2e.fakediscord import FakeDiscord, InteractionRecord, MemberRecord

MANAGE_GUILD = discord.Permissions(manage_guild=True).value
TOKEN = "MTQ0NDQ0NDQ0NDQ0NDQ0NDQ0.GqR7sT.reliability-Sekr1t_MiddlePart-9f8e7d6c5b4a"
"""A token shaped like Discord's (base64 id . timestamp . hmac); its last two parts are what must never leak."""

# Deterministic property tests in CI: the same examples on every run, no example database, no deadline
# (a shared 2-core runner has pauses); RELIABILITY_EXAMPLES raises the count for a longer local hunt.
PROPERTIES = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=int(os.environ.get("RELIABILITY_EXAMPLES", "120")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reliability: the fault, load and hostile-input suite (tests/reliability)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


# --- figures ---------------------------------------------------------------------------------------------------


def report(name: str, **figures: object) -> None:
    """Print a test's figures on one line and keep them for the README (see the module docstring)."""
    shown = ", ".join(f"{k}={_fmt(v)}" for k, v in figures.items())
    print(f"\n[reliability] {name}: {shown}")
    path = os.environ.get("RELIABILITY_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"test": name, **figures}, default=str) + "\n")


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank), q in [0, 100]."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- logs --------------------------------------------------------------------------------------------------------


class Records(logging.Handler):
    """Keeps every record it sees, formatted, so tests can search the text a log file would hold."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[str]:
        return [self.format(r) for r in self.records]  # with tracebacks, as a log file would have them

    def errors(self) -> list[logging.LogRecord]:
        """Records at ERROR or above, or carrying a traceback."""
        return [r for r in self.records if r.levelno >= logging.ERROR or r.exc_info]

    def at(self, level: int, name: str = "") -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno == level and r.name.startswith(name)]


@contextmanager
def captured_logs(level: int = logging.INFO, *, everything: bool = False) -> Iterator[Records]:
    """Attach a Records handler to the root logger at ``level``. With ``everything``, also open every
    ``discord.*`` logger to ``level`` (the launcher quiets ``discord.http``; here nothing is quieted)."""
    handler = Records()
    root = logging.getLogger()
    saved = root.level
    quiet: dict[str, int] = {}
    if everything:
        for name in list(logging.root.manager.loggerDict) + ["discord", "discord.http", "discord.gateway"]:
            if name.startswith("discord"):
                lg = logging.getLogger(name)
                quiet[name] = lg.level
                lg.setLevel(logging.NOTSET)
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)
        for name, lvl in quiet.items():
            logging.getLogger(name).setLevel(lvl)


def describe(records: list[logging.LogRecord]) -> str:
    return "\n".join(f"{r.levelname} {r.name}: {r.getMessage()}" for r in records[:10])


# --- the bot ---------------------------------------------------------------------------------------------------


def make_settings(fd: FakeDiscord, corpus: Path, **overrides: object) -> Settings:
    values: dict = dict(discord_token=TOKEN, guild_id=fd.guild_id, corpus_dir=corpus, moderator_role_ids=(),
                        ask_cooldown_rate=1000, ask_cooldown_seconds=1.0) | overrides
    return Settings(_env_file=None, **values)


async def start_bot(fd: FakeDiscord, corpus: Path, *, service: StoryService | None = None,
                    options: dict | None = None, **overrides: object) -> discord.Client:
    """The real bot, as the e2e tests start it, connected to ``fd``; ``options`` go to discord.py."""
    bot = create_bot(service or StoryService.open(corpus), make_settings(fd, corpus, **overrides),
                     **({"guild_ready_timeout": 0.05} | (options or {})))
    await fd.start_bot(bot, TOKEN)
    return bot


def plain(text: str) -> str:
    """What Discord shows for escaped markdown: a backslash escapes any character but a letter, digit or space."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and _escapable(text[i + 1]):
            out.append(text[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _escapable(c: str) -> bool:
    return not (c.isascii() and c.isalnum()) and not c.isspace()


def quote_text(final) -> str:
    return " ".join(e.get("description", "") for e in final.embeds)


# --- corpora ---------------------------------------------------------------------------------------------------

FOLLOW_UP = ("---\ntitle: Iran agrees to send the black boxes abroad\npublished: 2020-07-18\nid: follow-up\n---\n"
             "On July 18, 2020, Iran said the flight recorders would be sent to France.\n")
BROKEN = "---\ntitle: Broken\npublished: 2020-13-45\n---\nText.\n"

_VOCAB = ("embassy Tehran Canada flight minister talks sanctions families victims Iran Ottawa Ukraine "
          "investigation compensation diplomats consular relations aviation missile airline").split()


def synthetic_story(i: int, rnd: random.Random, paragraphs: int = 12, words: int = 60) -> str:
    body = []
    for p in range(paragraphs):
        text = " ".join(rnd.choice(_VOCAB) + (f"{rnd.randrange(10_000)}" if rnd.random() < 0.3 else "")
                        for _ in range(words))
        body.append(f"{text}. On Jan. {p % 28 + 1}, 2020, event {i}-{p} was reported.")
    front = f"---\ntitle: Synthetic story {i}\npublished: 2020-02\nid: synthetic-{i:05d}\n---\n"
    return front + "\n\n".join(body) + "\n"


def write_synthetic(folder: Path, count: int, *, seed: int = 5, start: int = 0) -> None:
    rnd = random.Random(seed)
    for i in range(start, start + count):
        (folder / f"synthetic-{i:05d}.md").write_text(synthetic_story(i, rnd), encoding="utf-8")


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


async def ask_stream(fd: FakeDiscord, members: list[MemberRecord], questions: list[str], count: int, rate: float,
                     out: list[InteractionRecord]) -> None:
    """``count`` /ask interactions at ``rate`` a second (absolute schedule), appended to ``out`` as sent."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i in range(count):
        delay = t0 + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        out.append(await fd.slash("ask", {"question": questions[i % len(questions)]}, user=members[i % len(members)]))
