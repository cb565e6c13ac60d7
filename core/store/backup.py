"""Rotating backups of the store file, taken with SQLite's online backup API.

The worker takes one when it starts and then at most once an hour between trials; the newest
``KEEP`` are kept in ``cache/backups/``. A backup is a consistent copy even while other
processes write (SQLite copies the pages under its own locks), and a damaged store's message
names the newest one (``core.store.errors.damaged``).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

logger = logging.getLogger(__name__)

FOLDER = "backups"
KEEP = 3
EVERY_S = 3600.0
# A backup that failed (a full disk, say) is tried again after this long.
RETRY_S = 300.0

# When the next backup of each (store file, interval) falls due, as this process last found.
_due: dict[tuple[str, float], float] = {}


def backup_dir(store_path: Path) -> Path:
    """The folder that holds a store file's backups."""
    return store_path.parent / FOLDER


def latest(store_path: Path) -> Path | None:
    """The newest backup of a store file, or None if there is none."""
    found = _backups(store_path)
    return found[-1] if found else None


def _backups(store_path: Path) -> list[Path]:
    folder = backup_dir(store_path)
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"{store_path.stem}-*.sqlite"))


def take(store_path: Path, keep: int = KEEP) -> Path:
    """Copy the store file into its backup folder now; keep the newest ``keep`` copies.

    Returns:
        The new backup.
    """
    folder = backup_dir(store_path)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{store_path.stem}-{time.strftime('%Y%m%d-%H%M%S')}.sqlite"
    partial = target.with_suffix(".partial")
    source = sqlite3.connect(store_path.resolve().as_uri() + "?mode=ro", uri=True, timeout=30.0)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    partial.replace(target)  # a copy cut short never passes for a backup
    for old in _backups(store_path)[:-keep]:
        old.unlink(missing_ok=True)
    return target


def take_if_due(store_path: Path, every_s: float = EVERY_S) -> Path | None:
    """Take a backup unless the newest is younger than ``every_s``; never raises.

    The worker asks between every two polls: once it knows when the next backup falls due
    it answers from memory until then, touching no file. A backup that could not be taken is
    tried again after ``RETRY_S``, not at every poll.

    Returns:
        The new backup, or None when none was due or it could not be taken (logged).
    """
    key = (str(store_path), every_s)
    if time.time() < _due.get(key, 0.0):
        return None
    newest = latest(store_path)
    if newest is not None:
        due = newest.stat().st_mtime + every_s
        if time.time() < due:
            _due[key] = due
            return None
    try:
        taken = take(store_path)
    except (OSError, sqlite3.Error) as exc:
        logger.warning("could not back up %s: %s", store_path, exc)
        _due[key] = time.time() + min(RETRY_S, every_s)
        return None
    _due[key] = time.time() + every_s
    return taken
