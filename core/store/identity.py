"""A store's identity, and the artifact folders that belong to it.

Each store file holds an id of its own (``meta.store_id``, written when the file is made). The
folders beside it that hold its runs' files (``runs/``: models, checkpoints, TensorBoard logs;
``tuning/``: keras-tuner's projects) carry that id in a ``STORE`` file. When a store opens
its cache folder and finds folders of another store there (the store file was deleted to
reset, or replaced), it moves them aside into ``old/`` before writing anything, so a new run
never mixes with an old run's files and a fork never starts from another store's weights.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from core.store import errors, paths

logger = logging.getLogger(__name__)

MARKER = "STORE"
OWNED = ("runs", "tuning")
ASIDE = "old"


def new_id() -> str:
    """A fresh store id."""
    return uuid.uuid4().hex[:16]


def read_id(db: sqlite3.Connection) -> str | None:
    """The id recorded in a store file, or None for a file from before ids."""
    row = db.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
    return None if row is None else str(row[0])


def write_id(db: sqlite3.Connection, store_id: str) -> None:
    """Record the store's id (inside the caller's write transaction)."""
    db.execute("INSERT OR REPLACE INTO meta VALUES ('store_id', ?)", (store_id,))


def marked_by(folder: Path) -> str | None:
    """The id in an artifact folder's ``STORE`` file, or None when it has none."""
    marker = folder / MARKER
    try:
        return marker.read_text().strip() if marker.is_file() else None
    except OSError:
        return None


@dataclass(frozen=True)
class Owner:
    """The store an artifact folder belonged to when a writer started using it."""

    folder: Path  # the artifact folder (``runs/`` or ``tuning/``)
    store_id: str

    def check(self) -> None:
        """Raise ``StoreReplaced`` when the folder now belongs to another store (or none).

        A process writing files for a run (checkpoints, say) calls this before and after
        each write: a store deleted meanwhile has had its folders moved aside, and the new
        store's folders must never get the old run's files.
        """
        if marked_by(self.folder) != self.store_id:
            raise errors.replaced(paths.store_path(self.folder.parent))


def owner_of(path: Path) -> Owner | None:
    """The store that owns the artifact folder ``path`` lies in, or None outside one."""
    for folder in (path, *path.parents):
        if folder.name in OWNED:
            store_id = marked_by(folder)
            return None if store_id is None else Owner(folder, store_id)
    return None


def bind_folders(root: Path, store_id: str, adopt: bool) -> list[Path]:
    """Make ``root``'s artifact folders this store's, moving another store's aside.

    Args:
        root: The cache folder the store file lives in.
        store_id: This store's id.
        adopt: True when folders without a ``STORE`` file are this store's own (it holds
            runs, and is older than store ids or was opened without its folders): they are
            kept and marked.

    Returns:
        Where the folders moved aside went (empty when nothing moved).
    """
    moved = []
    for name in OWNED:
        folder = root / name
        owner = marked_by(folder)
        if owner == store_id:
            continue
        if folder.exists() and (owner is not None or not adopt) and any(folder.iterdir()):
            moved.append(_move_aside(root, folder, owner))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKER).write_text(store_id + "\n")
    return moved


def _move_aside(root: Path, folder: Path, owner: str | None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = root / ASIDE / f"{stamp}-{owner or 'unknown'}" / folder.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder), str(target))
    logger.warning(
        "%s held the files of another store (%s); moved them to %s",
        folder,
        owner or "from before store ids",
        target,
    )
    return target
