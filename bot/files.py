"""Opening the files storybot reads (stories, the index cache) so that nothing can hang or mislead a read.

A name listed a moment ago may be, by the time it is opened, a named pipe (FIFO), a device, a folder or a
link to nothing: ``open_regular`` opens without blocking (a FIFO with no writer does not wait for one), then
checks what was opened (fstat, so no swap between a check and the open can fool it) and refuses anything that
is not a regular file, with a reason a moderator can act on.
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import contextmanager
from typing import BinaryIO, Iterator

from .display import shown

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class NotAFile(OSError):
    """The name is not a regular file (or cannot be opened); ``strerror`` says what it is instead."""


def kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


@contextmanager
def folder_fd(folder: str | os.PathLike[str]) -> Iterator[int | None]:
    """``folder`` opened as a directory, to open its files by name (``dir_fd=``) without its path being looked
    up again for each; None when it cannot be opened (each file then says why it cannot be read)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def open_regular(path: str | os.PathLike[str], *, dir_fd: int | None = None) -> BinaryIO:
    """``path`` opened for reading in binary, or NotAFile saying why not (a broken or looping link, a FIFO,
    a device, a folder, no permission...)."""
    fd, _ = open_regular_fd(path, dir_fd=dir_fd)
    try:
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_regular_fd(path: str | os.PathLike[str], *, dir_fd: int | None = None) -> tuple[int, os.stat_result]:
    """``open_regular``'s file descriptor (the caller closes it) and its ``fstat``: for a caller that reads a
    whole file at once, a file object around it only adds system calls (``fstat``, ``isatty``)."""
    try:
        fd = os.open(path, _FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise NotAFile(exc.errno, _why(path, exc, dir_fd)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotAFile(errno.EINVAL, f"is {kind(st.st_mode)}, not a file")
        return fd, st
    except BaseException:
        os.close(fd)
        raise


def read_fd(fd: int, limit: int, size: int) -> bytes:
    """Up to ``limit`` bytes of ``fd``, read until the end of the file as a file object's ``read(limit)``
    reads; ``size`` is how large the file is expected to be (its ``fstat``), so that the first read asks for
    no more than that (a read allocates all it asks for) and the next one finds the end."""
    chunks = []
    want = min(limit, size + 1)
    while limit > 0:
        chunk = os.read(fd, want)
        if not chunk:
            break
        chunks.append(chunk)
        limit -= len(chunk)
        want = min(limit, 1 << 16)
    return b"".join(chunks)


def _why(path: str | os.PathLike[str], exc: OSError, dir_fd: int | None) -> str:
    if exc.errno == errno.ELOOP:
        return "is a symbolic link that loops (it points, in the end, back to itself)"
    if exc.errno == errno.ENOENT:
        try:
            target = os.readlink(path, dir_fd=dir_fd)
        except OSError:
            return "does not exist"
        return f"is a symbolic link to {shown(target)}, which does not exist"
    if exc.errno == errno.EISDIR:
        return "is a folder, not a file"
    return f"cannot read the file ({exc.strerror or exc})"


def read_regular(path: str | os.PathLike[str], limit: int, *, dir_fd: int | None = None) -> bytes:
    """At most ``limit`` + 1 bytes of a regular file (one more than ``limit`` says it is larger)."""
    fd, st = open_regular_fd(path, dir_fd=dir_fd)
    try:
        return read_fd(fd, limit + 1, st.st_size)
    finally:
        os.close(fd)
