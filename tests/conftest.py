from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import types
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
QUESTIONS = Path(__file__).resolve().parent / "data" / "questions"


# --- running in parallel: pytest-xdist's workers, and the tests that must run alone ------------------------------


class Turns:
    """Whose turn it is among the test processes of one run (pytest-xdist's workers): any number of ordinary
    tests at once, or one test marked ``alone`` (a timing-sensitive one) and nothing else.

    A readers-writer lock of two ``flock`` files in the folder the workers share: ordinary tests hold ``room``
    shared for the whole of their set-up, call and teardown; a test marked ``alone`` holds it exclusively for
    its call only (its fixtures are made while others run). Whoever waits for ``room`` holds ``gate`` while
    it waits, so a test waiting to run alone is not kept waiting by a stream of ordinary ones. A worker that
    dies lets go of both with its files."""

    def __init__(self, folder: Path) -> None:
        self.gate: IO = open(folder / "turns.gate", "a")
        self.room: IO = open(folder / "turns.room", "a")

    @contextmanager
    def _hold(self, how: int) -> Iterator[None]:
        fcntl.flock(self.gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self.room, how)
        finally:
            fcntl.flock(self.gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(self.room, fcntl.LOCK_UN)

    def shared(self):
        return self._hold(fcntl.LOCK_SH)

    def alone(self):
        return self._hold(fcntl.LOCK_EX)


TURNS = pytest.StashKey[Turns]()


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and workerinput.get("workercount", 1) > 1 and config.option.basetemp:
        config.stash[TURNS] = Turns(Path(config.option.basetemp).parent)  # the run's folder, above each worker's


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    turns = item.config.stash.get(TURNS, None)
    if turns is None or item.get_closest_marker("alone"):
        return (yield)
    with turns.shared():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    turns = item.config.stash.get(TURNS, None)
    if turns is None or not item.get_closest_marker("alone"):
        return (yield)
    with turns.alone():
        return (yield)


def write_story(folder: Path, name: str, body: str = "First paragraph.\n\nSecond paragraph.", **front: object) -> Path:
    """Write a story file; front matter defaults to a valid title and date."""
    front = {"title": "A story", "published": "2020-02", **front}
    header = "\n".join(f"{k}: {json.dumps(str(v))}" for k, v in front.items() if v is not None)
    path = folder / name
    path.write_text(f"---\n{header}\n---\n{body}\n", encoding="utf-8")
    return path


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


# --- time ----------------------------------------------------------------------------------------------------


def shortened_sleeps(monkeypatch: pytest.MonkeyPatch, module: types.ModuleType, factor: float = 100) -> list[float]:
    """Make ``asyncio.sleep`` as ``module`` sees it (through its own reference to asyncio) ``factor`` times
    shorter; returns the delays it was asked for. Only that module's waits shrink: everything else keeps its
    real timing."""
    asked: list[float] = []

    async def sleep(delay: float, result: object = None) -> object:
        asked.append(delay)
        return await asyncio.sleep(delay / factor, result)

    monkeypatch.setattr(module, "asyncio", types.SimpleNamespace(**(vars(asyncio) | {"sleep": sleep})))
    return asked


# --- PostgreSQL: a throwaway cluster on a free port, started once per test run -------------------------------


def postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL's binaries (initdb, pg_ctl), or None when none is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[dict]:
    """A PostgreSQL server of our own: initdb in a temporary folder, pg_ctl start on a free port of 127.0.0.1
    (as the ``postgres`` user when we are root, since PostgreSQL refuses to run as root), stopped at the end.

    Skipped only where PostgreSQL is not installed, and never in CI (CI=true), where .ci/run installs it."""
    bindir = postgres_bindir()
    if bindir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not installed, and CI must run the PostgreSQL tests (.ci/run installs it)")
        pytest.skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
                    "`apt-get install postgresql` to run these tests")
    root = Path(tempfile.mkdtemp(prefix="storybot-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root and there is no 'postgres' user to run PostgreSQL as")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data = root / "data"

    def run(*args: object) -> None:
        done = subprocess.run([*run_as, *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              cwd=root)  # a folder the postgres user may enter, wherever the tests run from
        if done.returncode:
            log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr}{done.stdout}\n{log}")

    try:
        run(bindir / "initdb", "-D", data, "-U", "storybot", "--auth=trust", "-E", "UTF8", "--locale=C",
            "--no-sync")
        for attempt in range(3):  # a port found free may be taken before the server binds it (another worker's)
            port = _free_port()
            try:
                run(bindir / "pg_ctl", "-D", data, "-l", root / "server.log", "-w", "-t", "60", "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
                    "start")
                break
            except RuntimeError:
                if attempt == 2:
                    raise
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        yield {"host": "127.0.0.1", "port": port, "user": "storybot", "bindir": bindir, "data": data,
               "pg_ctl": lambda *a: run(bindir / "pg_ctl", "-D", data, "-l", root / "server.log", *a),
               "createdb": lambda name: create_database(port, name)}
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, stdin=subprocess.DEVNULL, cwd=root)
        shutil.rmtree(root, ignore_errors=True)


def create_database(port: int, name: str) -> None:
    """CREATE DATABASE on the test server, over a connection of its own: a twentieth of the time a `createdb`
    process takes (0.05 s, not 0.4 s). In a thread, since a test may ask for a database from inside its
    event loop (``request.getfixturevalue``)."""
    import asyncpg

    async def create() -> None:
        conn = await asyncpg.connect(host="127.0.0.1", port=port, user="storybot", database="postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, create()).result(timeout=60)


@pytest.fixture
def postgres_url(postgres_server: dict) -> str:
    """A fresh, empty database on the test server: ``postgresql+asyncpg://...``."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres_server["createdb"](name)
    return f"postgresql+asyncpg://storybot@127.0.0.1:{postgres_server['port']}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A record database url: SQLite in a temporary folder, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'record.db'}"
    return request.getfixturevalue("postgres_url")


async def settle_sqlite_threads(timeout: float = 2.0) -> None:
    """Wait until aiosqlite's worker threads have finished. A connection that failed to open leaves its thread
    a last request to answer; if the test's event loop closes first, the thread complains that it is closed.
    (A running bot's loop outlives them; only a test's loop ends this soon.)"""
    import threading
    import time

    deadline = time.monotonic() + timeout
    while any("_connection_worker_thread" in t.name for t in threading.enumerate()) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
