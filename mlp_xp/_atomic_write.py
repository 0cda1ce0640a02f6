"""Crash-safe replacement of a file's content.

Readers, and whoever looks after a crash or a ``SIGKILL``, see the old content or
the new one, never a mixture: the new content goes to a temporary file in the
target's folder, is flushed and fsynced, then renamed over the target (an atomic
replacement), and the folder is fsynced so that the rename itself is durable.
Of several writers of one target, the last rename wins: one complete file.

Killed writers leave no temporary files piling up.  On Linux the temporary file
has no name while it is written (``O_TMPFILE``): a writer killed then leaves
nothing.  It gets a name (``linkat`` through ``/proc/self/fd``) only for the
instant before the rename.  Named temporaries, there and where the OS has no
unnamed files, are named after the target and their writer's process id,
``.<target name>.<pid>-<random>.tmp`` (the target's name shortened to keep
within 255 bytes), and every write removes those of the same target whose
writer no longer runs (on POSIX, where a process can be asked whether it runs).

A symbolic link is followed: the file it points to is replaced and the link
kept.  A replaced file keeps its permission bits; a new one gets the umask's.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

_NAME_MAX = 255  # bytes in a file name, on the common file systems
_SUFFIX_MAX = len(".4294967295-0123456789abcdef.tmp")  # the longest ".<pid>-<random>.tmp"


def write_atomically(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Replace the content of ``target`` by what ``write(file)`` writes, crash-safely.

    On any error (or interruption) the old content is left as it was and the
    temporary file is removed; the error propagates.
    """
    target = Path(os.path.realpath(target))
    mode = _permission_bits(target)
    prefix = _temporary_prefix(target.name)
    _remove_dead_writers_temporaries(target.parent, prefix)
    temporary = target.with_name(f"{prefix}{os.getpid()}-{secrets.token_hex(8)}.tmp")
    try:
        descriptor, name = _create(temporary)
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
            name(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def _create(temporary: Path) -> tuple[int, Callable[[int], None]]:
    """A descriptor open for writing on a new file, and how to give that file the name
    ``temporary`` once written: unnamed until then where Linux offers it, else
    created with that name."""
    if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):
        try:
            descriptor = os.open(temporary.parent, os.O_TMPFILE | os.O_WRONLY, 0o666)
        except OSError:  # a file system without unnamed files: fall back to a name
            pass
        else:
            return descriptor, lambda fd: _link(fd, temporary)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(temporary, flags, 0o666), lambda fd: None


def _link(descriptor: int, temporary: Path) -> None:
    """Name the unnamed file open as ``descriptor``: linkat through ``/proc/self/fd``.

    A destination folder descriptor makes ``os.link`` call ``linkat`` with
    ``AT_SYMLINK_FOLLOW`` (plain ``link`` would link /proc's symbolic link itself).
    """
    folder = os.open(temporary.parent, os.O_RDONLY)
    try:
        os.link(f"/proc/self/fd/{descriptor}", temporary.name, dst_dir_fd=folder)
    finally:
        os.close(folder)


def _permission_bits(target: Path) -> int | None:
    """The permission bits of the file ``target``, or None if there is none."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return None


def _temporary_prefix(name: str) -> str:
    """``.<name>.``, ``name`` shortened so that a temporary's name fits in 255 bytes."""
    while len(os.fsencode(f".{name}.")) > _NAME_MAX - _SUFFIX_MAX:
        name = name[:-1]
    return f".{name}."


def _remove_dead_writers_temporaries(folder: Path, prefix: str) -> None:
    """Remove the temporaries named ``<prefix><pid>-<random>.tmp`` whose writer has died."""
    pattern = re.compile(re.escape(prefix) + r"([0-9]{1,10})-[0-9a-f]{16}\.tmp")
    try:
        names = os.listdir(folder)
    except OSError:  # an unreadable folder: nothing to tidy, and the write may still work
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match and not _runs(int(match[1])):
            (folder / name).unlink(missing_ok=True)


def _runs(pid: int) -> bool:
    """Whether process ``pid`` may still run: False only when POSIX says it does not."""
    if os.name != "posix" or pid == 0:  # elsewhere os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # another user's process, or not a process id
        return True
    return True


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; elsewhere the rename is enough)."""
    if os.name == "posix":
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
