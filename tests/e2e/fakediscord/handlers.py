"""Knowing when the bot has finished with an event: every task created on the loop is recorded with the task
that created it, so that the harness can tell discord.py's handler tasks for an event (and every task they
start) from the rest, and wait for them to end instead of waiting for a fixed quiet time."""

from __future__ import annotations

import asyncio
from typing import Any, List, Optional, Tuple

HANDLER_NAMES = ("CommandTree-invoker", "discord-ui-view-dispatch-", "discord-ui-dynamic-item-",
                 "discord-ui-modal-dispatch-", "discord-ui-view-timeout-", "discord.py: on_")
"""The names discord.py gives the tasks that run an event's handlers (app commands, a view's or a modal's
callback, a dynamic item, a view's ``on_timeout``, an ``on_...`` listener)."""


class TaskLog:
    """Installed as the loop's task factory while FakeDiscord runs (and chained to any factory already there)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.spawned: List[Tuple[asyncio.Task[Any], Optional[asyncio.Task[Any]]]] = []
        """Every task created since install(), with the task that was running when it was created."""
        self._saved: Any = None

    def install(self) -> None:
        self._saved = self.loop.get_task_factory()
        self.loop.set_task_factory(self._factory)

    def uninstall(self) -> None:
        if self.loop.get_task_factory() == self._factory:
            self.loop.set_task_factory(self._saved)
        self.spawned.clear()

    def _factory(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        saved = self._saved
        task = saved(loop, coro, **kwargs) if saved is not None else asyncio.Task(coro, loop=loop, **kwargs)
        self.spawned.append((task, asyncio.current_task(loop)))
        return task

    def mark(self) -> int:
        """A position in the log: handlers created after it are those of events sent after it."""
        return len(self.spawned)

    def handling(self, since: int) -> Tuple[bool, List[asyncio.Task[Any]]]:
        """Whether any handler task was created since ``since``, and which of them, or of the tasks they
        started (however deep), are still running. The task that waits for a view's timeout is left out: it
        sleeps for minutes and changes nothing until then (the ``on_timeout`` it starts is a handler)."""
        tracked: set = set()
        seen, running = False, []
        for task, parent in self.spawned[since:]:
            if parent in tracked or task.get_name().startswith(HANDLER_NAMES):
                if _is_view_timeout(task):
                    continue
                tracked.add(task)
                seen = True
                if not task.done():
                    running.append(task)
        return seen, running


def _is_view_timeout(task: asyncio.Task[Any]) -> bool:
    return getattr(task.get_coro(), "__qualname__", "").endswith("__timeout_task_impl")
