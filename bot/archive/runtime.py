"""Process-wide runtime policy for a process that answers questions while it builds snapshots.

The story core never sets interpreter-wide state; whoever runs the bot (the launcher, the command line)
hands the service a ``Runtime``, and the service calls it at the right moments: ``checkpoint`` while a
corpus loads or builds, ``building`` around a reload, ``write`` for the cache a build leaves, ``release`` after
a swap. A reload runs in a daemon thread of its own (``in_daemon_thread``).
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import os
import sys
import threading
import time
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, ContextManager, Iterator

RELOAD_SWITCH_INTERVAL = 0.0005
"""Python's thread switch interval while a reload runs (the default is 0.005 s).

A reload is CPU-bound Python in a worker thread, and the event loop needs the GIL back after every call that
releases it (numpy releases it often, waiting for the network does too): each time, it waits for the
worker to reach a switch. With 5 ms that made questions asked during a 100k-passage reload take 10 ms
(p50) to 290 ms (max) and the loop lag 300 ms; with 0.5 ms, 4 ms and 30 ms, and the reload is no slower."""


def settle_long_lived() -> None:
    """Collect the young objects' cyclic garbage, then move every object alive into the garbage collector's
    permanent generation (``gc.freeze``), where later collections never walk them.

    A snapshot of an archive is hundreds of thousands of long-lived objects (stories, timeline events,
    dates). Python's full collections walk every tracked object while holding the GIL: measured at 100k
    passages, 0.2 s each, at 300k, 0.57 s; a reload that triggers one stalls the event loop (and Discord's
    heartbeat) that long. Building and loading call this every few thousand stories, so a collection only
    ever walks what was made since. Only the young generations are collected: the old one holds what the
    bot kept between reloads (the question path's memos: 160k objects after 7,000 questions, 75 ms to
    walk), which is frozen as it is. Frozen objects are still freed as usual when nothing refers to them
    (an old snapshot after a reload); only cyclic garbage that is frozen would never be collected, and the
    young collection first keeps that to what was already old garbage: next to nothing.
    """
    gc.collect(1)
    gc.freeze()


@contextmanager
def switch_interval(seconds: float) -> Iterator[None]:
    """Python's thread switch interval at most ``seconds`` for the duration."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, seconds))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


MAX_WORKERS = 4
"""At most this many worker processes build a corpus (one per core)."""
WRITE_PATIENCE = 60.0
"""How long a process that is exiting waits for cache writes still running (one stuck on a dead disk is left)."""
_WRITES: set[threading.Thread] = set()
GIVE_WAY_SECONDS = 0.005
"""How long a checkpoint waits, at most, for the questions being answered to be done."""
SETTLE_SECONDS = 0.05
"""How often, at most, checkpoints settle the garbage collector."""


class Runtime:
    """What a serving process does around snapshots. ``Runtime()`` is the bot's policy; ``Runtime.plain()``
    does nothing process-wide (a library user's, or a test's, default)."""

    def __init__(self, *, switch: float | None = RELOAD_SWITCH_INTERVAL, settle: bool = True,
                 patience: float = 0.5, write_behind: bool = True, workers: int | None = None) -> None:
        self.switch, self.settle, self.patience, self.write_behind = switch, settle, patience, write_behind
        self.workers = workers if workers is not None else min(MAX_WORKERS, os.cpu_count() or 1)
        """How many worker processes may build a corpus (1: none, it is built in this process)."""
        self._answering = 0
        self._count = threading.Lock()
        self._settled = 0.0

    @classmethod
    def plain(cls) -> Runtime:
        return cls(switch=None, settle=False, patience=0.0, write_behind=False, workers=1)

    def write(self, save: Callable[[], object]) -> None:
        """Write a cache: at once (plain), or while the new corpus already serves, in a thread of its own
        (0.3 to 1 s at 100k passages; the write is atomic, and a reload meanwhile reuses the cache before
        it). A process that exits first waits for it, up to ``WRITE_PATIENCE`` seconds."""
        if not self.write_behind:
            save()
            return

        def run() -> None:
            try:
                save()
            finally:
                _WRITES.discard(threading.current_thread())

        thread = threading.Thread(target=run, name="storybot-cache-write", daemon=True)
        _WRITES.add(thread)
        thread.start()

    @staticmethod
    def wait_for_writes(timeout: float | None = None) -> bool:
        """Wait for cache writes still running; True when none is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(_WRITES):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in list(_WRITES))


    @contextmanager
    def answering(self) -> Iterator[None]:
        """Around each question: checkpoints give way to it."""
        with self._count:
            self._answering += 1
        try:
            yield
        finally:
            with self._count:
                self._answering -= 1

    def checkpoint(self) -> None:
        """Called every few stories, or every few thousand lines of text, while a corpus loads or builds, and
        once it is built: gives way to the questions being answered meanwhile (for ``GIVE_WAY_SECONDS`` at
        most), and every ``SETTLE_SECONDS`` settles the garbage collector (``settle_long_lived``).

        Giving way matters more than the switch interval: a question's search releases the GIL in each of
        its numpy calls, and each time a reload running Python takes it, the question waits a switch interval
        to get it back; twenty such waits a question, and at 200 questions a second the event loop falls
        behind (100-300 ms at the end of a 300k-passage reload). With a checkpoint every few stories, the
        reload takes the GIL for microseconds, sees a question being answered, and sleeps until it is done."""
        if self._answering:
            deadline = time.monotonic() + GIVE_WAY_SECONDS
            while self._answering and time.monotonic() < deadline:
                time.sleep(0.0001)
        if self.settle and time.monotonic() - self._settled >= SETTLE_SECONDS:
            settle_long_lived()
            self._settled = time.monotonic()

    def building(self) -> ContextManager[None]:
        """Around a reload in a worker thread."""
        return nullcontext() if self.switch is None else switch_interval(self.switch)

    def release(self, old: object) -> None:
        """Wait (briefly) until no question in flight still holds the old snapshot, so that the caller's
        reference is the last one and freeing it (hundreds of thousands of objects: 0.1 s at 300k passages)
        happens in the reload's thread, not on the event loop where the last question would drop it."""
        deadline = time.monotonic() + self.patience
        while sys.getrefcount(old) > 3 and time.monotonic() < deadline:  # the caller's, ours, getrefcount's
            time.sleep(0.002)


atexit.register(Runtime.wait_for_writes, WRITE_PATIENCE)  # daemon threads still run when atexit's handlers do


def in_daemon_thread(threads: set[threading.Thread], fn: Callable[..., Any], *args: Any) -> asyncio.Future:
    """``fn(*args)`` in a daemon thread of its own, as a future of the running loop. Not asyncio.to_thread:
    its pool's threads are joined when the loop closes, so one stuck reload would hang the shutdown, and a
    few would leave no thread for the next reload."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(ok: bool, value: object) -> None:
        if not future.done():
            future.set_result(value) if ok else future.set_exception(value)  # type: ignore[arg-type]

    def run() -> None:
        try:
            outcome = (True, fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits the future
            outcome = (False, exc)
        finally:
            threads.discard(threading.current_thread())
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            pass

    thread = threading.Thread(target=run, name="storybot-reload", daemon=True)
    threads.add(thread)
    thread.start()
    return future
