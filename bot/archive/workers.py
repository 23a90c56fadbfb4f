"""Worker processes: calls that each run in a fresh interpreter (the spawn method: nothing of this process is
copied), watched while they run.

Not ``ProcessPoolExecutor``: a pool cannot be told to kill a worker that hangs (before Python 3.14), and its
shutdown waits for it. Here a worker that dies is noticed at once (``WorkerDied``), one whose call raises is
reported with the worker's own traceback (``WorkerFailed``), and when the caller gives up (``stop()``), or
anything goes wrong, every worker still running is killed before ``run`` returns. A worker never outlives
this process: it is a daemon (killed when this process exits) and it exits itself if this process dies.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import traceback
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
"""How often ``stop`` is asked while the workers run."""
WORKER_NICENESS = 10
"""How much lower a worker's scheduling priority is than its parent's: on a machine with as many busy
workers as cores, the bot's questions still get a core the moment they need one."""


class BuildFailed(Exception):
    """A worker process did not return its result."""


class WorkerDied(BuildFailed):
    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode
        how = (f"was killed by signal {-exitcode}" if exitcode is not None and exitcode < 0
               else f"exited with code {exitcode}")
        hint = " (running out of memory is the usual cause)" if exitcode == -9 else ""
        super().__init__(f"a build worker process {how} before it finished{hint}")


class WorkerFailed(BuildFailed):
    def __init__(self, summary: str, details: str) -> None:
        self.details = details
        super().__init__(f"a build worker process failed: {summary}")


class Stopped(Exception):
    """The caller gave up (``stop()`` turned true); the workers were killed."""


def run(fn: Callable[..., Any], calls: Sequence[tuple], *, stop: Callable[[], bool] = lambda: False) -> list[Any]:
    """``fn(*args)`` for each ``args`` of ``calls``, each in a worker process of its own, side by side; the
    results in the order of ``calls``. ``fn`` and its arguments and results must pickle (a module-level
    function). Raises WorkerDied, WorkerFailed or Stopped; no worker is left running either way."""
    context = multiprocessing.get_context("spawn")
    niceness = _niceness() + WORKER_NICENESS
    started: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    try:
        for args in calls:
            receive, send = context.Pipe(duplex=False)
            worker = context.Process(target=_serve, args=(send, os.getpid(), niceness, fn, args),
                                     name="storybot-worker", daemon=True)
            worker.start()
            send.close()  # the worker holds the only sending end: a worker that dies closes it
            _set_niceness(worker.pid, niceness)  # at once: its start (imports) is a core's work too
            started.append((worker, receive))
        results: list[Any] = [None] * len(started)
        pending = dict(enumerate(started))
        while pending:
            if stop():
                raise Stopped()
            wait([receive for _, receive in pending.values()], timeout=POLL_SECONDS)
            for i, (worker, receive) in list(pending.items()):
                if not receive.poll():
                    continue
                try:
                    ok, value = receive.recv()
                except EOFError:  # it closed its end without a word: it died
                    worker.join(1.0)
                    raise WorkerDied(worker.exitcode) from None
                if not ok:
                    summary, details = value
                    log.error("a worker process failed:\n%s", details)
                    raise WorkerFailed(summary, details)
                results[i] = value
                del pending[i]
        return results
    finally:
        for worker, receive in started:
            if worker.is_alive():
                worker.kill()
            worker.join(5.0)
            receive.close()


def _serve(send: Connection, parent: int, niceness: int, fn: Callable[..., Any], args: tuple) -> None:
    """In the worker: ``fn(*args)``, its result (or what it raised) sent back. A worker runs at a lower
    priority than its parent, which answers questions while a reload builds (the parent sets it too, as
    soon as the worker starts)."""
    _set_niceness(0, niceness)
    threading.Thread(target=_exit_with, args=(parent,), name="storybot-orphan-watch", daemon=True).start()
    try:
        outcome: tuple[bool, Any] = (True, fn(*args))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises WorkerFailed
        outcome = (False, (f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    send.send(outcome)
    send.close()


def _niceness() -> int:
    try:
        return os.getpriority(os.PRIO_PROCESS, 0)
    except (OSError, AttributeError):
        return 0


def _set_niceness(pid: int | None, niceness: int) -> None:
    """Process ``pid``'s (0: this one's) scheduling niceness, as far as allowed."""
    if pid is None:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, pid, min(niceness, 19))
    except (OSError, AttributeError):  # gone already, or not allowed here: it only costs the parent time
        pass


def _exit_with(parent: int) -> None:
    """End this worker when its parent is gone (killed: no chance to kill its workers)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
