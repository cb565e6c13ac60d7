"""What can go wrong with the store file itself, each as one sentence a person can act on.

SQLite reports these as ``sqlite3`` errors with terse texts (``database is locked``, ``file is
not a database``, ``database or disk is full``); the store turns them into a :class:`StoreError`
whose message names the file and what to do, so a page shows one line and a command prints one
line and exits.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.store import disk_space


class StoreError(Exception):
    """The store cannot be used right now; ``message`` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StoreBusy(StoreError):
    """Another process held the store's write lock for longer than this one would wait."""


class StoreDamaged(StoreError):
    """The store file is not a SQLite database, or its pages are damaged."""


class StoreReplaced(StoreError):
    """The store file was deleted or replaced by another store while this process used it."""


class StoreFull(StoreError):
    """The disk holding the store file has no room for a write (SQLite rolled it back)."""


# Fragments of SQLite's own messages, lower case, for each kind of trouble.
_BUSY = ("database is locked", "database is busy", "database table is locked")
_DAMAGED = ("file is not a database", "database disk image is malformed", "file is encrypted")
# SQLite's primary result codes (the low byte of an extended code such as SQLITE_IOERR_SHMSIZE).
_SQLITE_IOERR, _SQLITE_FULL = 10, 13
# On a disk this full, an I/O error is the disk being full: SQLite reports a WAL or shared-memory
# file it cannot grow as SQLITE_IOERR, not SQLITE_FULL.
_NEARLY_FULL_BYTES = 2**20


def busy(path: Path, waited_s: float) -> StoreBusy:
    """The error for a write lock held past ``waited_s`` seconds by another process."""
    return StoreBusy(
        f"The store {path} is busy: another process has held its write lock for over "
        f"{waited_s:g} s (a paused or stuck worker or command?). Nothing was changed; try again "
        "in a moment, or resume or stop that process."
    )


def damaged(path: Path, detail: str, backup: Path | None) -> StoreDamaged:
    """The error for a store file SQLite cannot read, naming the latest backup if any."""
    restore = (
        f"The latest backup is {backup}: copy it to {path} to go back to it."
        if backup is not None
        else "There is no backup of it yet; moving it aside starts an empty store."
    )
    return StoreDamaged(
        f"The store {path} is damaged ({detail}). Stop the app and its worker, move the file "
        f"aside (for example to {path.with_name(path.stem + '.damaged' + path.suffix)}), and "
        f"start again. {restore}"
    )


def replaced(path: Path) -> StoreReplaced:
    """The error for a store file deleted or swapped for another while in use."""
    return StoreReplaced(
        f"The store {path} was deleted or replaced by another store while this process was "
        "using it; it stops here so that nothing is written into the new one."
    )


def full(path: Path) -> StoreFull:
    """The error for a write the disk had no room for, with the space free beside the store."""
    free = disk_space.free_bytes(path.parent) / 2**20
    return StoreFull(
        f"Not enough disk space to write to the store {path}: {free:.1f} MB is free there; "
        f"nothing was changed. {disk_space.HINT}"
    )


def is_full(exc: sqlite3.Error, path: Path) -> bool:
    """True if SQLite could not write ``path`` (or its WAL) because the disk is full."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    if primary == _SQLITE_FULL or "database or disk is full" in str(exc).lower():
        return True
    io_error = primary == _SQLITE_IOERR or "disk i/o error" in str(exc).lower()
    return io_error and disk_space.free_bytes(path.parent) < _NEARLY_FULL_BYTES


def is_busy(exc: sqlite3.Error) -> bool:
    """True if SQLite gave up waiting for a lock."""
    return isinstance(exc, sqlite3.OperationalError) and any(
        text in str(exc).lower() for text in _BUSY
    )


def is_damaged(exc: sqlite3.Error) -> bool:
    """True if SQLite found the file is not a database it can read."""
    return isinstance(exc, sqlite3.DatabaseError) and any(
        text in str(exc).lower() for text in _DAMAGED
    )
