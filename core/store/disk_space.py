"""A full disk while a run saves its files: one sentence a person can act on, no half files.

A trial writes its checkpoints, TensorBoard logs, model, weights and ``config.json`` into its
run folder (``runs/<study>/<trial>/``). When the disk fills mid-write, the error arrives in
several costumes: an ``OSError`` with ``errno`` 28 (Python's files, ``zipfile``, NumPy, PIL,
h5py), or a TensorFlow ``ResourceExhaustedError`` from its C++ file writers that carries no
errno, only the words "No space left on device". :func:`saving` wraps one save: when it fails,
the files that save had begun are removed, and when it failed for want of space it raises
:class:`DiskFull`, whose message names the folder, about how much the save needed and how much
is free. No TensorFlow here: the command line and the worker catch :class:`DiskFull` by name.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

# Errors that mean "no room": the disk is full, or this user's quota is.
_NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
# How writers that drop the errno (TensorFlow's C++ file writers) still say it.
_NO_SPACE_TEXT = "no space left on device"
_MB = 2**20
HINT = "Free some space (old runs, cache/old, checkpoints) and run it again."


class DiskFull(Exception):
    """A save ran out of disk space; ``message`` names the folder, the space needed and free.

    Args:
        message: The sentence to show.
        folder: The folder that is full.
    """

    def __init__(self, message: str, folder: Path) -> None:
        super().__init__(message)
        self.message = message
        self.folder = folder


def is_no_space(exc: BaseException) -> bool:
    """True if ``exc``, or an exception it was raised from, says the disk (or quota) is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskFull):
            return True
        if isinstance(current, OSError) and current.errno in _NO_SPACE_ERRNOS:
            return True
        if _NO_SPACE_TEXT in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False


def free_bytes(folder: Path) -> int:
    """Bytes free for this user on the disk holding ``folder`` (or its nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return 0


def disk_full(folder: Path, what: str, needed: int | None = None) -> DiskFull:
    """The error for a save of ``what`` into ``folder`` that found too little space.

    Args:
        folder: Where the save wrote.
        what: What it saved, as a person names it ("the model", "the TensorBoard logs").
        needed: About how many bytes the save needs, if known.
    """
    free = f"{free_bytes(folder) / _MB:.1f} MB is free"
    need = f"it needs about {needed / _MB:.1f} MB and {free}" if needed else free
    return DiskFull(f"Not enough disk space to save {what} in {folder}: {need}. {HINT}", folder)


def remove(paths: Iterable[Path]) -> None:
    """Delete these files if they are there; one that cannot be deleted is left (best effort)."""
    for path in paths:
        with suppress(OSError):
            path.unlink(missing_ok=True)


@contextmanager
def saving(
    folder: Path, what: str, needed: int | None, partial: Iterable[Path] = ()
) -> Iterator[None]:
    """One save into ``folder``: on any failure its ``partial`` files go; a full disk is one line.

    Args:
        folder: Where the save writes.
        what: What it saves, for the message ("the model").
        needed: About how many bytes it needs (for the message).
        partial: The files it writes, removed if it fails, so that nothing later (a fork, an
            export) reads half a file.

    Raises:
        DiskFull: when the save failed for want of space (raised from the original error).
    """
    files = list(partial)
    try:
        yield
    except DiskFull:
        remove(files)
        raise
    except BaseException as exc:
        remove(files)
        if is_no_space(exc):
            # Measured after the half-written files are gone: what a person sees if they look.
            raise disk_full(folder, what, needed) from exc
        raise
