"""What tests/core/test_workers.py runs in worker processes.

A spawned worker imports the module its function lives in before it can call it. These functions live in a
module of their own that imports nothing but the standard library, so that a worker starts in about 0.1 s of
CPU instead of the 0.4 s that importing the test module (the service, the synthetic archive) costs it.
"""

from __future__ import annotations

import os
import signal
import time


def pid_and(x: int) -> tuple[int, int]:
    return os.getpid(), x * 2


def niceness(_: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


def sleep_then(x: int) -> int:
    time.sleep(x)
    return x


def exit_with(code: int) -> None:
    if code:
        os._exit(code)
    time.sleep(60)


def killed(_: int) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def raises(_: int) -> None:
    raise ValueError("a story the worker could not cope with")


def dies(*_: object) -> None:
    os._exit(7)


def hangs(*_: object) -> None:
    time.sleep(600)
